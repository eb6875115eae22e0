"""Three-valued evaluation of a policy's criteria tree into a determination.

The engine knows trees, leaves and facts; it never names a payer. Everything
payer-specific is in policies/*.yaml.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, cast

from .facts import Duration, Fact, FactContext, compute
from .outcome import CriterionResult, Outcome, count_requirements
from .policy_model import (
    All,
    AnyOf,
    Deferred,
    Determination,
    Leaf,
    Node,
    Not,
    Phase,
    PhaseRule,
    Policy,
    Ref,
    Status,
)


def all_of(statuses: list[Status]) -> Status:
    """ALL: not-met if any child is not-met, met if all are met, else unknown."""
    return (
        Status.NOT_MET
        if Status.NOT_MET in statuses
        else (Status.MET if all(s == Status.MET for s in statuses) else Status.UNKNOWN)
    )


def any_of(statuses: list[Status], open_list: bool = False) -> Status:
    """ANY: met if any child is met, not-met if all are not-met, else unknown. An open list
    ("including, but not limited to") is never not-met: what it does not list may also do."""
    if Status.MET in statuses:
        return Status.MET
    if statuses and all(s == Status.NOT_MET for s in statuses) and not open_list:
        return Status.NOT_MET
    return Status.UNKNOWN


def negate(status: Status) -> Status:
    return {Status.MET: Status.NOT_MET, Status.NOT_MET: Status.MET}.get(status, Status.UNKNOWN)


def compare(leaf: Leaf, fact: Fact) -> Status:
    value = fact.value
    if value is None:
        return Status.UNKNOWN
    op = leaf.op
    if op == "documented":
        return Status.MET
    if leaf.undecided and not isinstance(value, Duration) and value in leaf.undecided:
        return Status.UNKNOWN
    if isinstance(value, Duration):
        if value.waived:
            return Status.MET
        needed = value.threshold_days(float(leaf.value), leaf.unit or "days")
        ok = value.days > needed if op == ">" else value.days >= needed
        if not ok and value.if_documented is not None:
            more = value.if_documented
            wanted = more.threshold_days(float(leaf.value), leaf.unit or "days")
            if more.days > wanted if op == ">" else more.days >= wanted:
                return Status.UNKNOWN  # met once the left-out courses are documented
        return Status.MET if ok else Status.NOT_MET
    if op == "is":
        return Status.MET if value is leaf.value else Status.NOT_MET
    return Status.MET if _COMPARISONS[op](value, leaf.value) else Status.NOT_MET


# A leaf's op on (the fact's value, the leaf's value); the loader admits only these ops.
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda value, target: value in target,
    "not_in": lambda value, target: value not in target,
}


class _Evaluator:
    def __init__(self, policy: Policy, ctx: FactContext | None):
        self.policy = policy
        self.ctx = ctx
        self.results: dict[str, CriterionResult] = {}

    def node(self, node: Node) -> Status:
        if isinstance(node, Leaf):
            return self.leaf(node)
        if isinstance(node, All):
            return all_of([self.node(child) for child in node.all])
        if isinstance(node, AnyOf):
            return any_of([self.node(child) for child in node.any], node.open)
        if isinstance(node, Not):
            return negate(self.node(node.not_))
        if isinstance(node, Ref):
            if node.as_of != Phase.TRIAL:
                return self.node(self.policy.resolve(node))
            outer, self.ctx = self.ctx, self._as_of_trial()
            try:
                return self.node(self.policy.resolve(node))
            finally:
                self.ctx = outer
        raise TypeError(f"unknown node {node!r}")

    def _as_of_trial(self) -> FactContext | None:
        """The record as it stood at the end of the day of the latest trial (same order, indication)."""
        ctx = self.ctx
        if ctx is None:  # evaluated without a record (property tests stub the facts)
            return ctx
        trial, _ = ctx.trial()
        if trial is None or trial.start is None or trial.start.date() >= ctx.date_of_service:
            return ctx
        return ctx.as_of(trial.start.date())

    def _compute(self, leaf: Leaf) -> Fact:
        # ctx is None only where a test stubs `compute` (no record to read)
        return compute(cast(FactContext, self.ctx), leaf.fact, leaf.params)

    def leaf(self, leaf: Leaf) -> Status:
        done = self.results.get(leaf.id)
        if done is not None:
            return done.status
        fact = self._compute(leaf)
        status = compare(leaf, fact)
        note = fact.note
        evidence = list(fact.evidence)
        if status == Status.UNKNOWN and fact.value is not None and leaf.undecided:
            note = (
                f"{note}: the record neither shows nor rules out what this requirement asks" if note else None
            )
        if leaf.applies_if is not None:
            # "only if C, then L" is (not C) or L, three-valued: a requirement that may not
            # apply is never contradicted, and one that does not apply is met.
            cond = leaf.applies_if
            cond_fact = self._compute(cond)
            cond_status = compare(cond, cond_fact)
            combined = any_of([negate(cond_status), status])
            if cond_status == Status.NOT_MET:
                note = f"does not apply: {cond_fact.note}" if cond_fact.note else "does not apply here"
                evidence = list(cond_fact.evidence)
            elif cond_status == Status.UNKNOWN and combined != status:
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
        wanted = Status.NOT_MET if negated else Status.MET
        if self.node(node) == wanted:
            return
        if isinstance(node, Leaf):
            result = self.results[node.id]
            result.blocking = True
            result.any_of = result.any_of or group
            return
        if isinstance(node, Ref):
            self.mark_blocking(self.policy.resolve(node), group, negated)
            return
        if isinstance(node, Not):
            self.mark_blocking(node.not_, group, not negated)
            return
        alternatives = isinstance(node, AnyOf) != negated
        if alternatives and group is None:
            group = f"any:{next((leaf.id for leaf in node.leaves()), 'group')}"
        for child in node.children():
            self.mark_blocking(child, group, negated)


def evaluate(policy: Policy, rule: PhaseRule | Deferred, phase: str, ctx: FactContext | None) -> Outcome:
    """Evaluate one phase rule of a policy (already chosen by indication and phase). A
    `ctx` of None is for tests that stub every fact."""
    if isinstance(rule, Deferred):
        return _deferred(rule, ctx, policy)
    if rule.not_covered is not None:
        return Outcome(
            Determination.CRITERIA_NOT_MET,
            [
                CriterionResult(
                    f"{policy.policy}-not-covered",
                    rule.not_covered.text,
                    rule.not_covered.source,
                    Status.NOT_MET,
                    blocking=True,
                )
            ],
            rule.not_covered.text,
        )
    if rule.not_addressed is not None:
        return Outcome(Determination.NOT_APPLICABLE, [], rule.not_addressed.text)
    if rule.deferred is not None:
        return _deferred(rule.deferred, ctx, policy)
    tree = policy.criteria_for(phase, ctx.indication if ctx is not None else None, rule)
    if tree is None:
        raise ValueError(f"{policy.policy}@{policy.version}: a {phase} rule with no criteria")
    ev = _Evaluator(policy, ctx)
    status = ev.node(tree)
    ev.mark_blocking(tree)
    determination = DETERMINATION_OF[status]
    criteria = list(ev.results.values())
    unmet = count_requirements(criteria, Status.NOT_MET)
    missing = count_requirements(criteria, Status.UNKNOWN)
    reason = {
        Determination.CRITERIA_MET: "all requirements documented as met",
        Determination.CRITERIA_NOT_MET: f"{unmet} {'criterion' if unmet == 1 else 'criteria'} contradicted by the record",
        Determination.DOCUMENTATION_INCOMPLETE: f"{missing} {'criterion' if missing == 1 else 'criteria'} not documented",
    }[determination]
    return Outcome(determination, criteria, reason)


# The tree's three-valued answer as a determination.
DETERMINATION_OF = {
    Status.MET: Determination.CRITERIA_MET,
    Status.NOT_MET: Determination.CRITERIA_NOT_MET,
    Status.UNKNOWN: Determination.DOCUMENTATION_INCOMPLETE,
}


def _deferred(rule: Deferred, ctx: FactContext | None, policy: Policy) -> Outcome:
    ev = _Evaluator(policy, ctx)
    for item in rule.documentation:
        ev.node(item)
        ev.mark_blocking(item)
    criteria = list(ev.results.values())
    return Outcome(
        Determination.NOT_EVALUABLE, criteria, f"criteria are in {rule.to} (not public)", deferred_to=rule.to
    )
