"""Properties of the three-valued engine that must hold for every tree and every chart.

The engine's own `_Evaluator` and `evaluate` run unchanged; only the leaf
reading is replaced (`compare` patched to look a leaf's status up by id), so
random statuses can be put on random trees and on every real policy tree.

Orders: truth not-met < unknown < met; information unknown < {met, not-met}.
- More information never changes a decided answer (removing evidence never
  yields criteria-met where the fuller record was incomplete or not met).
- Over ALL/ANY, turning a leaf met never lowers the answer.
- All leaves met is criteria-met; all unknown is documentation-incomplete.
- An answer short of criteria-met names at least one blocking criterion.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from cds_service import engine
from cds_service.engine import evaluate
from cds_service.facts import Fact
from cds_service.policy_model import All, AnyOf, Leaf, Not, PhaseRule, Policy, Status
from cds_service.policy_store import PolicyStore

from .chart import Chart
from .helpers import assessments

STATUSES = (Status.MET, Status.NOT_MET, Status.UNKNOWN)
TRUTH = {Status.NOT_MET: 0, Status.UNKNOWN: 1, Status.MET: 2}
DET_TRUTH = {"criteria-not-met": 0, "documentation-incomplete": 1, "criteria-met": 2}
LEAF_IDS = [f"leaf-{i}" for i in range(8)]

STORE = PolicyStore.load()
BASE_POLICY = STORE.all()[0].model_copy(update={"contraindications": []})


def leaf(i: str) -> Leaf:
    return Leaf(id=i, text=f"criterion {i}", source="source", fact="active_infection", op="is", value=False)


def trees(with_not: bool) -> st.SearchStrategy:
    leaves = st.sampled_from(LEAF_IDS).map(leaf)

    def extend(inner):
        nodes = st.lists(inner, min_size=1, max_size=4)
        out = nodes.map(lambda xs: All(all=xs)) | nodes.map(lambda xs: AnyOf(any=xs))
        return out | inner.map(lambda x: Not(**{"not": x})) if with_not else out

    return st.recursive(leaves, extend, max_leaves=14)


assignments = st.fixed_dictionaries({i: st.sampled_from(STATUSES) for i in LEAF_IDS})


@contextmanager
def statuses(values: dict[str, str]) -> Iterator[None]:
    """Every leaf reads as values[leaf.id]; the facts are never computed."""
    with (
        mock.patch.object(engine, "compute", lambda ctx, fact, params: Fact(None)),
        mock.patch.object(engine, "compare", lambda lf, fact: values[lf.id]),
    ):
        yield


def determine(
    tree, values: dict[str, str], policy: Policy = BASE_POLICY, rule: Any = None, phase: str = "trial"
):
    with statuses(values):
        return evaluate(policy, rule or PhaseRule(criteria=tree), phase, ctx=None)


def weaker(values: dict[str, str], forget: list[bool]) -> dict[str, str]:
    return {k: (Status.UNKNOWN if f else v) for (k, v), f in zip(values.items(), forget, strict=False)}


# -- synthetic trees ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(tree=trees(with_not=True), values=assignments, forget=st.lists(st.booleans(), min_size=8, max_size=8))
def test_removing_evidence_never_turns_an_answer_into_another_decided_answer(tree, values, forget):
    full = determine(tree, values).determination
    less = determine(tree, weaker(values, forget)).determination
    assert less in (full, "documentation-incomplete")
    if full == "documentation-incomplete":
        assert less != "criteria-met"


@settings(max_examples=300, deadline=None)
@given(tree=trees(with_not=False), values=assignments, which=st.sampled_from(LEAF_IDS))
def test_over_all_and_any_a_met_fact_never_lowers_the_answer(tree, values, which):
    before = determine(tree, values).determination
    after = determine(tree, values | {which: Status.MET}).determination
    assert DET_TRUTH[after] >= DET_TRUTH[before]
    if before == "criteria-met":
        assert after == "criteria-met"


@settings(max_examples=300, deadline=None)
@given(tree=trees(with_not=True), values=assignments, which=st.sampled_from(LEAF_IDS))
def test_with_negation_a_newly_documented_fact_never_turns_met_into_not_met(tree, values, which):
    values = values | {which: Status.UNKNOWN}
    before = determine(tree, values).determination
    after = determine(tree, values | {which: Status.MET}).determination
    if before != "documentation-incomplete":
        assert after == before


@settings(max_examples=200, deadline=None)
@given(tree=trees(with_not=False))
def test_all_leaves_met_is_criteria_met_and_all_not_met_is_not_met(tree):
    assert determine(tree, dict.fromkeys(LEAF_IDS, Status.MET)).determination == "criteria-met"
    assert determine(tree, dict.fromkeys(LEAF_IDS, Status.NOT_MET)).determination == "criteria-not-met"


@settings(max_examples=200, deadline=None)
@given(tree=trees(with_not=True))
def test_all_leaves_unknown_is_documentation_incomplete(tree):
    assert (
        determine(tree, dict.fromkeys(LEAF_IDS, Status.UNKNOWN)).determination == "documentation-incomplete"
    )


@settings(max_examples=300, deadline=None)
@given(tree=trees(with_not=False), values=assignments)
def test_an_answer_short_of_met_names_a_blocking_criterion(tree, values):
    outcome = determine(tree, values)
    blocking = [c for c in outcome.criteria if c.blocking]
    if outcome.determination == "criteria-met":
        assert not blocking
    elif outcome.determination == "criteria-not-met":
        assert any(c.status == Status.NOT_MET for c in blocking)
    else:
        assert any(c.status == Status.UNKNOWN for c in blocking)


# -- every real policy tree ------------------------------------------------------------------


def _leaf_ids(obj: Any) -> set[str]:
    if isinstance(obj, Leaf):
        return {obj.id} | (_leaf_ids(obj.applies_if) if obj.applies_if else set())
    if isinstance(obj, BaseModel):
        return set().union(*(_leaf_ids(getattr(obj, f)) for f in type(obj).model_fields))
    if isinstance(obj, (list, tuple)):
        return set().union(*(_leaf_ids(x) for x in obj))
    if isinstance(obj, dict):
        return set().union(*(_leaf_ids(x) for x in obj.values()))
    return set()


REAL_RULES = [
    (policy, phase, rule)
    for policy in STORE.all()
    for rule_set in policy.indications.values()
    for phase in ("trial", "permanent", "replacement")
    if (rule := getattr(rule_set, phase)) is not None and rule.criteria is not None
]
REAL_IDS = {p.policy + p.version: sorted(_leaf_ids(p)) for p in STORE.all()}


@st.composite
def real_cases(draw):
    policy, phase, rule = draw(st.sampled_from(REAL_RULES))
    ids = REAL_IDS[policy.policy + policy.version]
    values = dict(
        zip(
            ids, draw(st.lists(st.sampled_from(STATUSES), min_size=len(ids), max_size=len(ids))), strict=False
        )
    )
    forget = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
    return policy, phase, rule, values, forget


def test_real_policies_have_trees_to_check():
    assert len(REAL_RULES) >= 20


@settings(max_examples=300, deadline=None)
@given(case=real_cases())
def test_real_policy_trees_removing_evidence_never_yields_a_different_decided_answer(case):
    policy, phase, rule, values, forget = case
    full = determine(None, values, policy, rule, phase)
    less = determine(None, weaker(values, forget), policy, rule, phase)
    assert less.determination in (full.determination, "documentation-incomplete")
    for outcome in (full, less):
        if outcome.determination != "criteria-met":
            assert any(c.blocking and c.status != Status.MET for c in outcome.criteria)


@settings(max_examples=100, deadline=None)
@given(case=real_cases())
def test_real_policy_trees_all_met_is_criteria_met(case):
    policy, phase, rule, values, _ = case
    assert (
        determine(None, dict.fromkeys(values, Status.MET), policy, rule, phase).determination
        == "criteria-met"
    )


# -- a real chart, real facts -----------------------------------------------------------------


def documented_permanent_chart() -> Chart:
    """Non-malignant pain, permanent pump after a trial, no payer: every policy assessed, some
    criteria-met, others documentation-incomplete or not met."""
    c = Chart(payer=None)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.nrs(8, c.days_before(60))
    c.therapy("physical-therapy", c.days_before(420), c.days_before(120), outcome="ineffective")
    c.medication("oxycodone", c.days_before(420), c.days_before(15), fixed=True, reason="ineffective")
    c.flag("further-surgery-not-indicated", True)
    c.psych("favorable")
    c.flag("opioid-reduction-agreed", True)
    c.trial(c.days_before(21), drug="morphine")
    c.trial_relief(70, hours=12, when=c.days_before(20))
    c.flag("trial-function-improved", True, c.days_before(20))
    c.flag("trial-side-effects-tolerable", True, c.days_before(20))
    c.order("62350", reason_icd10="M96.1")
    return c


CHART_KEYS = ("observations", "procedures", "medications", "conditions", "devices", "allergies")


def _determinations(chart: Chart) -> dict[tuple[str, str | None], str]:
    return {(a["policy"]["id"], a["indication"]): a["determination"] for a in assessments(chart)}


@settings(max_examples=25, deadline=None)
@given(drop=st.lists(st.tuples(st.sampled_from(CHART_KEYS), st.integers(0, 40)), min_size=1, max_size=6))
def test_a_chart_with_resources_removed_is_never_more_met_than_the_full_chart(drop):
    full_chart = documented_permanent_chart()
    full = _determinations(full_chart)
    reduced = documented_permanent_chart()
    for key, index in drop:
        if reduced.resources[key]:
            reduced.resources[key].pop(index % len(reduced.resources[key]))
    for key, determination in _determinations(reduced).items():
        if full.get(key) == "documentation-incomplete":
            assert determination != "criteria-met", (key, drop)


def test_a_negated_criterion_that_decides_the_answer_is_named():
    outcome = determine(Not(**{"not": leaf("leaf-0")}), {"leaf-0": Status.MET})
    assert outcome.determination == "criteria-not-met"
    assert any(c.blocking for c in outcome.criteria)
