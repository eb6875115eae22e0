"""/smart/launch and /smart/callback: the EHR launch of the checklist (smart/views.py).

Three ways in, one page:
- a SMART EHR launch (/smart/launch → EHR authorize → /smart/callback), after
  which the checklist reads the launched patient's chart with the token kept
  server-side;
- the card's assessment (`?assessment=<id>`, a capability: an unguessable id), from
  the assessments the service remembers. The card's link carries it, so an EHR that
  offers no SMART sign-in (an open test server, the CDS Hooks sandbox) still opens
  the checklist, read-only: no chart read, nothing beyond what the assessment holds;
- an open FHIR server on IDDS_ALLOWED_FHIR_SERVERS (`?iss=…&patient=…`), for
  the sandbox; off when caller authentication is on.

One launch is one session: the callback hands the browser an opaque session id in the
checklist's URL (`?session=…`), not a cookie per browser, so two launches in two tabs each
stay on their own patient, and an EHR that embeds the app in a frame on another site
(where browsers drop third-party cookies) keeps it. The id is a bearer secret: pages send
no Referer, the access log drops query strings (cds_service/log_redaction.py), and it
lives only as long as the EHR's token.

A launch's `state` is bound to the browser that started it (an HttpOnly nonce cookie,
`SameSite=None; Secure; Partitioned` when cookies are secure, so it survives a cross-site
frame); the redirect URI and the cookies' Secure flag come from configuration
(docs/trust.md, part 6).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..services import Services, ServicesDep
from ..templating import NO_STORE
from .html import error_page
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
    refusal,
)

log = logging.getLogger("idds.smart")
router = APIRouter(prefix="/smart", tags=["smart"])
SESSION_PARAM = "session"  # the checklist's query parameter naming its launch's session
LAUNCH_COOKIE = "idds_smart_launch"  # the nonce binding a launch's state to the browser that started it


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


def _launch_cookie(response: Response, nonce: str, secure: bool, max_age: int) -> None:
    """The nonce that binds a launch to this browser. Secure: `SameSite=None; Partitioned`, kept
    in a cross-site EHR frame (partitioned by the EHR's site, so no cross-site tracking); on a
    plain-http laptop only `Lax` is possible (browsers refuse `None` without Secure)."""
    attributes = [f"{LAUNCH_COOKIE}={nonce}", f"Max-Age={max_age}", "Path=/smart", "HttpOnly"]
    attributes += ["SameSite=None", "Secure", "Partitioned"] if secure else ["SameSite=Lax"]
    # by hand: Starlette leaves Partitioned to Python 3.14's http.cookies
    response.headers.append("set-cookie", "; ".join(attributes))


def _read_only(assessment: str) -> RedirectResponse:
    """The card's assessment by its capability URL: no sign-in, no chart read."""
    return RedirectResponse(
        "/smart/checklist?" + urlencode({"assessment": assessment}), status_code=303, headers=NO_STORE
    )


@router.get("/launch")
async def launch(
    services: ServicesDep,
    request: Request,
    launch: str | None = None,
    iss: str | None = None,
    assessment: str | None = None,
) -> Response:
    if not iss or not launch:
        if assessment:
            # An EHR without SMART launch contexts (the CDS Hooks sandbox on an open server adds
            # fhirServiceUrl and patientId instead): the card's assessment, read-only. Those
            # parameters are not used; nothing is fetched from a server named in a URL.
            log.info("smart link opened without a launch: the card's assessment, read-only")
            return _read_only(assessment)
        return _error(
            "Cannot start the checklist",
            "An EHR launch needs both `iss` and `launch`. "
            "For an open sandbox server use /smart/checklist?iss=…&patient=….",
            400,
        )
    if not services.settings.fhir_server_allowed(iss):
        log.info("smart launch refused: %s not allowed", host_of(iss))
        if assessment:
            return _read_only(assessment)  # the assessment needs nothing from that server
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
        if exc.unpublished and assessment:
            log.info("no SMART sign-in at %s: the card's assessment, read-only", host_of(iss))
            return _read_only(assessment)
        return _error("Cannot start the checklist", str(exc), exc.status)
    verifier, challenge = pkce_pair()
    nonce = request.cookies.get(LAUNCH_COOKIE) or ""
    if len(nonce) != 43 or not nonce.replace("-", "").replace("_", "").isalnum():
        nonce = secrets.token_urlsafe(32)  # one per browser; launches in two tabs share it
    pending = PendingLaunch(
        iss,
        endpoints.token_endpoint,
        redirect_uri,
        verifier,
        time.time(),
        browser_binding(nonce),
        assessment[:200] if assessment else None,
    )
    state = await run_in_threadpool(_state(request).start, pending)  # the shared database, off the event loop
    url = authorize_url(
        endpoints,
        client_id=cfg.client_id,
        redirect_uri=redirect_uri,
        scope=cfg.scopes,
        state=state,
        iss=iss,
        launch=launch,
        challenge=challenge,
    )
    log.info("smart launch from %s: redirect to authorize", host_of(iss))
    response = RedirectResponse(url, status_code=302, headers=NO_STORE)
    _launch_cookie(response, nonce, services.settings.cookies_secure, cfg.launch_ttl_seconds)
    return response


@router.get("/callback")
async def callback(
    services: ServicesDep,
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    store = _state(request)
    cfg = services.smart
    if error:
        with contextlib.suppress(LaunchError):  # only the browser that started the launch may cancel it
            await run_in_threadpool(store.finish, state, request.cookies.get(LAUNCH_COOKIE))
        said = refusal({"error": error, "error_description": error_description})
        return _error(
            "Sign-in was refused", f"The EHR answered: {said}. Open the app again from the EHR.", 400
        )
    try:
        pending = await run_in_threadpool(store.finish, state, request.cookies.get(LAUNCH_COOKIE))
        if not code:
            raise LaunchError("The EHR returned no authorization code.", 400)
        token = await exchange_code(pending, code, cfg)
    except LaunchError as exc:
        log.info("smart callback refused: %s", "the EHR refused the code" if exc.refused else exc)
        return _error("Sign-in was refused" if exc.refused else "Sign-in failed", str(exc), exc.status)
    given = token.get("expires_in")
    lifetime = given if isinstance(given, int) and given > 0 else cfg.session_ttl_seconds
    session = Session(
        pending.iss,
        token["patient"],
        token["access_token"],
        time.time() + lifetime,
        token.get("appContext")
        if isinstance(token.get("appContext"), str)
        else (urlencode({"assessment": pending.assessment}) if pending.assessment else None),
        token.get("scope") if isinstance(token.get("scope"), str) else None,
    )
    sid = await run_in_threadpool(store.open_session, session)
    log.info("smart session opened: patient=%s server=%s", session.patient, host_of(session.iss))
    # This launch's session in this tab's URL: another launch in another tab gets its own.
    return RedirectResponse(
        "/smart/checklist?" + urlencode({SESSION_PARAM: sid}), status_code=303, headers=NO_STORE
    )


def session_of(request: Request, sid: str | None) -> Session | None:
    """The launch's session named by the page's `session` parameter (blocking: a worker thread)."""
    return _state(request).session(sid)
