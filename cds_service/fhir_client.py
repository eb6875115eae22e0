"""Fetches what prefetch did not bring, from an allowed FHIR server only.

All queries go out in parallel with one short timeout; searches follow
Bundle.link[next] up to a page limit, refusing links that leave the server or
loop. Failures come back as reasons, never exceptions: the card then says what
could not be retrieved. The access token is used for this server alone and
never logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("idds.fhir")


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification context, built once: loading the CA bundle costs
    about 20 ms, which a new client per hook call would pay every time."""
    return httpx.create_ssl_context()


@dataclass
class FetchResult:
    resources: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class FhirFetcher:
    def __init__(self, base_url: str, token: str | None, timeout: float, max_pages: int,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/fhir+json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.max_pages = max_pages
        self._transport = transport

    async def fetch_all(self, queries: dict[str, str]) -> dict[str, FetchResult]:
        """Run every query concurrently; key → result."""
        async with httpx.AsyncClient(
            headers=self._headers, timeout=self.timeout, transport=self._transport, follow_redirects=False,
            verify=_tls_context(),
        ) as client:
            keys = list(queries)
            results = await asyncio.gather(*(self._one(client, queries[k]) for k in keys))
        return dict(zip(keys, results))

    async def _one(self, client: httpx.AsyncClient, query: str) -> FetchResult:
        url = f"{self.base_url}/{query.lstrip('/')}"
        out = FetchResult()
        seen: set[str] = set()
        for _ in range(self.max_pages):
            if url in seen:
                out.error = "the server's paging links loop"
                return out
            seen.add(url)
            try:
                response = await client.get(url)
            except httpx.TimeoutException:
                out.error = "the FHIR server did not answer in time"
                return out
            except httpx.HTTPError as exc:
                out.error = f"the FHIR server could not be reached ({type(exc).__name__})"
                return out
            if response.status_code != 200:
                log.info("fhir fetch %s -> %s", query.split("?")[0], response.status_code)
                out.error = f"the FHIR server answered {response.status_code}"
                return out
            try:
                body = response.json()
            except ValueError:
                out.error = "the FHIR server answered with malformed JSON"
                return out
            if not isinstance(body, dict):
                out.error = "the FHIR server answered with something that is not a FHIR resource"
                return out
            if body.get("resourceType") == "OperationOutcome":
                out.error = "the FHIR server answered with an OperationOutcome"
                return out
            if body.get("resourceType") != "Bundle":
                out.resources.append(body)
                return out
            entries, links = body.get("entry"), body.get("link")
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    res = entry["resource"]
                    search = entry.get("search")
                    if (search.get("mode", "match") if isinstance(search, dict) else "match") == "match":
                        out.resources.append(res)
            nxt = next(
                (l.get("url") for l in links if isinstance(l, dict) and l.get("relation") == "next"),
                None,
            ) if isinstance(links, list) else None
            if not isinstance(nxt, str) or not nxt:
                total = body.get("total")
                matched = len(out.resources)
                if isinstance(total, int) and not isinstance(total, bool) and total > matched:
                    # A search that claims matches it does not deliver is incomplete, not empty.
                    out.error = f"the FHIR server reported {total} matches but sent {matched}"
                return out
            if not nxt.startswith(self.base_url + "/") and not nxt.startswith(self.base_url + "?"):
                out.error = "the server's next-page link points to another server; paging stopped"
                return out
            url = nxt
        out.error = f"more than {self.max_pages} pages; the rest was not retrieved"
        return out
