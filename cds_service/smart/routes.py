"""/smart/*: EHR launch, callback, checklist and printable summary.

Three ways in, one page:
- a SMART EHR launch (/smart/launch → EHR authorize → /smart/callback), after
  which the checklist reads the launched patient's chart with the token kept
  server-side;
- the card's `appContext` (`?assessment=<id>`), from the assessments the
  service remembers;
- an open FHIR server on IDDS_ALLOWED_FHIR_SERVERS (`?iss=…&patient=…`), for
  the sandbox; off when caller authentication is on.

A launch's `state` is bound to the browser that started it (an HttpOnly nonce
cookie); the redirect URI and the cookies' Secure flag come from configuration
(docs/trust.md, part 6).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..prefetch import PatientUnavailable
from ..services import Services, get_services
from . import chart as live
from .checklist import sheet
from .evidence import index
from .html import View, checklist_page, error_page, summary_page
from .oauth import (
    LaunchError,
    PendingLaunch,
    Session,
    SmartState,
    authorize_url,
    browser_binding,
    discover,
    exchange_code,
    host_of,
    pkce_pair,
)

log = logging.getLogger("idds.smart")
router = APIRouter(prefix="/smart", tags=["smart"])
COOKIE = "idds_smart_session"
LAUNCH_COOKIE = "idds_smart_launch"  # the nonce binding a launch's state to the browser that started it
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _state(request: Request) -> SmartState:
    """Launches and sessions in the app's shared database (every worker and host reads the same)."""
    services: Services = request.app.state.services
    return SmartState(services.state, services.smart.launch_ttl_seconds)


def _base(request: Request, services: Services) -> str:
    return services.settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")


def _redirect_uri(request: Request, services: Services) -> str | None:
    """IDDS_SMART_REDIRECT_URI, else IDDS_PUBLIC_BASE_URL/smart/callback; from the request's Host
    only with authentication off (a laptop). None: not configured, the launch is refused."""
    cfg = services.smart
    if cfg.redirect_uri:
        return cfg.redirect_uri
    if services.settings.public_base_url:
        return services.settings.public_base_url.rstrip("/") + "/smart/callback"
    if services.settings.require_auth:
        return None
    return f"{_base(request, services)}/smart/callback"


def _error(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(error_page(title, message), status_code=status, headers=NO_STORE)


@router.get("/launch")
async def launch(
    request: Request,
    launch: str | None = None,
    iss: str | None = None,
    services: Services = Depends(get_services),
):
    if not iss or not launch:
        return _error(
            "Cannot start the checklist",
            "An EHR launch needs both `iss` and `launch`. "
            "For an open sandbox server use /smart/checklist?iss=…&patient=….",
            400,
        )
    if not services.settings.fhir_server_allowed(iss):
        log.info("smart launch refused: %s not allowed", host_of(iss))
        return _error(
            "FHIR server not allowed",
            "This EHR's FHIR server is not on the service's list of allowed servers "
            "(IDDS_ALLOWED_FHIR_SERVERS).",
            403,
        )
    cfg = services.smart
    redirect_uri = _redirect_uri(request, services)
    if redirect_uri is None:
        log.error(
            "smart launch refused: no IDDS_SMART_REDIRECT_URI or IDDS_PUBLIC_BASE_URL with authentication on"
        )
        return _error(
            "Checklist not configured",
            "The service has no redirect address configured for sign-in "
            "(IDDS_SMART_REDIRECT_URI or IDDS_PUBLIC_BASE_URL).",
            503,
        )
    try:
        endpoints = await discover(iss, cfg.http_timeout_seconds, services.settings.require_auth)
    except LaunchError as exc:
        return _error("Cannot start the checklist", str(exc), exc.status)
    verifier, challenge = pkce_pair()
    nonce = request.cookies.get(LAUNCH_COOKIE) or ""
    if len(nonce) != 43 or not nonce.replace("-", "").replace("_", "").isalnum():
        nonce = secrets.token_urlsafe(32)  # one per browser; launches in two tabs share it
    pending = PendingLaunch(
        iss, endpoints.token_endpoint, redirect_uri, verifier, time.time(), browser_binding(nonce)
    )
    state = await run_in_threadpool(_state(request).start, pending)  # the shared database, off the event loop
    url = authorize_url(
        endpoints,
        client_id=cfg.client_id,
        redirect_uri=redirect_uri,
        scope=cfg.scope,
        state=state,
        iss=iss,
        launch=launch,
        challenge=challenge,
    )
    log.info("smart launch from %s: redirect to authorize", host_of(iss))
    response = RedirectResponse(url, status_code=302, headers=NO_STORE)
    response.set_cookie(
        LAUNCH_COOKIE,
        nonce,
        max_age=cfg.launch_ttl_seconds,
        path="/smart",
        httponly=True,
        samesite="lax",
        secure=services.settings.cookies_secure,
    )
    return response


@router.get("/callback")
async def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    services: Services = Depends(get_services),
):
    store = _state(request)
    cfg = services.smart
    if error:
        with contextlib.suppress(LaunchError):  # only the browser that started the launch may cancel it
            await run_in_threadpool(store.finish, state, request.cookies.get(LAUNCH_COOKIE))
        return _error("Sign-in was not completed", f"The EHR answered: {error}.", 400)
    try:
        pending = await run_in_threadpool(store.finish, state, request.cookies.get(LAUNCH_COOKIE))
        if not code:
            raise LaunchError("The EHR returned no authorization code.", 400)
        token = await exchange_code(pending, code, cfg.client_id, cfg.http_timeout_seconds)
    except LaunchError as exc:
        log.info("smart callback refused: %s", exc)
        return _error("Sign-in failed", str(exc), exc.status)
    lifetime = (
        token.get("expires_in") if isinstance(token.get("expires_in"), int) else cfg.session_ttl_seconds
    )
    session = Session(
        pending.iss,
        token["patient"],
        token["access_token"],
        time.time() + lifetime,
        token.get("appContext") if isinstance(token.get("appContext"), str) else None,
        token.get("scope") if isinstance(token.get("scope"), str) else None,
    )
    sid = await run_in_threadpool(store.open_session, session)
    log.info("smart session opened: patient=%s server=%s", session.patient, host_of(session.iss))
    response = RedirectResponse("/smart/checklist", status_code=303, headers=NO_STORE)
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(lifetime),
        path="/smart",
        httponly=True,
        samesite="lax",
        secure=services.settings.cookies_secure,
    )  # from configuration, never the request's scheme
    return response


def _app_context_assessment(session: Session) -> str | None:
    if not session.app_context:
        return None
    return (parse_qs(session.app_context).get("assessment") or [None])[0]


async def _view(
    request: Request,
    services: Services,
    assessment: str | None,
    iss: str | None,
    patient: str | None,
    order: str | None,
) -> View | HTMLResponse:
    store = services.store
    if assessment:
        found = await run_in_threadpool(services.recall, assessment)
        if found is None:
            return _error(
                "Assessment not found",
                "This assessment is no longer kept by the service (only recent ones are). "
                "Select the order again to get a fresh one.",
                404,
            )
        return View([sheet(found, store)], params={"assessment": assessment})
    if iss or patient:
        if services.settings.require_auth:
            return _error(
                "Open the checklist from the EHR",
                "Opening a chart by `iss` and `patient` is for open sandbox "
                "servers and is turned off while caller authentication is on.",
                403,
            )
        if not (iss and patient):
            return _error(
                "Cannot open the checklist", "Give both `iss` (an open FHIR server) and `patient`.", 400
            )
        if not services.settings.fhir_server_allowed(iss):
            return _error(
                "FHIR server not allowed", "This FHIR server is not on IDDS_ALLOWED_FHIR_SERVERS.", 403
            )
        params = {"iss": iss, "patient": patient, **({"order": order} if order else {})}
        return await _live_view(services, iss, patient, None, order, params, None)
    session = await run_in_threadpool(_state(request).session, request.cookies.get(COOKIE))
    if session is None:
        return _error(
            "Open the checklist from the EHR",
            "No SMART session: launch the app from the EHR, follow a card's checklist link, "
            "or open /smart/checklist?iss=…&patient=… for an open sandbox server.",
            401,
        )
    return await _live_view(
        services,
        session.iss,
        session.patient,
        session.access_token,
        order,
        {"order": order} if order else {},
        _app_context_assessment(session),
    )


async def _live_view(
    services: Services,
    iss: str,
    patient: str,
    token: str | None,
    order: str | None,
    params: dict[str, str],
    remembered: str | None,
) -> View | HTMLResponse:
    try:
        found = await live.load(services, iss, patient, token, order)
    except PatientUnavailable:
        return _error(
            "Patient not found", "The FHIR server returned no such patient (or could not be reached).", 404
        )
    chart = index(found.record)
    notes = list(found.notes) + list(
        dict.fromkeys([*found.record.unavailable.values(), *found.record.issues])
    )
    if found.outcome is not None:
        sheets = [sheet(a.as_contract(), services.store, chart) for a in found.outcome.assessments]
        if not sheets:
            notes.append("The draft orders found are not intrathecal pump orders this service assesses.")
    elif remembered and (kept := await run_in_threadpool(services.recall, remembered)) is not None:
        # The EHR keeps draft orders to itself; the card's assessment stands in for them.
        sheets = [sheet(kept, services.store, chart)]
        notes = [n for n in notes if not n.startswith("No draft")]
    else:
        sheets = []
    log.info("checklist: patient=%s assessments=%d", patient, len(sheets))
    return View(sheets, found.record.patient, patient, notes, params)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


@router.get("/checklist", response_class=HTMLResponse)
async def checklist(
    request: Request,
    assessment: str | None = None,
    iss: str | None = None,
    patient: str | None = None,
    order: str | None = None,
    missing: str | None = None,
    services: Services = Depends(get_services),
):
    view = await _view(request, services, assessment, iss, patient, order)
    if isinstance(view, HTMLResponse):
        return view
    return HTMLResponse(checklist_page(view, _flag(missing)), headers=NO_STORE)


@router.get("/summary", response_class=HTMLResponse)
async def summary(
    request: Request,
    assessment: str | None = None,
    iss: str | None = None,
    patient: str | None = None,
    order: str | None = None,
    services: Services = Depends(get_services),
):
    view = await _view(request, services, assessment, iss, patient, order)
    if isinstance(view, HTMLResponse):
        return view
    return HTMLResponse(summary_page(view), headers=NO_STORE)
