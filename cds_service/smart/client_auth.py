"""How the app proves who it is at the EHR's token endpoint.

Three SMART client types, chosen by IDDS_SMART_CLIENT_AUTH:
- `none`: a public client; the authorization code is bound by PKCE alone.
- `client_secret_basic`: a confidential symmetric client; the id and secret travel in an
  HTTP Basic header (RFC 6749 §2.3.1: each form-urlencoded first), never in the body.
- `private_key_jwt`: SMART 2.x asymmetric client authentication (RFC 7523): a short-lived
  JWT signed with the app's private key (RS384 or ES384), with a fresh `jti` so the EHR can
  refuse a replay. No shared secret exists to leak.

The secret and the key come from SmartSettings and are never logged.
"""

from __future__ import annotations

import base64
import secrets
import time
from pathlib import Path
from urllib.parse import quote

import jwt

from .config import SmartSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; SMART asks for no more than five minutes


class ClientAuthError(Exception):
    """The configured client authentication cannot be used (missing secret or key)."""


def _private_key(cfg: SmartSettings) -> str:
    if cfg.private_key.get_secret_value():
        return cfg.private_key.get_secret_value()
    if cfg.private_key_file:
        try:
            return Path(cfg.private_key_file).read_text()
        except OSError:
            raise ClientAuthError("the private key file cannot be read") from None
    raise ClientAuthError("private_key_jwt needs IDDS_SMART_PRIVATE_KEY or IDDS_SMART_PRIVATE_KEY_FILE")


def client_assertion(cfg: SmartSettings, token_endpoint: str, now: float | None = None) -> str:
    """The signed JWT: iss = sub = client id, aud = the token endpoint, exp within five minutes."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": cfg.client_id,
        "sub": cfg.client_id,
        "aud": token_endpoint,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    headers = {"typ": "JWT", **({"kid": cfg.key_id} if cfg.key_id else {})}
    try:
        return jwt.encode(claims, _private_key(cfg), algorithm=cfg.signing_alg, headers=headers)
    except (ValueError, TypeError, jwt.PyJWTError):
        # a malformed key or one of the wrong type for the algorithm; its text is not repeated
        raise ClientAuthError(f"the private key cannot sign {cfg.signing_alg}") from None


def token_request(
    cfg: SmartSettings, token_endpoint: str, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(form, headers) of the token request with the client's authentication added."""
    if cfg.client_auth == "client_secret_basic":
        secret = cfg.client_secret.get_secret_value()
        if not secret:
            raise ClientAuthError("client_secret_basic needs IDDS_SMART_CLIENT_SECRET")
        pair = f"{quote(cfg.client_id, safe='')}:{quote(secret, safe='')}".encode()
        return form, {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if cfg.client_auth == "private_key_jwt":
        return {
            **form,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(cfg, token_endpoint),
        }, {}
    return {**form, "client_id": cfg.client_id}, {}
