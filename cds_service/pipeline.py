"""Hook request → assessments: orders, payer routing, and one assessment per (order, policy).

The payer is routed per order (the Coverage in force on that order's date of
service). When no payer's policy applies, an order's assessments are folded
into one Comparison: one card per order, not one payer-named card per policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import uuid

from .assessment import Assessment, Comparison, assess_order
from .codes import Terminology
from .hook_models import HookRequest
from .orders import ORDER_TYPES, Order, classify
from .payers import Routing, route
from .policy_store import PolicyStore
from .questionnaire.answers import read_answers
from .questionnaire.build import questionnaires
from .record import PatientRecord


@dataclass
class HookOutcome:
    orders: list[Order]
    # One entry per card: an Assessment per (order, policy) when the payer is known,
    # one Comparison per order when it is not.
    assessments: list[Assessment | Comparison]
    routing: Routing  # the first order's payer routing (a comparison only when every order's is)
    record: PatientRecord

    @property
    def every_assessment(self) -> list[Assessment]:
        """Each (order, policy) assessment, a comparison's unfolded."""
        return [a for item in self.assessments for a in (item.assessments if isinstance(item, Comparison) else [item])]


def draft_resources(draft_orders: dict[str, Any], record: PatientRecord) -> list[dict[str, Any]]:
    entries = draft_orders.get("entry") if draft_orders.get("resourceType") == "Bundle" else None
    if not isinstance(entries, list):
        record.issues.append("context.draftOrders was not a Bundle; no order could be read.")
        return []
    out = []
    for entry in entries:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and isinstance(res.get("resourceType"), str):
            out.append(res)
        else:
            record.issues.append("An entry of context.draftOrders was not a FHIR resource and was ignored.")
    return out


def orders_to_assess(req: HookRequest, draft: list[dict[str, Any]], record: PatientRecord) -> list[dict[str, Any]]:
    """order-select: only the selections; order-sign: every draft order."""
    orders = [r for r in draft if r.get("resourceType") in ORDER_TYPES]
    if req.hook == "order-select":
        wanted = set(req.context.selections)
        orders = [r for r in orders if f"{r.get('resourceType')}/{r.get('id')}" in wanted]
    return [o for o in orders if record.usable(o)]


def assess_hook(
    req: HookRequest, record: PatientRecord, terminology: Terminology, store: PolicyStore, today: date
) -> HookOutcome:
    read_answers(record, questionnaires(store))  # completed questionnaire answers are documentation
    draft = draft_resources(req.context.draftOrders, record)
    chosen = orders_to_assess(req, draft, record)
    orders = [classify(o, draft, record, terminology, today) for o in chosen]
    caches: dict = {}
    routings: dict[date, Routing] = {}

    def routing_on(dos: date) -> Routing:
        if dos not in routings:
            names = {}
            for pid in store.policy_ids:
                p = store.in_force(pid, dos).policy
                names[pid] = f"{p.payer} {p.title}"
            routings[dos] = route(record, terminology, store.policy_ids, dos, names)
        return routings[dos]

    answers: list[Assessment | Comparison] = []
    for o in orders:
        routing = routing_on(o.date_of_service)
        found = assess_order(o, record, terminology, store, routing, caches)
        if routing.comparison and found:
            answers.append(Comparison(str(uuid.uuid4()), o, routing, found))
        else:
            answers.extend(found)
    used = [routing_on(o.date_of_service) for o in orders if o.phase is not None]
    overall = next((r for r in used if not r.comparison), used[0] if used else routing_on(today))
    return HookOutcome(orders, answers, overall, record)
