"""Launches and sessions of the SMART app, kept in the database every worker shares.

A pending launch (by its `state`) holds the PKCE verifier; a session (by an opaque random id,
the only thing the browser holds: in the checklist's URL, one per launch) holds the access
token. Both are sealed with a key derived from that secret, so the database holds neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..state import SharedState
from ..state.models import SmartLaunch, SmartSession


class LaunchError(Exception):
    """A launch or callback that cannot go on; the message is safe to show and log."""

    def __init__(self, message: str, status: int = 400, unpublished: bool = False, refused: bool = False):
        super().__init__(message)
        self.status = status
        self.refused = refused  # the EHR said no (its reason is in the message), not a fault
        # The EHR offers no SMART sign-in (no configuration, or none reachable): the card's
        # assessment can still open read-only from its capability URL.
        self.unpublished = unpublished


@dataclass
class PendingLaunch:
    iss: str
    token_endpoint: str
    redirect_uri: str
    verifier: str
    created: float
    browser: str = ""  # sha256 of the launch nonce in the HttpOnly cookie of the browser that started it
    # The card's assessment named in the launch URL: stands in for appContext when the EHR's
    # token response carries none (many EHRs do not pass a card link's appContext on).
    assessment: str | None = None


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
            or state is None
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
