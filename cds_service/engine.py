"""Three-valued evaluation of a policy's criteria tree into a determination.

The engine knows trees, leaves and facts; it never names a payer. Everything
payer-specific is in policies/*.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .facts import Duration, Fact, FactContext, compute
from .policy_model import All, AnyOf, Deferred, Leaf, Node, Not, PhaseRule, Policy, Ref
from .policy_store import iter_leaves

MET, NOT_MET, UNKNOWN = "met", "not-met", "unknown"


@dataclass
class CriterionResult:
    id: str
    text: str
    source: str
    status: str
    evidence: list[str] = field(default_factory=list)
    note: str | None = None
    blocking: bool = False  # decides the outcome (unmet or undocumented where it matters)
    any_of: str | None = None  # blocking alternatives sharing this label: any one of them would do

    @property
    def requirement(self) -> str:
        """What a clinician counts as one requirement: a leaf, or a group of alternatives."""
        return self.any_of or self.id

    def as_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "status": self.status,
            "evidence": self.evidence,
            "source": self.source,
        }
        if self.note:
            out["note"] = self.note
        if self.blocking:
            out["blocking"] = True
            if self.any_of:
                out["anyOf"] = self.any_of
        return out


@dataclass
class Outcome:
    determination: str
    criteria: list[CriterionResult]
    reason: str  # one line for the card and the audit record
    deferred_to: str | None = None


def all_of(statuses: list[str]) -> str:
    """ALL: not-met if any child is not-met, met if all are met, else unknown."""
    return NOT_MET if NOT_MET in statuses else (MET if all(s == MET for s in statuses) else UNKNOWN)


def any_of(statuses: list[str]) -> str:
    """ANY: met if any child is met, not-met if all are not-met, else unknown."""
    return (
        MET if MET in statuses else (NOT_MET if statuses and all(s == NOT_MET for s in statuses) else UNKNOWN)
    )


def negate(status: str) -> str:
    return {MET: NOT_MET, NOT_MET: MET}.get(status, UNKNOWN)


def compare(leaf: Leaf, fact: Fact) -> str:
    value = fact.value
    if value is None:
        return UNKNOWN
    op = leaf.op
    if op == "documented":
        return MET
    if leaf.undecided and not isinstance(value, Duration) and value in leaf.undecided:
        return UNKNOWN
    if isinstance(value, Duration):
        if value.waived:
            return MET
        needed = value.threshold_days(float(leaf.value), leaf.unit or "days")
        ok = value.days > needed if op == ">" else value.days >= needed
        return MET if ok else NOT_MET
    if op == "is":
        return MET if value is leaf.value else NOT_MET
    target = leaf.value
    result = {
        ">": lambda: value > target,
        ">=": lambda: value >= target,
        "<": lambda: value < target,
        "<=": lambda: value <= target,
        "==": lambda: value == target,
        "!=": lambda: value != target,
        "in": lambda: value in target,
        "not_in": lambda: value not in target,
    }[op]()
    return MET if result else NOT_MET


class _Evaluator:
    def __init__(self, policy: Policy, ctx: FactContext):
        self.policy = policy
        self.ctx = ctx
        self.results: dict[str, CriterionResult] = {}

    def node(self, node: Node) -> str:
        if isinstance(node, Leaf):
            return self.leaf(node)
        if isinstance(node, All):
            return all_of([self.node(child) for child in node.all])
        if isinstance(node, AnyOf):
            status = any_of([self.node(child) for child in node.any])
            return UNKNOWN if node.open and status == NOT_MET else status
        if isinstance(node, Not):
            return negate(self.node(node.not_))
        if isinstance(node, Ref):
            if node.as_of != "trial":
                return self.node(self.tree(node.ref))
            outer, self.ctx = self.ctx, self._as_of_trial()
            try:
                return self.node(self.tree(node.ref))
            finally:
                self.ctx = outer
        raise TypeError(f"unknown node {node!r}")

    def _as_of_trial(self) -> FactContext:
        """The record as it stood at the end of the day of the latest trial (same order, indication)."""
        ctx = self.ctx
        if ctx is None:  # evaluated without a record (property tests stub the facts)
            return ctx
        trial, _ = ctx.trial()
        if trial is None or trial.start is None or trial.start.date() >= ctx.date_of_service:
            return ctx
        return ctx.as_of(trial.start.date())

    def tree(self, ref: str) -> Node:
        indication, _, phase = ref.partition(".")
        rule = getattr(self.policy.indications[indication], phase)
        return rule.criteria

    def leaf(self, leaf: Leaf) -> str:
        done = self.results.get(leaf.id)
        if done is not None:
            return done.status
        fact = compute(self.ctx, leaf.fact, leaf.params)
        status = compare(leaf, fact)
        note = fact.note
        evidence = list(fact.evidence)
        if status == UNKNOWN and fact.value is not None and leaf.undecided:
            note = (
                f"{note}: the record neither shows nor rules out what this requirement asks" if note else None
            )
        if leaf.applies_if is not None:
            # "only if C, then L" is (not C) or L, three-valued: a requirement that may not
            # apply is never contradicted, and one that does not apply is met.
            cond = leaf.applies_if
            cond_fact = compute(self.ctx, cond.fact, cond.params)
            cond_status = compare(cond, cond_fact)
            combined = any_of([negate(cond_status), status])
            if cond_status == NOT_MET:
                note = f"does not apply: {cond_fact.note}" if cond_fact.note else "does not apply here"
                evidence = list(cond_fact.evidence)
            elif cond_status == UNKNOWN and combined != status:
                note = f"{note}; whether it applies is not documented ({cond_fact.note})"
            status = combined
        self.results[leaf.id] = CriterionResult(leaf.id, leaf.text, leaf.source, status, evidence, note)
        return status

    def mark_blocking(self, node: Node, group: str | None = None, negated: bool = False) -> None:
        """Flag the leaves that explain why `node` does not give the wanted answer.

        Wanted is met, or not-met under a NOT. A node that already gives it
        explains nothing. Under an ALL each failing child is blocking; under an
        ANY (or an ALL inside a NOT, which fails only if every child is met)
        the failing children are alternatives, labelled as one group named by
        the outermost such node.
        """
        wanted = NOT_MET if negated else MET
        if self.node(node) == wanted:
            return
        if isinstance(node, Leaf):
            result = self.results[node.id]
            result.blocking = True
            result.any_of = result.any_of or group
            return
        if isinstance(node, Ref):
            self.mark_blocking(self.tree(node.ref), group, negated)
            return
        if isinstance(node, Not):
            self.mark_blocking(node.not_, group, not negated)
            return
        children = node.all if isinstance(node, All) else node.any
        alternatives = isinstance(node, AnyOf) != negated
        if alternatives and group is None:
            group = f"any:{next((leaf.id for leaf in iter_leaves(node)), 'group')}"
        for child in children:
            self.mark_blocking(child, group, negated)


def count_requirements(criteria: list[CriterionResult], status: str) -> int:
    """Blocking requirements with this status; a group of alternatives counts once."""
    return len({c.requirement for c in criteria if c.blocking and c.status == status})


def evaluate(policy: Policy, rule: PhaseRule | Deferred, phase: str, ctx: FactContext) -> Outcome:
    """Evaluate one phase rule of a policy (already chosen by indication and phase)."""
    if isinstance(rule, Deferred):
        return _deferred(rule, ctx, policy)
    if rule.not_covered is not None:
        return Outcome(
            "criteria-not-met",
            [
                CriterionResult(
                    f"{policy.policy}-not-covered",
                    rule.not_covered.text,
                    rule.not_covered.source,
                    NOT_MET,
                    blocking=True,
                )
            ],
            rule.not_covered.text,
        )
    if rule.not_addressed is not None:
        return Outcome("not-applicable", [], rule.not_addressed.text)
    if rule.deferred is not None:
        return _deferred(rule.deferred, ctx, policy)
    tree: Node = rule.criteria
    extra = [
        c.criterion
        for c in policy.contraindications
        if phase in c.phases and (not c.indications or ctx.indication in c.indications)
    ]
    if extra:
        tree = All(all=[tree, *extra])
    ev = _Evaluator(policy, ctx)
    status = ev.node(tree)
    ev.mark_blocking(tree)
    determination = {MET: "criteria-met", NOT_MET: "criteria-not-met", UNKNOWN: "documentation-incomplete"}[
        status
    ]
    criteria = list(ev.results.values())
    unmet = count_requirements(criteria, NOT_MET)
    missing = count_requirements(criteria, UNKNOWN)
    reason = {
        "criteria-met": "all requirements documented as met",
        "criteria-not-met": f"{unmet} {'criterion' if unmet == 1 else 'criteria'} contradicted by the record",
        "documentation-incomplete": f"{missing} {'criterion' if missing == 1 else 'criteria'} not documented",
    }[determination]
    return Outcome(determination, criteria, reason)


def _deferred(rule: Deferred, ctx: FactContext, policy: Policy) -> Outcome:
    ev = _Evaluator(policy, ctx)
    for item in rule.documentation:
        ev.node(item)
        ev.mark_blocking(item)
    criteria = list(ev.results.values())
    return Outcome("not-evaluable", criteria, f"criteria are in {rule.to} (not public)", deferred_to=rule.to)
