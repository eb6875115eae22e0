"""An assessment (the contract dict) laid out as the policy is written: its criteria tree.

Why the tree and not the flat criteria list: a policy's alternatives ("a
baseline Ashworth of 3 OR a Penn score of 2"; "further treatment not indicated
OR refused") leave some criteria unmet in a patient who meets the policy. A
flat list would show them as gaps; grouped under "one of these is enough",
with the group's own status, the page says what is really still missing.
"""

from __future__ import annotations

from typing import Any

from ..assessment import Assessment, Comparison
from ..engine import all_of, any_of, negate
from ..outcome import CriterionResult, count_requirements
from ..policy_diff import diff_url
from ..policy_model import (
    DETERMINATION_LABEL,
    INDICATION_LABEL,
    PHASE_LABEL,
    AnyOf,
    Deferred,
    Determination,
    Leaf,
    Node,
    Not,
    Policy,
    Ref,
    Status,
)
from ..policy_store import PolicyStore
from ..policy_urls import policy_page
from .evidence import describe
from .sheet_model import ComparisonSheets, Group, Row, Sheet


def _combine(kind: str, statuses: list[Status], open_list: bool = False) -> Status:
    """A group's status by the engine's own three-valued rules."""
    if kind == "any":
        return any_of(statuses, open_list)
    if kind == "not":
        return negate(statuses[0])
    return all_of(statuses)


def _row(c: CriterionResult, link: str, chart: dict[str, dict[str, Any]]) -> Row:
    evidence = [(ref, describe(ref, chart.get(ref))) for ref in c.evidence]
    return Row(c.id, c.text, c.status, c.source, c.note, evidence, link, c.blocking, c.any_of)


class _Builder:
    def __init__(self, policy: Policy, criteria: list[CriterionResult], chart: dict[str, dict[str, Any]]):
        self.policy = policy
        self.criteria = {c.id: c for c in criteria}
        self.chart = chart
        self.used: set[str] = set()
        self.unreported = False  # a tree leaf the service did not report on
        self.policy_page = policy_page(policy.policy, policy.version)

    def row(self, leaf_id: str, fallback: Leaf | None = None) -> Row:
        c = self.criteria.get(leaf_id)
        self.used.add(leaf_id)
        if c is None:  # a leaf the engine did not report: the tree is not the one assessed
            self.unreported = True
            c = CriterionResult(
                leaf_id,
                fallback.text if fallback else leaf_id,
                fallback.source if fallback else "",
                Status.UNKNOWN,
            )
        return _row(c, f"{self.policy_page}#{c.id}", self.chart)

    def node(self, node: Node) -> Row | Group:
        if isinstance(node, Leaf):
            return self.row(node.id, node)
        if isinstance(node, Ref):
            indication, phase = node.target
            inner = self.node(self.policy.resolve(node))
            children = inner.children if isinstance(inner, Group) and inner.kind == "all" else [inner]
            label = f"The {PHASE_LABEL.get(phase, phase)} criteria for {INDICATION_LABEL.get(indication, indication)}, which this order needs as well"
            return Group("ref", label, inner.status, children)
        if isinstance(node, Not):
            inner = self.node(node.not_)
            return Group("not", "This must not be the case:", _combine("not", [inner.status]), [inner])
        kind = "any" if isinstance(node, AnyOf) else "all"
        children = [self.node(child) for child in node.children()]
        label = "One of these is enough:" if kind == "any" else "All of these:"
        open_list = isinstance(node, AnyOf) and node.open  # "including, but not limited to"
        status = _combine(kind, [c.status for c in children], open_list)
        if open_list:
            label = "One of these is enough (the list is open: another documented response may also do):"
        return Group(kind, label, status, children)


def _all(rows: list[Row | Group]) -> Group:
    return Group("all", "", _combine("all", [r.status for r in rows]) if rows else Status.MET, rows)


Recalled = dict[str, Any]  # an assessment or comparison as the store keeps it (its contract form)


def sheets(
    a: Assessment | Comparison | Recalled, store: PolicyStore, chart: dict[str, dict[str, Any]] | None = None
) -> list[Sheet]:
    """The sheets an assessment or a comparison opens as (a comparison: one per policy)."""
    found = sheet(a, store, chart)
    return found.sheets if isinstance(found, ComparisonSheets) else [found]


def sheet(
    a: Assessment | Comparison | Recalled, store: PolicyStore, chart: dict[str, dict[str, Any]] | None = None
) -> Sheet | ComparisonSheets:
    """The checklist for one assessment; `chart` (ref → resource) adds evidence descriptions.
    A comparison opens as every policy's sheet. An assessment recalled from the store (its
    contract form) is read back into the engine's objects first, so the sheet counts and
    groups exactly what the engine reported, as the cards do."""
    chart = chart or {}
    if isinstance(a, Comparison):
        return ComparisonSheets(
            a.as_contract(), [s for item in a.assessments for s in sheets(item, store, chart)]
        )
    if isinstance(a, Assessment):
        return _sheet(a.as_contract(), a.policy, a.outcome.criteria, a.indication, chart, store)
    if isinstance(a.get("assessments"), list):
        items = [item for item in a["assessments"] if isinstance(item, dict)]
        return ComparisonSheets(a, [s for item in items for s in sheets(item, store, chart)])
    criteria = [CriterionResult.from_contract(c) for c in a.get("criteria") or ()]
    policy = store.get(a["policy"]["id"], a["policy"]["version"])
    return _sheet(a, policy, criteria, a.get("indication"), chart, store)


def _sheet(
    contract: dict[str, Any],
    policy: Policy | None,
    criteria: list[CriterionResult],
    indication: str | None,
    chart: dict[str, dict[str, Any]],
    store: PolicyStore,
) -> Sheet:
    determination = Determination(contract["determination"])
    root: Group | None = None
    reason: str | None = None
    deferred_to: str | None = None
    if policy is not None:
        builder = _Builder(policy, criteria, chart)
        tree, reason = policy.assessed(indication, contract["order"]["phase"])
        if isinstance(tree, Deferred):
            deferred_to = tree.to
            root = _all([builder.node(item) for item in tree.documentation])
        elif tree is not None:
            built = builder.node(tree)
            root = built if isinstance(built, Group) else Group("all", "", built.status, [built])
        # The tree must account for exactly the criteria the service reported
        # (a scope exclusion, for instance, reports a criterion of its own).
        if root is not None and (set(builder.criteria) - builder.used or builder.unreported):
            root = None
        if root is None:
            root = _all([builder.row(c.id) for c in criteria])
    else:  # a policy version this service no longer holds: the criteria as reported
        p = contract["policy"]
        root = _all(
            [_row(c, policy_page(str(p["id"]), str(p["version"]), f"#{c.id}"), chart) for c in criteria]
        )
    headline, explanation = _headline(determination, criteria, reason, deferred_to)
    changes = diff_url(store, policy) if policy is not None else None
    return Sheet(contract, policy, root, headline, explanation, deferred_to, changes)


def _headline(
    d: Determination, criteria: list[CriterionResult], reason: str | None, deferred_to: str | None
) -> tuple[str, str]:
    """Counted as the cards count (outcome.count_requirements): alternatives are one requirement."""
    unmet = count_requirements(criteria, Status.NOT_MET)
    missing = count_requirements(criteria, Status.UNKNOWN)
    label = DETERMINATION_LABEL[d].capitalize()
    if d == Determination.CRITERIA_MET:
        return label, "Every requirement of this policy is documented as met."
    if d == Determination.CRITERIA_NOT_MET:
        extra = f"; {missing} more not documented" if missing else ""
        return (
            label,
            f"The record contradicts {unmet} requirement{'s' if unmet != 1 else ''}{extra}.",
        )
    if d == Determination.DOCUMENTATION_INCOMPLETE:
        return (
            label,
            f"{missing} requirement{'s are' if missing != 1 else ' is'} not documented yet; nothing in the record contradicts the policy.",
        )
    if d == Determination.NOT_EVALUABLE:
        return (
            f"Not evaluable: {DETERMINATION_LABEL[d]}",
            f"The policy defers to {deferred_to or 'criteria that are not public'}. "
            f"It still asks for the documentation below ({missing} item{'s' if missing != 1 else ''} missing).",
        )
    scope = next((c.text for c in criteria if c.status == Status.NOT_MET), None)
    return label, (reason or scope or "This policy does not cover this order.")
