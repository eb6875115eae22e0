"""SMART App Launch 2.x (EHR launch) for a public client: discovery, PKCE, code exchange.

The access token stays server-side: it lives in `SmartState` (the shared database,
encrypted with a key derived from an opaque random session id that is the only
thing the browser holds, an HttpOnly cookie). It never appears in a URL, a page
or a log line; logs name the FHIR server's host and HTTP status codes only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from .. import urls
from ..state import SharedState
from ..state.models import SmartLaunch, SmartSession

log = logging.getLogger("idds.smart")
MAX_ANSWER_BYTES = 256_000  # a SMART configuration or a token response; anything bigger is refused


class LaunchError(Exception):
    """A launch or callback that cannot go on; the message is safe to show and log."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)  # 86 characters, within 43–128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def host_of(url: str) -> str:
    return urlsplit(url).netloc or "?"


def _absolute_http(url: Any) -> bool:
    try:
        urls.normalise(url, query=True)
    except urls.UnsafeUrl:
        return False
    return True


def transport_ok(url: str, require_auth: bool) -> bool:
    """The authorization code, the PKCE verifier and the token travel here: https only.
    Plain http only for a loopback server (tests, the sandbox), and never with auth on."""
    return urls.is_https(url) or (not require_auth and urls.is_loopback(url))


class _TooBig(Exception):
    pass


async def _exchange(method: str, url: str, timeout: float, **kw: Any) -> tuple[int, Any]:
    """(status, parsed JSON or None) within one total deadline and a size cap: a drip-feeding or
    huge answer from the EHR cannot hold the browser's request or the process's memory."""
    async with (
        asyncio.timeout(timeout),
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
        client.stream(method, url, headers={"Accept": "application/json"}, **kw) as response,
    ):
        if response.status_code != 200:
            return response.status_code, None
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _TooBig()
            chunks.append(chunk)
    try:
        return 200, orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None


@dataclass
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str


async def discover(iss: str, timeout: float, require_auth: bool = False) -> SmartConfiguration:
    """GET {iss}/.well-known/smart-configuration; the endpoints must be absolute URLs, https
    (see transport_ok) and, when the server lists PKCE methods, S256 must be among them."""
    try:
        url = urls.normalise(iss) + "/.well-known/smart-configuration"
    except urls.UnsafeUrl:
        raise LaunchError("The EHR's FHIR server address is not usable.", 400) from None
    try:
        status, body = await _exchange("GET", url, timeout)
    except (httpx.HTTPError, TimeoutError, _TooBig, ValueError) as exc:
        log.info("smart-configuration of %s unreachable or unreadable: %s", host_of(iss), type(exc).__name__)
        if isinstance(exc, ValueError):
            raise LaunchError("The EHR's SMART configuration is not JSON.", 502) from None
        raise LaunchError("The EHR's authorization server could not be reached.", 502) from None
    if status != 200:
        log.info("smart-configuration of %s answered %s", host_of(iss), status)
        raise LaunchError("The EHR did not publish a SMART configuration.", 502)
    if not isinstance(body, dict):
        raise LaunchError("The EHR's SMART configuration is not a JSON object.", 502)
    authorize, token = body.get("authorization_endpoint"), body.get("token_endpoint")
    if not (_absolute_http(authorize) and _absolute_http(token)):
        raise LaunchError("The EHR's SMART configuration lacks authorization or token endpoints.", 502)
    if not (transport_ok(authorize, require_auth) and transport_ok(token, require_auth)):
        raise LaunchError(
            "The EHR's authorization or token endpoint is not https; the sign-in would travel in the clear.",
            502,
        )
    methods = body.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise LaunchError("The EHR's authorization server does not support PKCE S256.", 502)
    return SmartConfiguration(authorize, token)


def authorize_url(
    config: SmartConfiguration,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str,
    iss: str,
    launch: str,
    challenge: str,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "launch": launch,
        "scope": scope,
        "state": state,
        "aud": iss,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in config.authorization_endpoint else "?"
    return f"{config.authorization_endpoint}{sep}{urlencode(params)}"


@dataclass
class PendingLaunch:
    iss: str
    token_endpoint: str
    redirect_uri: str
    verifier: str
    created: float
    browser: str = ""  # sha256 of the launch nonce in the HttpOnly cookie of the browser that started it


def browser_binding(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("ascii", "replace")).hexdigest()


@dataclass
class Session:
    iss: str
    patient: str
    access_token: str = field(repr=False)  # never in repr, so never in a traceback or log
    expires_at: float
    app_context: str | None = None
    scope: str | None = None


class SmartState:
    """Pending launches by `state`, sessions by opaque id, in the database every worker shares
    (cds_service/state/): the callback and the checklist may reach any worker, and a restart
    keeps them. The database holds neither secret, only its SHA-256; the PKCE verifier and the
    access token are encrypted with a key derived from the secret the browser holds."""

    def __init__(self, shared: SharedState, launch_ttl: float, clock: Callable[[], float] = time.time):
        self.shared = shared
        self.launch_ttl = launch_ttl
        self.clock = clock

    def start(self, launch: PendingLaunch) -> str:
        state = secrets.token_urlsafe(32)
        self.shared.put_sealed(
            SmartLaunch, state, "launch", asdict(launch), launch.created + self.launch_ttl, self.clock()
        )
        return state

    def finish(self, state: str | None, nonce: str | None) -> PendingLaunch:
        """The launch this state belongs to, once, and only in the browser that started it
        (SMART App Launch 2.x: state bound to the user agent): a replayed, unknown or stale
        state fails, and so does a valid state arriving from another browser (login CSRF)."""
        now = self.clock()
        found = (
            self.shared.get_sealed(SmartLaunch, state, "launch", now) if state and len(state) <= 200 else None
        )
        launch = PendingLaunch(**found) if found else None
        if launch is not None and (
            not nonce or not hmac.compare_digest(launch.browser, browser_binding(nonce))
        ):
            # Left pending: another browser can neither use nor burn the launch it belongs to.
            raise LaunchError(
                "This sign-in was not started in this browser. Open the app again from the EHR.", 400
            )
        # Consumed by one DELETE: of two callbacks with the same state, on any workers, one wins.
        if (
            launch is None
            or now - launch.created > self.launch_ttl
            or not self.shared.take_sealed(SmartLaunch, state, "launch", now)
        ):
            raise LaunchError(
                "This sign-in could not be verified (unknown or expired state). Open the app again from the EHR.",
                400,
            )
        return launch

    def open_session(self, session: Session) -> str:
        sid = secrets.token_urlsafe(32)
        self.shared.put_sealed(
            SmartSession, sid, "session", asdict(session), session.expires_at, self.clock()
        )
        return sid

    def session(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 200:
            return None
        found = self.shared.get_sealed(SmartSession, sid, "session", self.clock())
        return Session(**found) if found else None


async def exchange_code(launch: PendingLaunch, code: str, client_id: str, timeout: float) -> dict[str, Any]:
    """POST the authorization code with the PKCE verifier; the token response, checked."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": launch.redirect_uri,
        "client_id": client_id,
        "code_verifier": launch.verifier,
    }
    try:
        status, body = await _exchange("POST", launch.token_endpoint, timeout, data=form)
    except (httpx.HTTPError, TimeoutError, _TooBig, ValueError) as exc:
        log.info(
            "token endpoint of %s unreachable or unreadable: %s", host_of(launch.iss), type(exc).__name__
        )
        if isinstance(exc, ValueError):
            raise LaunchError("The EHR's token response is not JSON.", 502) from None
        raise LaunchError("The EHR's token endpoint could not be reached.", 502) from None
    if status != 200:
        # The body may echo the code; it is not logged.
        log.info("token endpoint of %s answered %s", host_of(launch.iss), status)
        raise LaunchError("The EHR refused the sign-in (token request failed).", 502)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
        or not body["access_token"]
    ):
        raise LaunchError("The EHR's token response has no access token.", 502)
    if str(body.get("token_type", "")).lower() != "bearer":
        raise LaunchError("The EHR's token response is not a bearer token.", 502)
    if not isinstance(body.get("patient"), str) or not body["patient"]:
        raise LaunchError("The EHR launched the app without a patient in context.", 400)
    if not urls.fhir_id_ok(body["patient"]):
        raise LaunchError("The EHR's patient in context is not a valid FHIR id.", 502)
    if not urls.bearer_token_ok(body["access_token"]):
        raise LaunchError("The EHR's access token holds characters no HTTP header can carry.", 502)
    return body
