"""Verifying one caller's JWT: signature, algorithm, key, audience, lifetime and replay.

Each refusal is an AuthError whose reason is for the log (never the token,
never the client); cds_service/auth/caller.py turns it into a bare 401.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..settings import Settings
from .issuers import ALGORITHMS, Key, TrustedIssuer, load_issuers, parse_jwks
from .key_sets import KeySetCache
from .replay import ReplayGuard

CURVE = {"ES256": "secp256r1", "ES384": "secp384r1"}
MAX_TOKEN_CHARS = 16_384


class AuthError(Exception):
    """A refused call; `reason` is for the log only (never the token, never the client)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_CLAIM_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token issued in the future (iat) or not yet valid (nbf)"),
    (jwt.InvalidAudienceError, "aud is not this endpoint"),
    (jwt.InvalidIssuerError, "iss mismatch"),
    (jwt.InvalidSignatureError, "signature does not verify"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidIssuedAtError, "iat is not a number"),
    (jwt.InvalidAlgorithmError, "algorithm refused"),
    (jwt.DecodeError, "malformed token"),
]


def _shown(value: Any) -> str:
    """An attacker-chosen header value, safe to put in a log line."""
    return repr(str(value)[:80])


class Verifier:
    """One app's verification of callers: its trusted issuers, their pinned keys, the fetched key sets."""

    def __init__(
        self,
        settings: Settings,
        issuers: dict[str, TrustedIssuer] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.issuers = issuers if issuers is not None else load_issuers(settings.trusted_issuers_file)
        self.pinned = {
            iss: parse_jwks(i.jwks, strict=True) if i.jwks else {} for iss, i in self.issuers.items()
        }
        self.key_sets = KeySetCache(
            settings.auth_jwks_cache_seconds,
            settings.auth_jwks_min_refresh_seconds,
            settings.auth_jwks_timeout_seconds,
        )
        self.replay = ReplayGuard(settings, clock)
        self.clock = clock

    async def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims, or AuthError naming why (for the log)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("no Bearer token")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("token too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg, kid, iss = header.get("alg"), header.get("kid"), unverified.get("iss")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise AuthError(f"algorithm {_shown(alg)} refused")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthError("no kid in the header")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError(f"issuer {_shown(iss)} is not trusted")
        iss = issuer.iss  # the same string, now known to be one
        if alg not in issuer.algorithms:
            raise AuthError(f"algorithm {alg} not configured for issuer {iss}")
        key = await self._key(issuer, header, kid)
        self._fits(key, alg, kid)
        leeway = self.settings.auth_leeway_seconds
        try:
            claims = jwt.decode(
                token,
                key[0],
                algorithms=[alg],
                audience=_audiences(audience),
                issuer=iss,
                leeway=leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((r for cls, r in _CLAIM_ERRORS if isinstance(exc, cls)), "invalid token")
            if isinstance(exc, jwt.MissingRequiredClaimError):
                reason = f"claim {exc.claim} missing"
            raise AuthError(f"{reason} (iss {iss}, kid {_shown(kid)})") from None
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise AuthError(f"jti missing or not a string (iss {iss})")
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > self.settings.auth_max_token_lifetime_seconds + leeway:
            raise AuthError(
                f"token lifetime {lifetime:.0f} s exceeds {self.settings.auth_max_token_lifetime_seconds} s (iss {iss})"
            )
        if not await run_in_threadpool(self.replay.first_use, (iss, jti), float(claims["exp"]) + leeway):
            raise AuthError(f"jti reused (iss {iss}, jti {_shown(jti)})")
        return claims

    async def _key(self, issuer: TrustedIssuer, header: dict[str, Any], kid: str) -> Key:
        jku = header.get("jku")
        if jku is not None:
            if not isinstance(jku, str) or jku not in issuer.jku:
                raise AuthError(f"jku {_shown(jku)} is not on the allow-list of {issuer.iss}")
            urls = [jku]
        else:
            pinned = self.pinned[issuer.iss].get(kid)
            if pinned is not None:
                return pinned
            urls = issuer.jku  # key sets registered out of band for this issuer
        for url in urls:
            found = await self.key_sets.key(url, kid)
            if found is not None:
                return found
        raise AuthError(f"unknown kid {_shown(kid)} for issuer {issuer.iss}")

    @staticmethod
    def _fits(key: Key, alg: str, kid: str) -> None:
        """The key must be of the kind the token's alg names: no RSA key read as EC, no P-256 as ES384."""
        public, jwk_alg = key
        if jwk_alg and jwk_alg != alg:
            raise AuthError(f"key {_shown(kid)} is for {jwk_alg}, token says {alg}")
        if alg in CURVE:
            ok = isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == CURVE[alg]
        else:
            ok = isinstance(public, rsa.RSAPublicKey) and public.key_size >= 2048
        if not ok:
            raise AuthError(f"key {_shown(kid)} does not fit {alg}")


def _audiences(url: str) -> list[str]:
    base = url.rstrip("/")
    return [base, base + "/"]


def audience_for(request: Request, settings: Settings) -> str:
    """The URL the caller called: IDDS_PUBLIC_BASE_URL + path. Never built from the request's
    Host or X-Forwarded-* headers, which the caller chooses: with them, a token minted for
    another host would pass. Start-up refuses auth without a public base URL; this refuses too."""
    path = request.url.path
    root = request.scope.get("root_path") or ""
    base = settings.public_base_url.rstrip("/")
    if not base:
        raise AuthError("IDDS_PUBLIC_BASE_URL is not set: no audience to check the token against")
    if root and path.startswith(root):
        path = path[len(root) :]
    return base + path
