"""mappings/next-steps.yaml: every criterion a policy can report says what to do next, in data."""

from __future__ import annotations

import pytest

from cds_service.codes import Terminology
from cds_service.next_steps import load
from cds_service.policy_store import PolicyStore

STORE = PolicyStore.load()
STEPS = load()


def _leaves():
    for policy in STORE.all():
        for leaf in policy.reportable_leaves():
            yield f"{policy.policy}@{policy.version}:{leaf.id}", leaf
            if leaf.applies_if is not None:
                yield f"{policy.policy}@{policy.version}:{leaf.id}:applies_if", leaf.applies_if


LEAVES = dict(_leaves())


@pytest.mark.parametrize("where", sorted(LEAVES))
def test_every_leaf_of_every_policy_has_a_next_step_for_undocumented_and_for_contradicted(where):
    step = STEPS.step(LEAVES[where])
    assert step is not None, (
        f"{where}: no next step in mappings/next-steps.yaml for fact {LEAVES[where].fact} {LEAVES[where].params}"
    )
    for text in (step.unknown, step.not_met):
        assert text.strip() and "{" not in text and "}" not in text, text


def test_a_therapy_step_names_the_therapy_in_words_not_its_class_code():
    leaf = next(
        l
        for l in LEAVES.values()
        if l.fact == "therapy_failed_duration" and l.params["class"] == "conservative-any"
    )
    step = STEPS.step(leaf)
    assert "conservative treatment (medications, physical therapy" in step.unknown
    assert "conservative-any" not in step.unknown


def test_a_flag_step_is_chosen_by_the_flag_code():
    agreed = next(
        l for l in LEAVES.values() if l.fact == "flag" and l.params["code"] == "opioid-reduction-agreed"
    )
    habitus = next(
        l for l in LEAVES.values() if l.fact == "flag" and l.params["code"] == "body-habitus-adequate"
    )
    assert "agreement to a 50 % reduction of systemic opioids" in STEPS.step(agreed).unknown
    assert "body size can support the weight and bulk of the pump" in STEPS.step(habitus).unknown


def test_an_unknown_param_value_gets_no_step_rather_than_another_codes_text():
    leaf = next(l for l in LEAVES.values() if l.fact == "flag").model_copy(
        update={"params": {"code": "no-such-flag"}}
    )
    assert STEPS.step(leaf) is None


def test_the_suggested_psychological_evaluation_codes_are_the_ones_the_record_is_read_with():
    """SNOMED 90407005 / CPT 90791 (clinical-data contract): once performed, the fact sees the evaluation."""
    t = Terminology()
    leaf = next(l for l in LEAVES.values() if l.fact == "psych_evaluation")
    order = STEPS.step(leaf).order
    assert order is not None and {(s, c) for s, c, _ in order.codes} == {
        ("snomed", "90407005"),
        ("cpt", "90791"),
    }
    for system, code, _ in order.codes:
        concept = {"coding": [{"system": STEPS.system_uri(system), "code": code}]}
        assert t.in_set(concept, order.value_set), (system, code)


def test_override_reasons_are_codings_of_one_system():
    reasons = STEPS.override_reasons
    assert len(reasons) >= 3 and len({r["system"] for r in reasons}) == 1
    assert all(r["code"] and r["display"] for r in reasons)
