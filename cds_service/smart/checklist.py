"""An assessment (the contract dict) laid out as the policy is written: its criteria tree.

Why the tree and not the flat criteria list: a policy's alternatives ("a
baseline Ashworth of 3 OR a Penn score of 2"; "further treatment not indicated
OR refused") leave some criteria unmet in a patient who meets the policy. A
flat list would show them as gaps; grouped under "one of these is enough",
with the group's own status, the page says what is really still missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..assessment import rule_for
from ..engine import MET, NOT_MET, UNKNOWN, all_of, any_of, negate
from ..facts.catalogue import INDICATION_LABEL  # re-exported for html.py
from ..policy_diff import diff_url
from ..policy_model import All, AnyOf, Deferred, Leaf, Not, PhaseRule, Policy, Ref
from ..policy_store import PolicyStore
from .evidence import describe

PHASE_LABEL = {"trial": "trial", "permanent": "permanent implant", "replacement": "pump replacement"}


@dataclass
class Row:
    id: str
    text: str
    status: str
    source: str
    note: str | None
    evidence: list[tuple[str, str]]  # (reference, description)
    link: str
    blocking: bool = False  # the service's own reading: this criterion decides the outcome
    any_of: str | None = None  # one of a group of alternatives, any of which would do


@dataclass
class Group:
    kind: str  # all | any | ref | not
    label: str
    status: str
    children: list[Row | Group] = field(default_factory=list)


@dataclass
class Sheet:
    assessment: dict[str, Any]
    policy: Policy | None
    root: Group
    headline: str
    explanation: str
    deferred_to: str | None = None
    # "What changed in this policy": the policy diff page, for a policy with more than one version.
    diff_url: str | None = None

    @property
    def determination(self) -> str:
        return self.assessment["determination"]

    def rows(self) -> list[Row]:
        out: list[Row] = []

        def walk(node: Row | Group) -> None:
            if isinstance(node, Row):
                out.append(node)
            else:
                for child in node.children:
                    walk(child)

        walk(self.root)
        return out

    def rows_in_context(self) -> list[tuple[Row, bool]]:
        """(row, True when it sits in an alternative the patient already meets otherwise)."""
        out: list[tuple[Row, bool]] = []

        def walk(node: Row | Group, spare: bool) -> None:
            if isinstance(node, Row):
                out.append((node, spare))
                return
            inner = spare or (node.kind == "any" and node.status == MET)
            for child in node.children:
                walk(child, inner)

        walk(self.root, False)
        return out

    def gaps(self, status: str) -> list[Row]:
        seen: dict[str, Row] = {}
        for r in self.rows():
            if r.blocking and r.status == status:
                seen.setdefault(r.id, r)
        return list(seen.values())


def _combine(kind: str, statuses: list[str]) -> str:
    """A group's status by the engine's own three-valued rules."""
    if kind == "any":
        return any_of(statuses)
    if kind == "not":
        return negate(statuses[0])
    return all_of(statuses)


class _Builder:
    def __init__(self, policy: Policy, criteria: dict[str, dict[str, Any]], chart: dict[str, dict[str, Any]]):
        self.policy = policy
        self.criteria = criteria
        self.chart = chart
        self.used: set[str] = set()
        self.unreported = False  # a tree leaf the service did not report on
        self.base = f"/policies/{policy.policy}/{policy.version}"

    def row(self, leaf_id: str, fallback: Leaf | None = None) -> Row:
        c = self.criteria.get(leaf_id)
        self.used.add(leaf_id)
        if c is None:  # a leaf the engine did not report: the tree is not the one assessed
            self.unreported = True
            c = {
                "id": leaf_id,
                "text": fallback.text if fallback else leaf_id,
                "status": UNKNOWN,
                "source": fallback.source if fallback else "",
                "evidence": [],
            }
        evidence = [(ref, describe(ref, self.chart.get(ref))) for ref in c.get("evidence") or ()]
        return Row(
            c["id"],
            c["text"],
            c["status"],
            c.get("source", ""),
            c.get("note"),
            evidence,
            f"{self.base}#{c['id']}",
            bool(c.get("blocking")),
            c.get("anyOf"),
        )

    def node(self, node: Any) -> Row | Group:
        if isinstance(node, Leaf):
            return self.row(node.id, node)
        if isinstance(node, Ref):
            indication, _, phase = node.ref.partition(".")
            target = getattr(self.policy.indications[indication], phase).criteria
            inner = self.node(target)
            children = inner.children if isinstance(inner, Group) and inner.kind == "all" else [inner]
            label = f"The {PHASE_LABEL.get(phase, phase)} criteria for {INDICATION_LABEL.get(indication, indication)}, which this order needs as well"
            return Group("ref", label, inner.status, children)
        if isinstance(node, Not):
            inner = self.node(node.not_)
            return Group("not", "This must not be the case:", _combine("not", [inner.status]), [inner])
        kind, items = ("any", node.any) if isinstance(node, AnyOf) else ("all", node.all)
        children = [self.node(child) for child in items]
        label = "One of these is enough:" if kind == "any" else "All of these:"
        status = _combine(kind, [c.status for c in children])
        if isinstance(node, AnyOf) and node.open:  # "including, but not limited to"
            label = "One of these is enough (the list is open: another documented response may also do):"
            status = UNKNOWN if status == NOT_MET else status
        return Group(kind, label, status, children)


def _phase_tree(policy: Policy, indication: str | None, phase: str) -> tuple[Any, str | None]:
    rule, silent = rule_for(policy, indication, phase)
    if isinstance(rule, PhaseRule) and rule.deferred is not None:
        rule = rule.deferred
    if isinstance(rule, Deferred):
        return rule, None
    if isinstance(rule, PhaseRule):
        if rule.not_addressed is not None:
            return None, rule.not_addressed.text
        if rule.not_covered is not None:
            return None, rule.not_covered.text
        if rule.criteria is not None:
            extra = [
                c.criterion
                for c in policy.contraindications
                if phase in c.phases and (not c.indications or indication in c.indications)
            ]
            return (All(all=[rule.criteria, *extra]) if extra else rule.criteria), None
    return None, silent


def _flat(a: dict[str, Any], builder: _Builder | None, chart: dict[str, dict[str, Any]]) -> Group:
    rows = []
    for c in a.get("criteria", []):
        if builder is not None:
            rows.append(builder.row(c["id"]))
        else:
            evidence = [(ref, describe(ref, chart.get(ref))) for ref in c.get("evidence") or ()]
            link = f"/policies/{a['policy']['id']}/{a['policy']['version']}#{c['id']}"
            rows.append(
                Row(
                    c["id"],
                    c["text"],
                    c["status"],
                    c.get("source", ""),
                    c.get("note"),
                    evidence,
                    link,
                    bool(c.get("blocking")),
                    c.get("anyOf"),
                )
            )
    return Group("all", "", _combine("all", [r.status for r in rows]) if rows else MET, rows)


@dataclass
class ComparisonSheets:
    """A comparison opened from its one card (no payer's policy applies): every policy's
    sheet, and the sentence saying why none of them is the patient's payer's verdict."""

    comparison: dict[str, Any]
    sheets: list[Sheet]

    @property
    def explanation(self) -> str:
        why = (self.comparison.get("comparison") or {}).get("note") or "no payer's policy applies"
        return (
            f"A comparison, not the patient's payer's verdict: {why}. "
            "Each encoded policy's requirements are shown below for reference."
        )


def sheets(
    a: dict[str, Any], store: PolicyStore, chart: dict[str, dict[str, Any]] | None = None
) -> list[Sheet]:
    """The sheets an assessment or a comparison opens as (a comparison: one per policy)."""
    found = sheet(a, store, chart)
    return found.sheets if isinstance(found, ComparisonSheets) else [found]


def sheet(
    a: dict[str, Any], store: PolicyStore, chart: dict[str, dict[str, Any]] | None = None
) -> Sheet | ComparisonSheets:
    """The checklist for one assessment; `chart` (ref → resource) adds evidence descriptions.
    A comparison (its `assessments` list) opens as every policy's sheet."""
    chart = chart or {}
    if isinstance(a.get("assessments"), list):
        return ComparisonSheets(
            a, [s for item in a["assessments"] if isinstance(item, dict) for s in sheets(item, store, chart)]
        )
    policy = store.get(a["policy"]["id"], a["policy"]["version"])
    a["determination"]
    criteria = {c["id"]: c for c in a.get("criteria", [])}
    root: Group | None = None
    reason: str | None = None
    deferred_to: str | None = None
    builder = _Builder(policy, criteria, chart) if policy is not None else None
    if builder is not None:
        tree, reason = _phase_tree(policy, a.get("indication"), a["order"]["phase"])
        if isinstance(tree, Deferred):
            deferred_to = tree.to
            rows = [builder.node(item) for item in tree.documentation]
            root = Group("all", "", _combine("all", [r.status for r in rows]) if rows else MET, rows)
        elif tree is not None:
            built = builder.node(tree)
            root = built if isinstance(built, Group) else Group("all", "", built.status, [built])
        # The tree must account for exactly the criteria the service reported
        # (a scope exclusion, for instance, reports a criterion of its own).
        if root is not None and (set(criteria) - builder.used or builder.unreported):
            root = None
    if root is None:
        root = _flat(a, builder if policy is not None else None, chart)
    headline, explanation = _headline(a, reason, deferred_to)
    changes = diff_url(store, policy) if policy is not None else None
    return Sheet(a, policy, root, headline, explanation, deferred_to, changes)


def _headline(a: dict[str, Any], reason: str | None, deferred_to: str | None) -> tuple[str, str]:
    """Counted as the cards count: a group of alternatives is one requirement."""
    criteria = a.get("criteria", [])
    unmet = len({c.get("anyOf") or c["id"] for c in criteria if c.get("blocking") and c["status"] == NOT_MET})
    missing = len(
        {c.get("anyOf") or c["id"] for c in criteria if c.get("blocking") and c["status"] == UNKNOWN}
    )
    d = a["determination"]
    if d == "criteria-met":
        return "Criteria met", "Every requirement of this policy is documented as met."
    if d == "criteria-not-met":
        extra = f"; {missing} more not documented" if missing else ""
        return (
            "Criteria not met",
            f"The record contradicts {unmet} requirement{'s' if unmet != 1 else ''}{extra}.",
        )
    if d == "documentation-incomplete":
        return (
            "Documentation incomplete",
            f"{missing} requirement{'s are' if missing != 1 else ' is'} not documented yet; nothing in the record contradicts the policy.",
        )
    if d == "not-evaluable":
        return (
            "Not evaluable: criteria not public",
            f"The policy defers to {deferred_to or 'criteria that are not public'}. "
            f"It still asks for the documentation below ({missing} item{'s' if missing != 1 else ''} missing).",
        )
    scope = next((c["text"] for c in criteria if c["status"] == NOT_MET), None)
    return "Policy does not apply", (reason or scope or "This policy does not cover this order.")
