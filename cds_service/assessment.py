"""One assessment per (order, policy): scope, indication, version, then the engine.

This is the interface of shared/contract/assessment.md; the service layer
turns its result into cards, the audit trail stores it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .codes import Terminology
from .engine import evaluate
from .facts import FactContext, compute
from .facts.base import OrderFacts
from .indication import indications_for
from .orders import Order
from .outcome import CriterionResult, Outcome
from .payers import Routing
from .policy_model import OTHER_INDICATION, Determination, Phase, Policy, Status
from .policy_store import PolicyStore
from .record import PatientRecord


@dataclass
class Assessment:
    id: str
    policy: Policy
    order: Order
    indication: str | None
    outcome: Outcome
    notes: list[str] = field(default_factory=list)
    routing: Routing | None = None  # the payer routing it was assessed under

    @property
    def determination(self) -> Determination:
        return self.outcome.determination

    def blocking(self, status: Status) -> list[CriterionResult]:
        return [c for c in self.outcome.criteria if c.blocking and c.status == status]

    def as_contract(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "policy": {
                "id": self.policy.policy,
                "version": self.policy.version,
                "payer": self.policy.payer,
                "title": self.policy.title,
            },
            "order": self.order.as_contract(),
            "indication": None if self.indication in (None, OTHER_INDICATION) else str(self.indication),
            "dateOfService": self.order.date_of_service.isoformat(),
            "determination": str(self.determination),
            "criteria": [c.as_contract() for c in self.outcome.criteria],
            "notes": self.notes,
        }


@dataclass
class Comparison:
    """No payer's policy applies (no Coverage in force, or a payer no policy matches): every
    policy's assessment of one order, answered as one card, not one payer-named card each."""

    id: str
    order: Order
    routing: Routing
    assessments: list[Assessment]

    def as_contract(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "comparison": {
                "reason": self.routing.reason,
                "note": self.routing.note,
                "coverage": self.routing.coverage_ref,
                "payer": self.routing.payer,
                **({"excluded": self.routing.exclusion} if self.routing.exclusion else {}),
            },
            "order": self.order.as_contract(),
            "dateOfService": self.order.date_of_service.isoformat(),
            "notes": list(self.routing.notes),
            "assessments": [a.as_contract() for a in self.assessments],
        }


def _scope_exclusion(
    policy: Policy, order: Order, indication: str | None, ctx: FactContext
) -> Outcome | None:
    """The policy's own scope sentences, before any criterion: other indication, injectate, use, age."""
    scope = policy.scope
    if indication == OTHER_INDICATION:
        other = scope.other_indications
        if other is None:
            return Outcome(
                Determination.NOT_APPLICABLE,
                [],
                "the order's reason is a condition this policy does not address",
            )
        return _scoped_out(other.determination, f"{policy.policy}-other-indication", other.text, other.source)
    for ex in scope.excluded_injectates:
        hit = ex.excludes(order.injectate_classes, bool(order.injectate_ingredients))
        if hit and indication not in ex.except_indications:
            drugs = ", ".join(sorted(order.injectate_ingredients)) or "the injectate"
            why = f"the injectate ({drugs}: {', '.join(sorted(hit))}) is outside this policy"
            return _scoped_out(ex.determination, f"{policy.policy}-injectate-scope", why, ex.source)
    for excluded in scope.excluded_uses:
        uses = order.anesthesia_uses & set(excluded.uses)
        if uses:
            why = f"{', '.join(sorted(uses)).replace('-', ' ')} is outside the policy"
            return _scoped_out(
                Determination.NOT_APPLICABLE, f"{policy.policy}-use-scope", why, excluded.source
            )
    if scope.min_age_years is not None and scope.age_source is not None:
        age = compute(ctx, "age_years", {})
        if age.value is not None and age.value < scope.min_age_years:
            why = f"the patient is {age.value:g}; the policy does not address patients under {scope.min_age_years}"
            return _scoped_out(
                Determination.NOT_APPLICABLE,
                f"{policy.policy}-age-scope",
                why,
                scope.age_source,
                list(age.evidence),
            )
    return None


def _scoped_out(
    determination: Determination, crit_id: str, why: str, source: str, evidence: list[str] | None = None
) -> Outcome:
    """A scope sentence decides: not-applicable (the policy does not apply) or not covered."""
    crit = CriterionResult(crit_id, why, source, Status.NOT_MET, evidence or [], blocking=True)
    return Outcome(determination, [crit], why)


def assess_order(
    order: Order,
    record: PatientRecord,
    terminology: Terminology,
    store: PolicyStore,
    routing: Routing,
    caches: dict[date, tuple[dict[Any, Any], dict[str, Any]]] | None = None,
) -> list[Assessment]:
    """Every assessment for one in-scope order: per routed policy and candidate indication.

    `caches` holds, per date of service, the fact cache and chart indexes shared
    by every order and policy of one request: each fact is computed once.
    """
    phase = order.phase
    if phase is None:
        return []
    candidates = indications_for(order, record, terminology)
    shared = (caches if caches is not None else {}).setdefault(order.date_of_service, ({}, {}))
    out: list[Assessment] = []
    options: list[str | None] = [*candidates] or [None]
    for indication in options:
        order_facts = OrderFacts(order.reference, order.injectate_ingredients, order.injectate_classes)
        ctx = FactContext(record, terminology, order.date_of_service, order_facts, indication, *shared)
        for policy_id in routing.policy_ids:
            selection = store.in_force(policy_id, order.date_of_service)
            policy = selection.policy
            notes: list[str] = []
            if routing.comparison:
                notes.append(routing.note)
            if routing.exclusion:
                notes.append(routing.exclusion)
            notes.extend(routing.notes)
            if not selection.in_force:
                notes.append(
                    f"version {policy.version} was not yet in force on {order.date_of_service.isoformat()} "
                    f"(effective {policy.effective.isoformat()}); assessed with it as the earliest version"
                )
            if candidates == [OTHER_INDICATION]:
                notes.append(
                    "the order's reason names a condition outside the indications these policies cover"
                )
            if len(candidates) > 1:
                notes.append(f"indication ambiguous ({', '.join(candidates)}): each is assessed")
            if order.injectate_by_name:
                notes.append("the injectate was identified by drug name only (no RxNorm code)")
            if order.injectate_unidentified:
                notes.append(
                    "an ordered drug could not be identified (no known RxNorm code or name), "
                    "so the policy's injectate scope could not be checked for it"
                )
            outcome = _scope_exclusion(policy, order, indication, ctx) or _evaluate(
                policy, order, phase, indication, ctx
            )
            out.append(
                Assessment(
                    str(uuid.uuid4()),
                    policy,
                    order,
                    indication,
                    outcome,
                    notes,
                    routing,
                )
            )
    return out


def _evaluate(
    policy: Policy, order: Order, phase: Phase, indication: str | None, ctx: FactContext
) -> Outcome:
    rule, silent = policy.rule_for(indication, phase)
    if rule is not None:
        return evaluate(policy, rule, phase, ctx)
    if silent == "indication":
        crit = CriterionResult(
            f"{policy.policy}-indication",
            "The indication (pain of non-malignant or cancer origin, spasticity, dystonia) is documented.",
            policy.scope.source,
            Status.UNKNOWN,
            blocking=True,
            note="no diagnosis or order reason names an indication this policy covers",
        )
        return Outcome(Determination.DOCUMENTATION_INCOMPLETE, [crit], "the indication is not documented")
    return Outcome(Determination.NOT_APPLICABLE, [], silent or "")
