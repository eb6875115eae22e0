"""JWK Sets fetched from an issuer's allowed `jku` URLs, cached.

Cached for IDDS_AUTH_JWKS_CACHE_SECONDS and refetched early when a token
names a kid the cache does not hold (a key rotation), at most every
IDDS_AUTH_JWKS_MIN_REFRESH_SECONDS: a stream of made-up kids cannot turn the
service into an amplifier towards the key server. A fetch that fails keeps the
keys already known; one that is slow or large is cut off (one total timeout,
MAX_JWKS_BYTES read as a stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .issuers import Key, parse_jwks

log = logging.getLogger("idds.auth")

MAX_JWKS_BYTES = 256_000


@dataclass
class _KeySet:
    keys: dict[str, Key] = field(default_factory=dict)
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

    async def key(self, url: str, kid: str) -> Key | None:
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
