"""Who may call: the CDS Hooks 2.0 JWT that an EHR signs for every call (also required by Da Vinci CRD).

Off by default so `make run` works on a laptop; a deployment sets
IDDS_REQUIRE_AUTH=1 and lists its EHRs in config/trusted-issuers.yaml.

Why each rule:
- alg ES384 / RS384 (the two CDS Hooks names; ES256 / RS256 only where an
  issuer is configured for them), never `none` or HMAC: a shared secret or no
  signature would let anyone who reads the config mint calls.
- `kid` required and keys from a JWKS pinned in the config, or from a `jku`
  on that issuer's allow-list: a key taken from wherever the token points
  would let the token vouch for itself.
- `aud` is this endpoint's URL under IDDS_PUBLIC_BASE_URL (required with auth
  on; never the request's Host): a token minted for another service or host
  cannot be replayed here.
- short lifetime and `jti` never reused: a captured token is worth one call.

A refusal is a bare 401; the reason goes to the log, the token never does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.responses import Response
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from .settings import Settings, get_settings
from .state import state_for

log = logging.getLogger("idds.auth")

ROOT = Path(__file__).resolve().parent.parent
Algorithm = Literal["ES384", "RS384", "ES256", "RS256"]
CURVE = {"ES256": "secp256r1", "ES384": "secp384r1"}
MAX_TOKEN_CHARS = 16_384
MAX_JWKS_BYTES = 256_000


class AuthError(Exception):
    """A refused call; `reason` is for the log only (never the token, never the client)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Unauthorized(Exception):
    """Raised by the dependency; answered as a bare 401 by the handler `install` registers."""


# -- configuration -------------------------------------------------------------------


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iss: str
    enabled: bool = True
    description: str | None = None
    algorithms: list[Algorithm] = Field(default_factory=lambda: ["ES384", "RS384"])
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


def parse_jwks(jwks: Any, strict: bool = False) -> dict[str, Any]:
    """kid → public key. Strict (config): any unusable key is an error; lenient (fetched): skipped."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise ValueError("a JWK Set needs a 'keys' list")
    out: dict[str, Any] = {}
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


# -- key sets fetched from an allowed jku, and the replay guard -----------------------


@dataclass
class _KeySet:
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    forced_at: float = float("-inf")


class KeySetCache:
    """JWK Sets by URL: cached for `ttl`, refetched when a kid is unknown (at most every `min_refresh` s)."""

    def __init__(
        self, ttl: float, min_refresh: float, timeout: float, clock: Callable[[], float] = time.monotonic
    ):
        self.ttl, self.min_refresh, self.timeout, self.clock = ttl, min_refresh, timeout, clock
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key(self, url: str, kid: str) -> Any | None:
        entry = self._sets.setdefault(url, _KeySet())
        if self.clock() - entry.fetched_at > self.ttl:
            await self._refresh(url, entry, entry.fetched_at)
        if kid not in entry.keys and self.clock() - entry.forced_at >= self.min_refresh:
            entry.forced_at = self.clock()
            await self._refresh(url, entry, entry.fetched_at)
        return entry.keys.get(kid)

    async def _refresh(self, url: str, entry: _KeySet, seen: float) -> None:
        async with self._locks.setdefault(url, asyncio.Lock()):
            if entry.fetched_at != seen:
                return  # another call refreshed it while this one waited
            try:
                raw = await self._fetch(url)
                entry.keys = parse_jwks(json.loads(raw))
                entry.fetched_at = self.clock()
                log.info("fetched JWK Set %s: %d key(s)", url, len(entry.keys))
            except (httpx.HTTPError, ValueError, TimeoutError) as exc:
                # Keep what was cached; an outage of the key server must not open the door or
                # drop known keys. The next call tries again once min_refresh has passed.
                log.warning(
                    "could not fetch JWK Set %s: %s",
                    url,
                    exc if isinstance(exc, ValueError) else type(exc).__name__,
                )
                # Try again after min_refresh, not on every call: no amplification towards the key server.
                entry.fetched_at = max(entry.fetched_at, self.clock() - self.ttl + max(self.min_refresh, 1.0))

    async def _fetch(self, url: str) -> bytes:
        """The key set's bytes, within one total timeout (a drip-feeding key server cannot hold
        the call) and read as a stream that stops at MAX_JWKS_BYTES."""
        async with (
            asyncio.timeout(self.timeout),
            httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"answered {response.status_code}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
                chunks.append(chunk)
        return b"".join(chunks)


class ReplayGuard:
    """(iss, jti) pairs seen, in the database every worker shares (cds_service/state/), each
    kept until its token has expired: a token accepted by one worker or host is refused by
    every other, and after a restart. The insert-if-absent is atomic in the database."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock

    def first_use(self, key: tuple[str, str], until: float) -> bool:
        return state_for(self.settings).first_use(key, until, self.clock())


# -- verification ---------------------------------------------------------------------

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
        if not isinstance(alg, str) or alg not in ("ES384", "RS384", "ES256", "RS256"):
            raise AuthError(f"algorithm {_shown(alg)} refused")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthError("no kid in the header")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError(f"issuer {_shown(iss)} is not trusted")
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

    async def _key(self, issuer: TrustedIssuer, header: dict[str, Any], kid: str) -> tuple[Any, str | None]:
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
    def _fits(key: tuple[Any, str | None], alg: str, kid: str) -> None:
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


# -- FastAPI wiring ---------------------------------------------------------------------


def _settings(app: FastAPI) -> Settings:
    services = getattr(app.state, "services", None)
    return services.settings if services is not None else get_settings()


def verifier_for(app: FastAPI) -> Verifier:
    verifier = getattr(app.state, "verifier", None)
    settings = _settings(app)
    if verifier is None or verifier.settings is not settings:
        verifier = app.state.verifier = Verifier(settings)
    return verifier


async def verify_caller(request: Request) -> None:
    """Route dependency for discovery, hooks and feedback."""
    settings = _settings(request.app)
    if not settings.require_auth:
        return
    try:
        claims = await verifier_for(request.app).verify(
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
    """Register the bare-401 handler and the start-up check (wrapping the app's lifespan)."""
    app.add_exception_handler(Unauthorized, _unauthorized)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        async with inner(a) as state:
            a.state.verifier = announce(_settings(a))
            yield state

    app.router.lifespan_context = lifespan
