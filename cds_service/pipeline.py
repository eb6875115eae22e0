"""Hook request → assessments: orders, payer routing, and one assessment per (order, policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .assessment import Assessment, assess_order
from .codes import Terminology
from .hook_models import HookRequest
from .orders import ORDER_TYPES, Order, classify
from .payers import Routing, route
from .policy_store import PolicyStore
from .record import PatientRecord


@dataclass
class HookOutcome:
    orders: list[Order]
    assessments: list[Assessment]
    routing: Routing
    record: PatientRecord


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
    draft = draft_resources(req.context.draftOrders, record)
    chosen = orders_to_assess(req, draft, record)
    orders = [classify(o, draft, record, terminology, today) for o in chosen]
    routing = route(record, terminology, store.policy_ids)
    caches: dict = {}
    assessments = [a for o in orders for a in assess_order(o, record, terminology, store, routing, caches)]
    return HookOutcome(orders, assessments, routing, record)
