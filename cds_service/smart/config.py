"""SMART app configuration (IDDS_SMART_*), separate from the hook service's settings
so the checklist can be configured without touching them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# SMART App Launch 2.x scope syntax (`.rs`: read and search); 1.x (`.read`) for older EHRs.
DEFAULT_SCOPES = {
    "2": "launch openid fhirUser patient/*.rs",
    "1": "launch openid fhirUser patient/*.read",
}
ClientAuthMethod = Literal["none", "client_secret_basic", "private_key_jwt"]


class SmartSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDDS_SMART_", extra="ignore")

    client_id: str = "idds-cds"
    # Empty: {public base URL or the request's base}/smart/callback.
    redirect_uri: str = ""
    # Empty: DEFAULT_SCOPES[scope_version]; set it to ask for exactly these scopes.
    scope: str = ""
    scope_version: Literal["1", "2"] = "2"
    # How the app authenticates at the token endpoint: a public client ("none", PKCE only),
    # a confidential symmetric client (HTTP Basic with client_secret) or SMART 2.x asymmetric
    # client authentication (a client assertion signed with the private key, RFC 7523).
    client_auth: ClientAuthMethod = "none"
    client_secret: SecretStr = SecretStr("")
    # private_key_jwt: the PEM private key itself, or a file holding it; its key id in the
    # JWKS the EHR knows the app by; RS384 (RSA) or ES384 (P-384), as SMART 2.x requires.
    private_key: SecretStr = SecretStr("")
    private_key_file: str = ""
    key_id: str = ""
    signing_alg: Literal["RS384", "ES384"] = "RS384"
    # How long a started launch may take to come back to /smart/callback.
    launch_ttl_seconds: int = Field(600, ge=30)
    # Session lifetime when the token response gives no expires_in.
    session_ttl_seconds: int = Field(3600, ge=60)
    http_timeout_seconds: float = Field(5.0, gt=0)

    @property
    def scopes(self) -> str:
        return self.scope.strip() or DEFAULT_SCOPES[self.scope_version]
