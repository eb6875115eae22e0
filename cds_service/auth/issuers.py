"""The EHRs allowed to call (config/trusted-issuers.yaml) and the public keys they sign with.

An issuer's keys are a JWK Set pinned in the file, or key-set URLs (`jku`) on
that issuer's own allow-list, https only: a key taken from wherever the token
points would let the token vouch for itself. Only public EC or RSA signing
keys are accepted; a file holding a private key, or no key at all, stops
start-up rather than failing open.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import jwt
import yaml
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger("idds.auth")

ROOT = Path(__file__).resolve().parents[2]
Algorithm = Literal["ES384", "RS384", "ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES384", "RS384", "ES256", "RS256")
CDS_HOOKS_ALGORITHMS: tuple[Algorithm, ...] = ("ES384", "RS384")  # an issuer's default: the spec's two
# A verification key and the `alg` its JWK names, as written (absent: whichever alg the key fits).
Key = tuple[Any, Any]


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iss: str
    enabled: bool = True
    description: str | None = None
    algorithms: list[Algorithm] = Field(default_factory=lambda: list(CDS_HOOKS_ALGORITHMS))
    jwks: dict[str, Any] | None = None  # a pinned JWK Set: {"keys": [...]}
    jku: list[str] = Field(default_factory=list)  # key-set URLs this issuer may point to

    @field_validator("jku")
    @classmethod
    def _https(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith("https://"):
                raise ValueError(f"jku {url!r} must be https")
        return urls

    @model_validator(mode="after")
    def _keys(self) -> TrustedIssuer:
        if not self.jwks and not self.jku:
            raise ValueError(f"issuer {self.iss}: needs a pinned jwks or a jku allow-list")
        if self.jwks:
            parse_jwks(self.jwks, strict=True)
        return self


class IssuersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issuers: list[TrustedIssuer] = Field(default_factory=list)


def load_issuers(path: str | Path) -> dict[str, TrustedIssuer]:
    """Enabled issuers by `iss`. Raises on a missing or invalid file: with auth on, no silent fallback."""
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    parsed = IssuersFile.model_validate(data)
    out: dict[str, TrustedIssuer] = {}
    for issuer in parsed.issuers:
        if not issuer.enabled:
            continue
        if issuer.iss in out:
            raise ValueError(f"{p}: issuer {issuer.iss} listed twice")
        out[issuer.iss] = issuer
    return out


def parse_jwks(jwks: Any, strict: bool = False) -> dict[str, Key]:
    """kid → public key. Strict (config): any unusable key is an error; lenient (fetched): skipped."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise ValueError("a JWK Set needs a 'keys' list")
    out: dict[str, Key] = {}
    for jwk in keys:
        try:
            kid, key = _public_key(jwk)
        except ValueError as exc:
            if strict:
                raise
            log.info("skipping a key of a fetched JWK Set: %s", exc)
            continue
        out[kid] = (key, jwk.get("alg"))
    return out


def _public_key(jwk: Any) -> tuple[str, Any]:
    if not isinstance(jwk, dict):
        raise ValueError("a JWK must be an object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("every JWK needs a kid")
    if "d" in jwk:
        raise ValueError(f"JWK {kid} holds a private key: only public keys belong here")
    if jwk.get("use") not in (None, "sig"):
        raise ValueError(f"JWK {kid} is not a signing key")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            return kid, ECAlgorithm.from_jwk(json.dumps(jwk))
        if kty == "RSA":
            return kid, RSAAlgorithm.from_jwk(json.dumps(jwk))
    except (jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"JWK {kid} is not a valid {kty} key ({type(exc).__name__})") from None
    raise ValueError(f"JWK {kid}: key type {kty!r} not accepted (EC or RSA only)")
