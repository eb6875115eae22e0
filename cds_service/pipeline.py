"""Hook request → assessments: orders, payer routing, and one assessment per (order, policy).

The payer is routed per order (the Coverage in force on that order's date of
service). When no payer's policy applies, an order's assessments are folded
into one Comparison: one card per order, not one payer-named card per policy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .assessment import Assessment, Comparison, assess_order
from .codes import Terminology
from .hook_models import HookRequest
from .orders import ORDER_TYPES, Order, _order_concept, classify
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
    not_assessed: list[str] = field(default_factory=list)  # order references past the per-call cap
    unreadable: list[tuple[str, str]] = field(
        default_factory=list
    )  # (IDDS order reference, what was unreadable)

    @property
    def every_assessment(self) -> list[Assessment]:
        """Each (order, policy) assessment, a comparison's unfolded."""
        return [
            a
            for item in self.assessments
            for a in (item.assessments if isinstance(item, Comparison) else [item])
        ]


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


IDDS_ORDER_SETS = ("order-trial-injection", "order-implant", "order-replacement-only")


def _candidates(req: HookRequest, draft: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The orders this hook asks about: order-select's selections, order-sign's every order."""
    orders = [r for r in draft if r.get("resourceType") in ORDER_TYPES]
    if req.hook == "order-select":
        wanted = set(req.context.selections)
        orders = [r for r in orders if f"{r.get('resourceType')}/{r.get('id')}" in wanted]
    return orders


def concerns_no_policy(req: HookRequest, terminology: Terminology, limit: int | None = None) -> bool:
    """True when assess_hook would answer nothing whatever the chart holds: every draft entry is a
    resource, no order asked about is an IDDS order (classify gives each no phase: no card, no
    unreadable-order card), and none is past the per-call cap (that has its card). Reads
    context.draftOrders only, so the route can answer before prefetch is built or fetched."""
    draft_orders = req.context.draftOrders
    entries = draft_orders.get("entry") if draft_orders.get("resourceType") == "Bundle" else None
    if not isinstance(entries, list):
        return False
    draft = [e.get("resource") for e in entries if isinstance(e, dict)]
    resources = [r for r in draft if isinstance(r, dict) and isinstance(r.get("resourceType"), str)]
    if len(resources) != len(entries):
        return False
    orders = _candidates(req, resources)
    if limit is not None and len(orders) > limit:
        return False
    return not any(terminology.in_set(_order_concept(o), vs) for o in orders for vs in IDDS_ORDER_SETS)


@dataclass
class Chosen:
    """The orders a call asks about, read: those to assess, those past the cap, those unreadable."""

    orders: list[dict[str, Any]]
    not_assessed: list[str] = field(default_factory=list)  # order references past the per-call cap
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (IDDS order reference, what)


def orders_to_assess(
    req: HookRequest,
    draft: list[dict[str, Any]],
    record: PatientRecord,
    limit: int | None = None,
    terminology: Terminology | None = None,
) -> Chosen:
    """order-select: only the selections; order-sign: every draft order. At most `limit` are
    read (the rest are `not_assessed`); an IDDS order that is not valid FHIR (an unreadable
    date, say) is `unreadable`, with what was wrong (told apart with the terminology)."""
    orders = _candidates(req, draft)
    chosen = Chosen([])
    if limit is not None and len(orders) > limit:
        chosen.not_assessed = [f"{r.get('resourceType')}/{r.get('id')}" for r in orders[limit:]]
        orders = orders[:limit]
    for o in orders:
        before = len(record.issues)
        if record.usable(o):
            chosen.orders.append(o)
        elif (
            terminology is not None
            and len(record.issues) > before
            and any(terminology.in_set(_order_concept(o), vs) for vs in IDDS_ORDER_SETS)
        ):
            chosen.unreadable.append((f"{o.get('resourceType')}/{o.get('id')}", record.issues[before]))
    return chosen


def assess_hook(
    req: HookRequest,
    record: PatientRecord,
    terminology: Terminology,
    store: PolicyStore,
    today: date,
    max_orders: int | None = None,
) -> HookOutcome:
    read_answers(record, questionnaires(store))  # completed questionnaire answers are documentation
    draft = draft_resources(req.context.draftOrders, record)
    chosen = orders_to_assess(req, draft, record, max_orders, terminology)
    orders = [classify(o, draft, record, terminology, today) for o in chosen.orders]
    caches: dict[date, tuple[dict[Any, Any], dict[Any, Any]]] = {}
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
    return HookOutcome(orders, answers, overall, record, chosen.not_assessed, chosen.unreadable)
