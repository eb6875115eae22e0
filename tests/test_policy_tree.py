"""The policy tree walks itself, and a policy finds the criteria an assessment reads once
(cds_service/policy_tree.py, Policy.criteria_for): the engine, the checklist, the README
table and the questionnaires all read the same tree, contraindications merged the same way."""

from __future__ import annotations

import pytest

from cds_service.engine import evaluate
from cds_service.policy_model import (
    All,
    AnyOf,
    Deferred,
    Indication,
    Leaf,
    Not,
    Phase,
    PhaseRule,
    Policy,
    Ref,
)
from cds_service.policy_store import PolicyStore
from cds_service.questionnaire.uses import leaf_uses

STORE = PolicyStore.load()


def _leaf(i: str) -> Leaf:
    return Leaf(id=i, text=f"criterion {i}", source="s", fact="active_infection", op="is", value=False)


def _policy(policy_id: str, version: str) -> Policy:
    found = STORE.get(policy_id, version)
    assert found is not None
    return found


def test_walk_visits_a_node_then_its_children_depth_first_in_the_files_order():
    a, b, c, d = (_leaf(x) for x in "abcd")
    inner = AnyOf(any=[b, Not(**{"not": c})])
    tree = All(all=[a, inner, d])
    kinds = [type(n).__name__ + (f":{n.id}" if isinstance(n, Leaf) else "") for n in tree.walk()]
    assert kinds == ["All", "Leaf:a", "AnyOf", "Leaf:b", "Not", "Leaf:c", "Leaf:d"]
    assert [leaf.id for leaf in tree.leaves()] == ["a", "b", "c", "d"]
    assert tree.children() == (a, inner, d) and a.children() == ()


def test_a_ref_is_a_node_of_its_own_that_only_its_policy_follows():
    cigna = _policy("cigna-cmm-210", "2026-08-04")
    tree = cigna.indications["spasticity"].permanent.criteria
    refs = [n for n in tree.walk() if isinstance(n, Ref)]
    assert [r.ref for r in refs] == ["spasticity.trial"] and refs[0].children() == ()
    trial_ids = {leaf.id for leaf in cigna.indications["spasticity"].trial.criteria.leaves()}
    assert not trial_ids & {leaf.id for leaf in tree.leaves()}
    followed = {n.id for n in cigna.walk(tree) if isinstance(n, Leaf)}
    assert trial_ids <= followed


def test_criteria_for_adds_the_phases_contraindications_under_one_all():
    nia = _policy("nia-cg-310", "2023-01")
    tree = nia.criteria_for(Phase.PERMANENT, Indication.NONMALIGNANT_PAIN)
    assert isinstance(tree, All)
    ids = [leaf.id for leaf in tree.leaves()]
    assert "nia-310-contraindication-no-active-infection" in ids
    assert "nia-310-contraindication-body-habitus" in ids
    # the contraindications are for permanent and replacement, not a trial
    trial = nia.criteria_for(Phase.TRIAL, Indication.NONMALIGNANT_PAIN)
    assert trial is not None
    assert not {leaf.id for leaf in trial.leaves()} & {
        "nia-310-contraindication-no-active-infection",
        "nia-310-contraindication-body-habitus",
    }


def test_criteria_for_is_none_where_the_policy_answers_without_criteria():
    for policy in STORE.all():
        for indication in Indication:
            for phase in Phase:
                rule, _ = policy.rule_for(indication, phase)
                tree = policy.criteria_for(phase, indication)
                has_criteria = isinstance(rule, PhaseRule) and rule.criteria is not None
                assert (tree is not None) == has_criteria, (policy.policy, indication, phase)
                if isinstance(rule, Deferred):
                    assert tree is None


def test_requirement_ids_count_a_referenced_trial_once_with_the_permanent_criteria():
    cigna = _policy("cigna-cmm-210", "2026-08-04")
    ids = cigna.requirement_ids(Phase.PERMANENT, Indication.SPASTICITY)
    assert len(ids) == len(set(ids))
    trial = cigna.requirement_ids(Phase.TRIAL, Indication.SPASTICITY)
    assert set(trial) < set(ids)


@pytest.mark.parametrize("policy", STORE.all(), ids=lambda p: f"{p.policy}@{p.version}")
def test_the_engine_and_the_questionnaires_read_the_tree_criteria_for_gives(policy, monkeypatch):
    """Every leaf the engine reports for (indication, phase) is one criteria_for reaches, and
    the questionnaire generator asks about the same leaves."""
    from cds_service import engine
    from cds_service.facts import Fact

    monkeypatch.setattr(engine, "compute", lambda ctx, fact, params: Fact(None))
    for indication in Indication:
        for phase in Phase:
            rule, _ = policy.rule_for(indication, phase)
            if not (isinstance(rule, PhaseRule) and rule.criteria is not None):
                continue
            expected = set(policy.requirement_ids(phase, indication))
            outcome = evaluate(policy, rule, phase, _Ctx(indication))  # type: ignore[arg-type]
            assert {c.id for c in outcome.criteria} == expected, (indication, phase)
            asked = {u.leaf.id for u in leaf_uses(policy, indication, phase)}
            assert expected <= asked


class _Ctx:
    """Just enough of a FactContext for the engine with every fact stubbed."""

    def __init__(self, indication: str):
        self.indication = indication

    def trial(self) -> tuple[None, None]:
        return None, None
