"""SMART App Launch 2.x (EHR launch): discovery, PKCE, code exchange (public or confidential
client, smart/client_auth.py).

The access token stays server-side: it lives in `SmartState` (smart/sessions.py: the shared
database, encrypted with a key derived from an opaque random session id, one per launch,
which is the only thing the browser holds). It never appears in a URL, a page or a log line;
logs name the FHIR server's host and HTTP status codes only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from .. import urls
from .client_auth import ClientAuthError, token_request
from .config import SmartSettings
from .sessions import (  # re-exported: the launch's vocabulary in one import
    LaunchError,
    PendingLaunch,
    Session,
    SmartState,
    browser_binding,
)

__all__ = [
    "LaunchError",
    "PendingLaunch",
    "Session",
    "SmartConfiguration",
    "SmartState",
    "authorize_url",
    "browser_binding",
    "discover",
    "exchange_code",
    "host_of",
    "pkce_pair",
    "refusal",
]

log = logging.getLogger("idds.smart")
MAX_ANSWER_BYTES = 256_000  # a SMART configuration or a token response; anything bigger is refused


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


async def _exchange(
    method: str, url: str, timeout: float, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any]:
    """(status, parsed JSON) within one total deadline and a size cap: a drip-feeding or
    huge answer from the EHR cannot hold the browser's request or the process's memory.
    A refusal's body (OAuth `error`, `error_description`) is read too; unreadable, it is None."""
    sent = {"Accept": "application/json", **(headers or {})}
    async with (
        asyncio.timeout(timeout),
        httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
        client.stream(method, url, headers=sent, **kw) as response,
    ):
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _TooBig()
            chunks.append(chunk)
    try:
        return response.status_code, orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        if response.status_code != 200:
            return response.status_code, None
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
            raise LaunchError("The EHR's SMART configuration is not JSON.", 502, unpublished=True) from None
        raise LaunchError(
            "The EHR's authorization server could not be reached.", 502, unpublished=True
        ) from None
    if status != 200:
        log.info("smart-configuration of %s answered %s", host_of(iss), status)
        raise LaunchError("The EHR did not publish a SMART configuration.", 502, unpublished=True)
    if not isinstance(body, dict):
        raise LaunchError("The EHR's SMART configuration is not a JSON object.", 502, unpublished=True)
    authorize, token = body.get("authorization_endpoint"), body.get("token_endpoint")
    if not (isinstance(authorize, str) and isinstance(token, str)) or not (
        _absolute_http(authorize) and _absolute_http(token)
    ):
        raise LaunchError(
            "The EHR's SMART configuration lacks authorization or token endpoints.", 502, unpublished=True
        )
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


def refusal(body: Any) -> str:
    """The EHR's own words for a refused code (RFC 6749 §5.2 `error`, `error_description`),
    bounded and printable; shown on the page (escaped there), never logged."""
    if not isinstance(body, dict):
        return ""
    said = [body.get("error"), body.get("error_description")]
    words = [" ".join(str(w).split())[:300] for w in said if isinstance(w, str) and w.strip()]
    return ": ".join(words)


async def exchange_code(launch: PendingLaunch, code: str, cfg: SmartSettings) -> dict[str, Any]:
    """POST the authorization code with the PKCE verifier (and the client's authentication,
    when confidential); the token response, checked."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": launch.redirect_uri,
        "code_verifier": launch.verifier,
    }
    try:
        form, headers = token_request(cfg, launch.token_endpoint, form)
    except ClientAuthError as exc:
        log.error("smart client authentication not usable: %s", exc)
        raise LaunchError(
            "The app's sign-in credentials are not configured correctly (IDDS_SMART_CLIENT_AUTH).", 503
        ) from None
    try:
        status, body = await _exchange(
            "POST", launch.token_endpoint, cfg.http_timeout_seconds, headers=headers, data=form
        )
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
        if 400 <= status < 500:
            said = refusal(body)
            client = status == 401 or (isinstance(body, dict) and body.get("error") == "invalid_client")
            raise LaunchError(
                "The EHR refused the sign-in"
                + (f" ({said})." if said else f" (HTTP {status}).")
                + " Open the app again from the EHR"
                + (", or ask its administrator to check the app's registration." if client else "."),
                401 if client else 400,
                refused=True,
            )
        raise LaunchError(f"The EHR's token endpoint failed (HTTP {status}).", 502)
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
