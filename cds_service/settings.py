"""Configuration from the environment (IDDS_*), with defaults that make `make run` work."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDDS_", extra="ignore")

    # Comma-separated URL prefixes the service may fetch FHIR data from. Empty: never fetch.
    allowed_fhir_servers: str = ""
    fhir_timeout_seconds: float = Field(3.0, gt=0)
    fhir_max_pages: int = Field(20, ge=1)
    # Base URL the service is reached at, for absolute links in cards; empty = from the request.
    public_base_url: str = ""
    smart_app_url: str = ""  # empty = this service's /smart/launch
    max_body_bytes: int = 10_000_000

    # Caller authentication (CDS Hooks 2.0 JWT; cds_service/auth.py). Off by default for
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

    @property
    def fhir_server_prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.allowed_fhir_servers.split(",") if p.strip())

    def fhir_server_allowed(self, url: str | None) -> bool:
        if not url:
            return False
        candidate = url.rstrip("/") + "/"
        return any(candidate.startswith(p.rstrip("/") + "/") for p in self.fhir_server_prefixes)


@lru_cache
def get_settings() -> Settings:
    return Settings()
