"""The FastAPI side of caller authentication: the route dependency, the bare 401, the start-up check.

`verify_caller` is the dependency of discovery, the hooks, feedback and the
questionnaire package; a refusal raises `Unauthorized`, which the handler
`install` registers answers with a bare 401 (the reason goes to the log).
`started(app)` is the app lifespan's part: a loud warning with auth off, and
with it on the issuers loaded before the first call, so a bad file stops the
service instead of refusing every call later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..services import SettingsDep
from ..settings import Settings, app_settings
from .verify import AuthError, Verifier, audience_for

log = logging.getLogger("idds.auth")


class Unauthorized(Exception):
    """Raised by the dependency; answered as a bare 401 by the handler `install` registers."""


def verifier_for(app: FastAPI, settings: Settings) -> Verifier:
    """The app's verifier, made at start-up; made again if the app was given other settings since."""
    verifier: Verifier | None = getattr(app.state, "verifier", None)
    if verifier is None or verifier.settings is not settings:
        verifier = app.state.verifier = Verifier(settings)
    return verifier


async def verify_caller(request: Request, settings: SettingsDep) -> None:
    """Route dependency for discovery, hooks and feedback."""
    if not settings.require_auth:
        return
    try:
        claims = await verifier_for(request.app, settings).verify(
            request.headers.get("authorization"), audience_for(request, settings)
        )
    except AuthError as exc:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc.reason)
        raise Unauthorized() from None
    except Exception:  # a broken issuers file or the like: refuse, never let the call through
        log.exception("refused %s %s: verification failed", request.method, request.url.path)
        raise Unauthorized() from None
    request.scope["idds.caller"] = claims["iss"]


async def _unauthorized(request: Request, exc: Exception) -> Response:
    return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})


def announce(settings: Settings) -> Verifier | None:
    """Start-up: a loud warning when auth is off; with it on, load the issuers now so a bad file stops the service."""
    if not settings.require_auth:
        log.warning(
            "CALLER AUTHENTICATION IS OFF: any client can call the CDS services. Set IDDS_REQUIRE_AUTH=1 "
            "and list the EHRs in %s before this service sees real patients.",
            settings.trusted_issuers_file,
        )
        return None
    settings.check()  # no public base URL with auth on: refuse to start (the audience would fail open)
    verifier = Verifier(settings)
    if not verifier.issuers:
        log.error(
            "IDDS_REQUIRE_AUTH=1 but %s enables no issuer: every call will be refused",
            settings.trusted_issuers_file,
        )
    else:
        log.info("caller authentication on; trusted issuers: %s", ", ".join(sorted(verifier.issuers)))
    return verifier


def install(app: FastAPI) -> None:
    """Register the bare-401 handler (the start-up check is the lifespan's: `started`)."""
    app.add_exception_handler(Unauthorized, _unauthorized)


@contextmanager
def started(app: FastAPI) -> Iterator[Verifier | None]:
    """The lifespan's part: the start-up check, the verifier kept on the app while it runs.
    Nothing to release (key sets are fetched with a client per fetch): dropped at shutdown."""
    app.state.verifier = announce(app_settings(app))
    try:
        yield app.state.verifier
    finally:
        app.state.verifier = None
