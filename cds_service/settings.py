"""Configuration from the environment (IDDS_*), with defaults that make `make run` work."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import urls


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDDS_", extra="ignore")

    # Comma-separated URL prefixes the service may fetch FHIR data from. Empty: never fetch.
    allowed_fhir_servers: str = ""
    fhir_timeout_seconds: float = Field(3.0, gt=0)  # per read / connect, within the deadline below
    # One deadline for all FHIR fetching of a hook call (or a checklist page), whatever the
    # server does (drip-feeding included); what did not arrive in time is named on the card.
    fhir_deadline_seconds: float = Field(5.0, gt=0, le=60)
    fhir_max_pages: int = Field(20, ge=1)
    # A FHIR response is read as a stream and dropped past this size; all responses of one
    # call together stop at the second figure. The card names what was too large.
    fhir_max_response_bytes: int = Field(8_000_000, ge=1_000)
    fhir_max_total_bytes: int = Field(32_000_000, ge=1_000)
    # Base URL the service is reached at, for absolute links in cards and the JWT `aud`;
    # empty = from the request (allowed only with authentication off).
    public_base_url: str = ""
    smart_app_url: str = ""  # empty = this service's /smart/launch
    max_body_bytes: int = 10_000_000  # a hook request body; reading stops at the limit (413)
    # Draft orders assessed per hook call; the rest are named on a card, not assessed.
    max_orders_per_call: int = Field(20, ge=1, le=1000)
    # A hook call this small (body bytes and draft orders) is assessed on the event loop: its few
    # milliseconds stall other calls no longer than a worker thread holding the interpreter would
    # (sys.getswitchinterval, 5 ms), without the thread's hand-offs (about 1 ms of CPU a call under
    # load, bench/results.md). Anything bigger runs in a worker thread. 0 and 0: always a thread.
    inline_assessment_max_bytes: int = Field(262_144, ge=0)
    inline_assessment_max_orders: int = Field(2, ge=0)
    # Card links (/assessments/{id}, the checklist's ?assessment=) stop working after this.
    assessment_ttl_seconds: int = Field(3600, ge=60)
    # Feedback: body size, outcomes per body, characters of an override comment.
    feedback_max_body_bytes: int = Field(65_536, ge=1_024)
    feedback_max_outcomes: int = Field(20, ge=1)
    feedback_max_comment_chars: int = Field(2_000, ge=1)
    # Client addresses (comma-separated) whose X-Forwarded-Proto / -For are believed; empty =
    # nobody's. Run uvicorn with --no-proxy-headers (`make run` does) so this list decides.
    trusted_proxies: str = ""
    # The session and launch cookies' Secure flag; unset = on when the public base URL is
    # https or authentication is on. Never taken from the request's scheme.
    secure_cookies: bool | None = None
    # CSP frame-ancestors for every page: the EHR origins that may embed the checklist.
    frame_ancestors: str = "'self'"

    # Caller authentication (CDS Hooks 2.0 JWT; cds_service/auth/). Off by default for
    # `make run`; a deployment sets IDDS_REQUIRE_AUTH=1 and lists its EHRs in the issuers file.
    require_auth: bool = False
    trusted_issuers_file: str = "config/trusted-issuers.yaml"  # relative to the project root
    auth_leeway_seconds: int = Field(60, ge=0, le=600)
    auth_max_token_lifetime_seconds: int = Field(300, ge=1)  # exp - iat; the spec's five minutes
    auth_jwks_cache_seconds: int = Field(3600, ge=0)
    auth_jwks_min_refresh_seconds: float = Field(10, ge=0)  # unknown-kid refreshes at most this often
    auth_jwks_timeout_seconds: float = Field(3.0, gt=0)

    # Audit trail (cds_service/audit/). Empty: a SQLite file var/audit.sqlite under the
    # project root; a postgresql:// URL uses PostgreSQL through psycopg 3.
    database_url: str = ""
    # Logging (cds_service/logs.py): the level for the service's and uvicorn's lines, and
    # "text" or "json" (one object per line, for log shippers). Tokens and patient ids never appear.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # GET /readyz: how long the database may take to answer `SELECT 1` before the service is not ready.
    readiness_timeout_seconds: float = Field(2.0, gt=0, le=30)

    @property
    def fhir_server_prefixes(self) -> tuple[str, ...]:
        """The allowed bases, normalised (cds_service/urls.py); an unusable entry allows nothing."""
        out = []
        for p in self.allowed_fhir_servers.split(","):
            try:
                out.append(urls.normalise(p.strip()))
            except urls.UnsafeUrl:
                continue
        return tuple(out)

    def fhir_server_allowed(self, url: str | None) -> bool:
        """Compared normalised and segment by segment: no `..`, no encoded slash, no control characters."""
        try:
            candidate = urls.normalise(url)
        except urls.UnsafeUrl:
            return False
        return any(urls.within(candidate, p) for p in self.fhir_server_prefixes)

    @property
    def proxies(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.require_auth or urls.is_https(self.public_base_url)

    def check(self) -> None:
        """Start-up: refuse a configuration that would make authentication fail open."""
        if self.require_auth:
            if not self.public_base_url:
                raise ValueError(
                    "IDDS_REQUIRE_AUTH=1 needs IDDS_PUBLIC_BASE_URL: the JWT audience must come from "
                    "configuration, never from the request's Host or X-Forwarded-* headers"
                )
            if not urls.is_https(self.public_base_url) and not urls.is_loopback(self.public_base_url):
                raise ValueError("IDDS_PUBLIC_BASE_URL must be https when IDDS_REQUIRE_AUTH=1")


@lru_cache
def get_settings() -> Settings:
    """The environment's settings, read once per process: for the command line, and for an app
    asked before it started. An app takes its own (`create_app(settings=…)` or its services')."""
    return Settings()


def app_settings(app: Any) -> Settings:
    """An app's settings, for code below routing (middlewares) that dependencies cannot reach:
    its services' once started, else those given to `create_app`, else the environment's."""
    services = getattr(app.state, "services", None)
    if services is not None:
        settings: Settings = services.settings
        return settings
    given = getattr(app.state, "settings", None)
    return given if isinstance(given, Settings) else get_settings()
