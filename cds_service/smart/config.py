"""SMART app configuration (IDDS_SMART_*), separate from the hook service's settings
so the checklist can be configured without touching them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmartSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDDS_SMART_", extra="ignore")

    client_id: str = "idds-cds"
    # Empty: {public base URL or the request's base}/smart/callback.
    redirect_uri: str = ""
    scope: str = "launch patient/*.read openid fhirUser"
    # How long a started launch may take to come back to /smart/callback.
    launch_ttl_seconds: int = Field(600, ge=30)
    # Session lifetime when the token response gives no expires_in.
    session_ttl_seconds: int = Field(3600, ge=60)
    http_timeout_seconds: float = Field(5.0, gt=0)
