"""What of a hook call goes into the trail: ids, order references and codes, the answer's decisions.

Taken from the request as the service received it and from the answer as it
was sent (the cards' `idds-cds.assessment`, a comparison's `idds-cds.assessments`), so the trail records what was
actually answered, by a middleware rather than by code inside each route. The
hook route hands over what it already has (the parsed request body, the
rendered HookResponse) so nothing is parsed twice; when the route did not get
that far, the middleware parses the bytes it saw (`parse`).
Deliberately absent: fhirAuthorization (the token), prefetch content (the
chart), the JWT.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

ORDER_TYPES = {
    "ServiceRequest",
    "DeviceRequest",
    "MedicationRequest",
    "NutritionOrder",
    "VisionPrescription",
    "CommunicationRequest",
    "SupplyRequest",
}
MAX_ITEMS = 50
# What the answer said: (cards, systemActions, one row per card carrying an assessment).
Answer = tuple[int, int, list[dict[str, Any]]]


def parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def server_url(value: Any) -> str | None:
    """scheme://host[:port]/path: no user-info, query or fragment, where credentials could hide."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"[:500]


def _codes(resource: dict[str, Any]) -> list[str]:
    out = []
    for key in ("code", "codeCodeableConcept", "medicationCodeableConcept"):
        concept = resource.get(key)
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                out.append(f"{_str(coding.get('system'), 120) or ''}|{coding['code'][:60]}")
    return out[:10]


def _prefetch_shape(value: Any) -> str | int:
    """How a prefetch key came: its entry count, or why there was nothing (never the resources)."""
    if value is None:
        return "missing"
    if not isinstance(value, dict):
        return "not-a-resource"
    rtype = value.get("resourceType")
    if rtype == "Bundle":
        entries = value.get("entry")
        return len(entries) if isinstance(entries, list) else 0
    return rtype if rtype == "OperationOutcome" else 1


def request_summary(req: dict[str, Any]) -> dict[str, Any]:
    context = _dict(req.get("context"))
    orders: list[dict[str, Any]] = []
    for entry in _list(_dict(context.get("draftOrders")).get("entry")):
        res = _dict(entry).get("resource")
        rtype = res.get("resourceType") if isinstance(res, dict) else None
        if (
            isinstance(res, dict)
            and isinstance(rtype, str)
            and rtype in ORDER_TYPES
            and len(orders) < MAX_ITEMS
        ):
            orders.append({"reference": f"{rtype}/{_str(res.get('id'), 100)}", "codes": _codes(res)})
    selections = context.get("selections")
    prefetch = _dict(req.get("prefetch"))
    return {
        "user": _str(context.get("userId")),
        "encounter": _str(context.get("encounterId")),
        "orders": orders,
        "selections": [s[:200] for s in selections if isinstance(s, str)][:MAX_ITEMS]
        if isinstance(selections, list)
        else [],
        "prefetch": {str(k)[:40]: _prefetch_shape(v) for k, v in list(prefetch.items())[:20]},
    }


def _assessment_row(card_id: Any, a: Any) -> dict[str, Any] | None:
    """One assessment row from a card's uuid and its `idds-cds.assessment` extension."""
    if not isinstance(a, dict):
        return None
    policy, order = a.get("policy") or {}, a.get("order") or {}
    return {
        "id": card_id or a.get("id"),
        "policy_id": policy.get("id") or "",
        "policy_version": policy.get("version") or "",
        "order_ref": order.get("reference"),
        "order_code": order.get("code"),
        "phase": order.get("phase"),
        "indication": a.get("indication"),
        "determination": a.get("determination") or "",
        "criteria": [
            {"id": c.get("id"), "status": c.get("status"), "evidence": c.get("evidence") or []}
            for c in a.get("criteria") or ()
            if isinstance(c, dict)
        ],
    }


def _card_rows(card_id: Any, extension: Any) -> list[dict[str, Any]]:
    """A card's assessment rows: its `idds-cds.assessment`, or each of a comparison's
    `idds-cds.assessments` under the assessment's own id (the card's uuid is the comparison's)."""
    if not isinstance(extension, dict):
        return []
    row = _assessment_row(card_id, extension.get("idds-cds.assessment"))
    if row is not None:
        return [row]
    items = extension.get("idds-cds.assessments")
    if not isinstance(items, list):
        return []
    rows = [_assessment_row(a.get("id"), a) for a in items[:MAX_ITEMS] if isinstance(a, dict) and a.get("id")]
    return [r for r in rows if r is not None]


def assessments(response: Any) -> Answer:
    """(cards, systemActions, one row per card carrying an assessment) from a hook response body."""
    if not isinstance(response, dict):
        return 0, 0, []
    cards, actions = _list(response.get("cards")), _list(response.get("systemActions"))
    rows = []
    for card in cards:
        if isinstance(card, dict):
            rows += _card_rows(card.get("uuid"), card.get("extension"))
    return len(cards), len(actions), rows


def answered(response: Any) -> Answer:
    """The same from the HookResponse the route rendered (its cards carry the very dicts sent), no parse."""
    rows = []
    for card in response.cards:
        rows += _card_rows(card.uuid, card.extension)
    return len(response.cards), len(response.systemActions or ()), rows


def request_part(req: Any) -> dict[str, Any] | None:
    """The request's share of the hook_call row, or None when the request named no hook instance."""
    if not isinstance(req, dict) or not isinstance(req.get("hookInstance"), str) or not req["hookInstance"]:
        return None
    context = _dict(req.get("context"))
    return {
        "hook": _str(req.get("hook"), 64),
        "hook_instance": req["hookInstance"][:200],
        "patient_id": _str(context.get("patientId")),
        "fhir_server": server_url(req.get("fhirServer")),
        "request_summary": request_summary(req),
    }


def hook_call_row(
    service_id: str,
    part: dict[str, Any] | None,
    status: int,
    answer: Answer | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The hook_call and assessment rows from `request_part` and the answer's (cards, actions, rows); None without a hook instance."""
    if part is None:
        return None
    cards, actions, rows = answer if status == 200 and answer is not None else (0, 0, [])
    call = part | {
        "service_id": service_id[:100],
        "cards": cards,
        "system_actions": actions,
        "status_code": status,
    }
    return call, rows
