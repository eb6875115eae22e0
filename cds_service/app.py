"""The CDS Hooks service: discovery, order-select / order-sign, feedback, policy pages.

Importable as `cds_service.app:app`; `create_app()` builds one with injected
services for tests.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from . import __version__, api_docs, audit, auth, hook_body, log_redaction, logs, ops, packet
from .cards import card, failure_card, system_actions
from .discovery import HOOK_BY_SERVICE, configuration, discovery
from .errors import operation_outcome
from .hook_models import Feedback, HookRequest, HookResponse
from .notice_cards import orders_capped_card, unreadable_order_card
from .pipeline import assess_hook, concerns_no_policy
from .policy_store import cited_sentences
from .policy_text import render_html
from .prefetch import PatientUnavailable, finish_record, gather_record
from .questionnaire.routes import router as questionnaire_router
from .services import Services, get_services
from .smart import smart_router
from .web_security import ForwardedHeaders, SecurityHeaders

log = logging.getLogger("idds")


def create_app(services: Services | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "services", None) is None:  # a real start (tests inject their services)
            app.state.services = Services.load()
            logs.configure(app.state.services.settings)  # one handler for ours and uvicorn's lines
            # Policies, mappings and models live as long as the process: moved out of the
            # collector's reach, a full collection no longer re-scans them (bench/: the
            # heavy request's time roughly halves).
            gc.freeze()
            # A request's parsed chart is thousands of young containers, ten calls at once many more:
            # at the default 700 the collector ran every few hundred allocations and cost about a
            # fifth of the CPU of an assessed order under load (bench/results.md); at 20,000 young
            # collections still ran while ten calls were alive and walked their charts (about 1 ms a
            # call, ten typical calls at once in process); at 100,000 they hardly run, and server CPU
            # per call was about 12 % lower under wrk (alternating rounds). Cyclic garbage waits at
            # most that many allocations; full collections still run.
            gc.set_threshold(100_000, 10, 10)
        yield

    log_redaction.install()
    app = FastAPI(
        title="idds-cds",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="CDS Hooks coverage requirements for intrathecal drug delivery systems",
    )
    api_docs.install(app)  # /docs from packaged assets (no CDN); the hook bodies in /openapi.json
    app.state.services = services
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        max_age=600,
    )
    auth.install(app)  # bare 401 for refused callers; start-up warning when auth is off
    audit.install(app)  # one audit record per hook call; migrations at start-up
    ops.install(app)  # /healthz, /readyz, /metrics; hook calls counted and timed (outside the audit commit)
    app.add_middleware(SecurityHeaders)  # nosniff, no-referrer, CSP with frame-ancestors on every answer
    app.add_middleware(ForwardedHeaders)  # X-Forwarded-* only from IDDS_TRUSTED_PROXIES (outermost)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return operation_outcome(400, _describe(exc.errors()))

    @app.get("/cds-services", dependencies=[Depends(auth.verify_caller)])
    async def get_discovery() -> dict[str, Any]:
        return discovery()

    @app.post(
        "/cds-services/{service_id}",
        response_model=HookResponse,
        response_model_exclude_none=True,
        dependencies=[Depends(auth.verify_caller)],
    )
    async def call_hook(service_id: str, request: Request, services: Services = Depends(get_services)):
        hook = HOOK_BY_SERVICE.get(service_id)
        if hook is None:
            return operation_outcome(404, f"no CDS service {service_id!r}", "not-found")
        raw = await _read_body(request, services.settings.max_body_bytes)
        if isinstance(raw, JSONResponse):
            return raw
        quick = _concerns_no_policy(request, hook, hook_body.light(raw), services)
        if quick is not None:
            return quick
        body = _parse(raw)
        if isinstance(body, JSONResponse):
            return body
        audit.note_request(request, body)  # the trail's summary, from this parse rather than a second one
        try:
            req = HookRequest.model_validate(body)
        except ValidationError as exc:
            return operation_outcome(400, _describe(exc.errors()))
        if req.hook != hook:
            return operation_outcome(400, f"service {service_id} answers {hook}, not {req.hook}")
        record = await gather_record(req, services.settings, services.fhir_transport)
        options = configuration(req.extension)
        base = services.settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
        smart = services.settings.smart_app_url or f"{base}/smart/launch"
        try:
            # CPU-bound (validation, the engine, rendering) and the shared database: one worker
            # thread hop for all of it, so a call with a big chart never stalls discovery or the
            # other calls on the event loop.
            done = await run_in_threadpool(_in_thread, req, record, services, base, smart, options)
        except PatientUnavailable as exc:  # the reason names the fetch's fault (deadline, size, refusal)
            return operation_outcome(
                412, f"the Patient resource is neither in prefetch nor retrievable ({exc})"[:500], "not-found"
            )
        if done is None:
            return _hook_json(HookResponse(cards=[failure_card()]))
        outcome, _shown, cards, actions = done
        log.info(
            "hook %s instance=%s patient=%s orders=%d cards=%d",
            hook,
            req.hookInstance,
            req.context.patientId,
            len(outcome.orders),
            len(cards),
        )
        answer = HookResponse(cards=cards, systemActions=actions)
        audit.note_answer(request, answer)  # the trail takes the assessments from the cards sent, unparsed
        return _hook_json(answer)

    @app.post("/cds-services/{service_id}/feedback", dependencies=[Depends(auth.verify_caller)])
    async def feedback(service_id: str, request: Request, services: Services = Depends(get_services)):
        if service_id not in HOOK_BY_SERVICE:
            return operation_outcome(404, f"no CDS service {service_id!r}", "not-found")
        limits = services.settings
        body = await _json_body(request, limits.feedback_max_body_bytes)
        if isinstance(body, JSONResponse):
            return body
        try:
            fb = Feedback.model_validate(body)
        except ValidationError as exc:
            return operation_outcome(400, _describe(exc.errors()))
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

    @app.get("/policies")
    async def list_policies(services: Services = Depends(get_services)) -> list[dict[str, Any]]:
        return [
            {
                "id": p.policy,
                "version": p.version,
                "payer": p.payer,
                "title": p.title,
                "effective": p.effective.isoformat(),
                "url": f"/policies/{p.policy}/{p.version}",
            }
            for p in services.store.all()
        ]

    @app.get("/policies/{policy_id}/{version}", response_class=HTMLResponse)
    async def policy_page(policy_id: str, version: str, services: Services = Depends(get_services)):
        policy = services.store.get(policy_id, version)
        if policy is None:
            return operation_outcome(404, f"no policy {policy_id} version {version}", "not-found")
        return HTMLResponse(
            render_html(
                policy.seed, f"{policy.payer} – {policy.title} ({policy.version})", cited_sentences(policy)
            )
        )

    @app.get("/fhir/CodeSystem/idds")
    async def codesystem(services: Services = Depends(get_services)):
        return JSONResponse(services.codesystem, media_type="application/fhir+json")

    @app.get("/assessments/{assessment_id}")
    async def get_assessment(assessment_id: str, services: Services = Depends(get_services)):
        found = await run_in_threadpool(services.recall, assessment_id)  # the shared database
        if found is None:
            return operation_outcome(404, "unknown or expired assessment id", "not-found")
        return found

    app.include_router(smart_router)
    app.include_router(packet.router)
    app.include_router(questionnaire_router)  # /fhir/Questionnaire… (DTR)
    return app


def _in_thread(
    req: HookRequest,
    record,
    services: Services,
    base: str,
    smart: str,
    options: dict[str, Any],
):
    """The record finished (PatientUnavailable when it has no Patient), assessed, and what the cards'
    links need kept: the route's one worker-thread hop. None when the assessment failed (the
    clinician gets the failure card, never a 500 mid-ordering)."""
    finish_record(record, req.context.patientId)
    try:
        done = _assess(req, record, services, base, smart, options)
    except Exception:  # a bug must not cost the clinician a 500 mid-ordering
        log.exception(
            "assessment failed: hook=%s instance=%s patient=%s",
            req.hook,
            req.hookInstance,
            req.context.patientId,
        )
        return None
    _keep(services, done[1], record, req.fhirServer)  # the shared database: every worker opens the link
    return done


def _assess(
    req: HookRequest,
    record,
    services: Services,
    base: str,
    smart: str,
    options: dict[str, Any],
    today: date | None = None,
):
    """(outcome, the assessments shown, cards, system actions); run in a worker thread (`idds-cds assess`
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
) -> Response | None:
    """An order no policy concerns, answered from the draft orders alone (no prefetch built,
    validated or fetched): no cards, as the full assessment answers it. None: take the full path."""
    if light is None:
        return None
    try:
        req = HookRequest.model_validate(light)
    except ValidationError:
        return None  # the full path says why
    if req.hook != hook or not concerns_no_policy(
        req, services.terminology, services.settings.max_orders_per_call
    ):
        return None
    audit.note_request(request, light)  # ids, order codes, prefetch entry counts: all the trail keeps
    log.info(
        "hook %s instance=%s patient=%s orders=0 cards=0 (no order a policy concerns)",
        hook,
        req.hookInstance,
        req.context.patientId,
    )
    answer = HookResponse()
    audit.note_answer(request, answer)
    return _hook_json(answer)


def _keep(services: Services, shown, record, fhir_server: str | None) -> None:
    """The assessments (and packets) behind the cards' links; a database fault loses the links, never the cards."""
    try:
        for a in shown:
            services.remember(a.id, a.as_contract())
            packet.keep(services, a, record, fhir_server)
    except Exception:
        log.exception("could not keep %d assessment(s) for their checklist links", len(shown))


async def _json_body(request: Request, limit: int) -> Any:
    raw = await _read_body(request, limit)
    return raw if isinstance(raw, JSONResponse) else _parse(raw)


async def _read_body(request: Request, limit: int) -> bytes | JSONResponse:
    too_large = operation_outcome(413, f"request body larger than {limit} bytes", "too-costly")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        return too_large
    # Read as it comes and stop at the limit: a chunked body (no Content-Length) is never held whole.
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return operation_outcome(400, f"request body is not valid JSON: {exc}")


def _hook_json(response: HookResponse) -> Response:
    """The answer rendered by pydantic-core straight to bytes: returned as a model, FastAPI
    would first validate every card again against the response model, then encode it twice."""
    return Response(response.to_json(), media_type="application/json")


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts) or "invalid request"


app = create_app()
