"""The CDS Hooks routes: discovery, order-select / order-sign, feedback.

One router, every route behind the caller's JWT (`auth.verify_caller`, a no-op
with authentication off). The hook route reads its own body (bounded,
streamed; api_docs.py puts HookRequest in the OpenAPI document for it),
answers an order no policy concerns from the draft orders alone, and runs the
CPU-bound assessment in a worker thread (a small call, settings.inline_assessment_*, on
the event loop: a few milliseconds, without the thread's hand-offs).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from . import audit, hook_body, packet
from .assessment import Assessment, Comparison
from .auth import verify_caller
from .cards import card, failure_card, system_actions
from .discovery import HOOK_BY_SERVICE, configuration, discovery
from .errors import describe, operation_outcome
from .hook_models import Action, Card, Feedback, HookRequest, HookResponse
from .notice_cards import orders_capped_card, unreadable_order_card
from .pipeline import HookOutcome, assess_hook, concerns_no_policy
from .prefetch import PatientUnavailable, finish_record, gather_record
from .record import PatientRecord
from .request_body import json_body, parse_json, read_body
from .services import Services, ServicesDep
from .state.store import Upsert

log = logging.getLogger("idds")

router = APIRouter(dependencies=[Depends(verify_caller)])

# What one assessed call answers: the outcome, the assessments shown, the cards and the system actions.
Answer = tuple[HookOutcome, list[Assessment | Comparison], list[Card], list[Action]]


@router.get("/cds-services")
async def get_discovery() -> dict[str, Any]:
    return discovery()


@router.post("/cds-services/{service_id}", response_model=HookResponse, response_model_exclude_none=True)
async def call_hook(service_id: str, request: Request, services: ServicesDep) -> Response:
    hook = HOOK_BY_SERVICE.get(service_id)
    if hook is None:
        return operation_outcome(404, f"no CDS service {service_id!r}", "not-found")
    raw = await read_body(request, services.settings.max_body_bytes)
    if isinstance(raw, JSONResponse):
        return raw
    light = hook_body.light(raw)
    req, quick = _concerns_no_policy(request, hook, light, services)
    if quick is not None:
        return quick
    if req is None:  # not readable as it is: parsed whole, and the 400 says what is wrong
        body = light if light is not None else parse_json(raw)
        if isinstance(body, JSONResponse):
            return body
        audit.note_request(request, hook_body.for_audit(body))
        try:
            req = HookRequest.model_validate(body)
        except ValidationError as exc:
            return operation_outcome(400, describe(exc.errors()))
    else:
        audit.note_request(request, hook_body.for_audit(light or {}))  # the trail's summary, unbuilt
    if req.hook != hook:
        return operation_outcome(400, f"service {service_id} answers {hook}, not {req.hook}")
    try:
        record = await gather_record(req, services.settings, services.fhir_transport)
    except hook_body.Unreadable as exc:  # what the whole-body parse refused, refused the same way
        return operation_outcome(400, f"request body is not valid JSON: {exc}")
    options = configuration(req.extension)
    base = services.settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
    smart = services.settings.smart_app_url or f"{base}/smart/launch"
    try:
        # CPU-bound (validation, the engine, rendering): one worker thread hop for all of it, so a
        # call with a big chart never stalls discovery or the other calls on the event loop; a
        # small one (`_on_the_loop`) is done here, as quickly as the hop alone would cost.
        carried = audit.carries_links(request)
        if _on_the_loop(services, len(raw), req, carried):
            done = _assess_call(req, record, services, base, smart, options, carried)
        else:
            done = await run_in_threadpool(_assess_call, req, record, services, base, smart, options, carried)
    except PatientUnavailable as exc:  # the reason names the fetch's fault (deadline, size, refusal)
        return operation_outcome(
            412, f"the Patient resource is neither in prefetch nor retrievable ({exc})"[:500], "not-found"
        )
    if done is None:
        return _hook_json(HookResponse(cards=[failure_card()]))
    (outcome, _shown, cards, actions), links = done
    audit.note_links(request, services.state, links)  # committed with the audit record
    log.info(
        "hook %s instance=%s patient=%s orders=%d cards=%d",
        hook,
        req.hookInstance,
        req.context.patientId,
        len(outcome.orders),
        len(cards),
    )
    response = HookResponse(cards=cards, systemActions=actions)
    audit.note_answer(request, response)  # the trail takes the assessments from the cards sent, unparsed
    return _hook_json(response)


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request, services: ServicesDep) -> JSONResponse:
    if service_id not in HOOK_BY_SERVICE:
        return operation_outcome(404, f"no CDS service {service_id!r}", "not-found")
    limits = services.settings
    body = await json_body(request, limits.feedback_max_body_bytes)
    if isinstance(body, JSONResponse):
        return body
    try:
        fb = Feedback.model_validate(body)
    except ValidationError as exc:
        return operation_outcome(400, describe(exc.errors()))
    if len(fb.feedback) > limits.feedback_max_outcomes:
        return operation_outcome(
            413,
            f"more than {limits.feedback_max_outcomes} feedback outcomes in one request",
            "too-costly",
        )
    if any(len(o.comment()) > limits.feedback_max_comment_chars for o in fb.feedback):
        return operation_outcome(
            413,
            f"an override comment longer than {limits.feedback_max_comment_chars} characters",
            "too-costly",
        )
    ids = list(dict.fromkeys(o.card for o in fb.feedback))
    known = await audit.known_cards(request.app, ids)
    if known is not None and len(known) < len(ids):
        unknown = [i for i in ids if i not in known]
        return operation_outcome(
            404, f"unknown card(s): {', '.join(repr(i[:60]) for i in unknown[:5])}", "not-found"
        )
    log.info("feedback %s: %d outcome(s)", service_id, len(fb.feedback))
    await audit.record_feedback(request, service_id, fb)
    return JSONResponse({"accepted": len(fb.feedback)})


def _on_the_loop(services: Services, size: int, req: HookRequest, carried: bool) -> bool:
    """A call small enough to assess on the event loop (settings.inline_assessment_*): a body and
    a number of draft orders that bound its assessment to a few milliseconds, and its links
    committed by the audit writer (`carried`), so it touches no database on the loop."""
    settings = services.settings
    entries = req.context.draftOrders.get("entry")
    orders = len(entries) if isinstance(entries, list) else 0
    return (
        carried
        and size <= settings.inline_assessment_max_bytes
        and orders <= settings.inline_assessment_max_orders
    )


def _assess_call(
    req: HookRequest,
    record: PatientRecord,
    services: Services,
    base: str,
    smart: str,
    options: dict[str, Any],
    carried: bool = False,
) -> tuple[Answer, list[Upsert]] | None:
    """The record finished (PatientUnavailable when it has no Patient), assessed, and what the cards'
    links need kept: in the route's one worker-thread hop, or on the loop for a small call
    (`_on_the_loop`). None when the assessment failed (the
    clinician gets the failure card, never a 500 mid-ordering). `carried`: the audit middleware
    commits the links' upserts with the call's record (one commit a call); they are collected
    and returned rather than written here."""
    finish_record(record, req.context.patientId)
    try:
        done = answer(req, record, services, base, smart, options)
    except Exception:  # a bug must not cost the clinician a 500 mid-ordering
        log.exception(
            "assessment failed: hook=%s instance=%s patient=%s",
            req.hook,
            req.hookInstance,
            req.context.patientId,
        )
        return None
    if not carried:
        _keep(services, done[1], record, req.fhirServer)  # the shared database: every worker opens the link
        return done, []
    with services.state.collecting() as links:
        _keep(services, done[1], record, req.fhirServer)
    return done, links


def answer(
    req: HookRequest,
    record: PatientRecord,
    services: Services,
    base: str,
    smart: str,
    options: dict[str, Any],
    today: date | None = None,
) -> Answer:
    """(outcome, the assessments shown, cards, system actions); CPU-bound, run off the event loop
    unless the call is small (`_on_the_loop`; `idds-cds assess`
    gives its own date)."""
    today = today or date.today()
    cap = services.settings.max_orders_per_call
    outcome = assess_hook(req, record, services.terminology, services.store, today, cap)
    notices = [unreadable_order_card(ref, why) for ref, why in outcome.unreadable]
    if outcome.not_assessed:
        notices.append(orders_capped_card(outcome.not_assessed, cap))
    if outcome.routing.comparison and not options["comparison"]:
        return outcome, [], notices, []
    cards = [card(a, record, base, smart) for a in outcome.assessments] + notices
    actions = (
        system_actions(outcome.assessments, req.hook, outcome.routing, today)
        if options["coverage-info"]
        else []
    )
    return outcome, outcome.assessments, cards, actions


def _concerns_no_policy(
    request: Request, hook: str, light: dict[str, Any] | None, services: Services
) -> tuple[HookRequest | None, Response | None]:
    """(the request read from the light scan, or None; the answer when no policy concerns its
    orders, or None). Such an order is answered from the draft orders alone (no prefetch built,
    validated or fetched): no cards, as the full assessment answers it. With no answer, the
    full path takes the chart from the same scan (prefetch values left as bytes)."""
    if light is None:
        return None, None
    try:
        req = HookRequest.model_validate(light)
    except ValidationError:
        return None, None  # the full path says why
    if req.hook != hook or not concerns_no_policy(
        req, services.terminology, services.settings.max_orders_per_call
    ):
        return req, None
    audit.note_request(request, hook_body.for_audit(light))  # ids, order codes, prefetch entry counts
    log.info(
        "hook %s instance=%s patient=%s orders=0 cards=0 (no order a policy concerns)",
        hook,
        req.hookInstance,
        req.context.patientId,
    )
    response = HookResponse()
    audit.note_answer(request, response)
    return req, _hook_json(response)


def _keep(
    services: Services, shown: list[Assessment | Comparison], record: PatientRecord, fhir_server: str | None
) -> None:
    """The assessments (and packets) behind the cards' links; a database fault loses the links, never the cards."""
    try:
        for a in shown:
            services.remember(a.id, a.as_contract())
            packet.keep(services, a, record, fhir_server)
    except Exception:
        log.exception("could not keep %d assessment(s) for their checklist links", len(shown))


def _hook_json(response: HookResponse) -> Response:
    """The answer rendered by pydantic-core straight to bytes: returned as a model, FastAPI
    would first validate every card again against the response model, then encode it twice."""
    return Response(response.to_json(), media_type="application/json")
