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

The parts: `issuers` (the trusted-issuers file and JWK parsing), `key_sets`
(JWK Sets fetched from an allowed jku, cached), `replay` (jti seen once across
workers), `verify` (one token checked), `caller` (the FastAPI dependency,
the 401, the start-up check).
"""

from .caller import Unauthorized, announce, install, started, verifier_for, verify_caller
from .issuers import TrustedIssuer, load_issuers, parse_jwks
from .key_sets import KeySetCache
from .replay import ReplayGuard
from .verify import AuthError, Verifier, audience_for

__all__ = [
    "AuthError",
    "KeySetCache",
    "ReplayGuard",
    "TrustedIssuer",
    "Unauthorized",
    "Verifier",
    "announce",
    "audience_for",
    "install",
    "load_issuers",
    "parse_jwks",
    "started",
    "verifier_for",
    "verify_caller",
]
