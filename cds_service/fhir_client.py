"""Fetches what prefetch did not bring, from an allowed FHIR server only.

All queries go out in parallel under one deadline for the whole call (a server
that drip-feeds a byte at a time cannot hold a hook past it); each response is
read as a stream and dropped past a size limit, and all responses of a call
together stop at a second limit. Searches follow Bundle.link[next] up to a page
limit, refusing links that leave the server's base (compared normalised, `..`
refused) or loop. Failures come back as reasons, never exceptions: the card
then says what could not be retrieved. The access token is used for this
server alone and never logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from . import metrics, urls

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


class _Budget:
    """Bytes left for every response of one call together."""

    def __init__(self, total: int):
        self.left = total


class _TooLarge(Exception):
    def __init__(self, total: bool):
        super().__init__()
        self.total = total  # the call's budget ran out, rather than this one answer's limit


class FhirFetcher:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        max_pages: int,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        deadline: float = 5.0,
        max_response_bytes: int = 8_000_000,
        max_total_bytes: int = 32_000_000,
        deadline_at: float | None = None,
    ):
        # Callers check the allow-list first; normalising again here means no raw string
        # (control characters, `..`) ever reaches httpx. An unusable base fetches nothing.
        try:
            self.base_url: str | None = urls.normalise(base_url)
        except urls.UnsafeUrl:
            self.base_url = None
        self._headers = {"Accept": "application/fhir+json"}
        self._token_ok = token is None or token == "" or urls.bearer_token_ok(token)
        if token and self._token_ok:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout = min(timeout, deadline)
        self.max_pages = max_pages
        self.deadline = deadline
        self.deadline_at = deadline_at  # loop time; shared by the fetches of one page view
        self.max_response_bytes = max_response_bytes
        self.max_total_bytes = max_total_bytes
        self._transport = transport

    async def fetch_all(self, queries: dict[str, str]) -> dict[str, FetchResult]:
        """Run every query concurrently under the deadline; key → result (partial on a timeout).
        Each query that did not fully arrive is counted in idds_fhir_fetch_errors_total."""
        results = await self._fetch_all(queries)
        metrics.count_fhir_errors(r.error for r in results.values())
        return results

    async def _fetch_all(self, queries: dict[str, str]) -> dict[str, FetchResult]:
        results = {k: FetchResult() for k in queries}
        if self.base_url is None:
            for r in results.values():
                r.error = (
                    "the FHIR server's URL is not usable (control characters, '..' segments or the like)"
                )
            return results
        if not self._token_ok:
            for r in results.values():
                r.error = "the access token the EHR sent cannot be used (it holds spaces, control or non-ASCII characters)"
            return results
        loop = asyncio.get_running_loop()
        left = self.deadline if self.deadline_at is None else self.deadline_at - loop.time()
        if left <= 0:
            for r in results.values():
                r.error = f"not fetched: the {self.deadline:g}-second deadline for FHIR data had passed"
            return results
        budget = _Budget(self.max_total_bytes)
        async with httpx.AsyncClient(
            headers=self._headers,
            timeout=self.timeout,
            transport=self._transport,
            follow_redirects=False,
            verify=_tls_context(),
        ) as client:
            tasks = {
                k: asyncio.create_task(self._one(client, q, results[k], budget)) for k, q in queries.items()
            }
            _, pending = await asyncio.wait(tasks.values(), timeout=left)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        for key, task in tasks.items():
            if task in pending:
                results[
                    key
                ].error = f"the FHIR server did not answer within the {self.deadline:g}-second deadline"
            elif not task.cancelled() and task.exception() is not None:  # a bug here must not cost a 500
                log.error("fhir fetch failed: %s", type(task.exception()).__name__)
                results[key].error = "the FHIR data could not be read (internal error)"
        return results

    def _url(self, query: str) -> str | None:
        if self.base_url is None:  # an unusable base fetches nothing (and _fetch_all says so)
            return None
        try:
            url = urls.normalise(f"{self.base_url}/{query.lstrip('/')}", query=True)
        except urls.UnsafeUrl:
            return None
        return url if urls.within(url, self.base_url) else None

    async def _read(self, client: httpx.AsyncClient, url: str, budget: _Budget) -> tuple[int, bytes]:
        """(status, body) read as a stream; _TooLarge past the per-response or per-call limit."""
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                return response.status_code, b""
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise _TooLarge(False)
            if declared.isdigit() and int(declared) > budget.left:
                raise _TooLarge(True)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():  # decoded: a gzip bomb counts as what it inflates to
                size += len(chunk)
                budget.left -= len(chunk)
                if size > self.max_response_bytes:
                    raise _TooLarge(False)
                if budget.left < 0:
                    raise _TooLarge(True)
                chunks.append(chunk)
            return 200, b"".join(chunks)

    async def _one(self, client: httpx.AsyncClient, query: str, out: FetchResult, budget: _Budget) -> None:
        url = self._url(query)
        if url is None:
            out.error = "the query could not be made into a safe URL on the FHIR server"
            return
        seen: set[str] = set()
        for _ in range(self.max_pages):
            if url in seen:
                out.error = "the server's paging links loop"
                return
            seen.add(url)
            try:
                status, raw = await self._read(client, url, budget)
            except _TooLarge as exc:
                out.error = (
                    f"the FHIR server's answers together were larger than {self.max_total_bytes:,} bytes"
                    if exc.total
                    else f"the FHIR server's answer was larger than {self.max_response_bytes:,} bytes"
                )
                return
            except httpx.TimeoutException:
                out.error = "the FHIR server did not answer in time"
                return
            except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError) as exc:
                out.error = f"the FHIR server could not be reached ({type(exc).__name__})"
                return
            if status != 200:
                log.info("fhir fetch %s -> %s", query.split("?")[0][:40], status)
                out.error = f"the FHIR server answered {status}"
                return
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                out.error = "the FHIR server answered with malformed JSON"
                return
            del raw
            if not isinstance(body, dict):
                out.error = "the FHIR server answered with something that is not a FHIR resource"
                return
            if body.get("resourceType") == "OperationOutcome":
                out.error = "the FHIR server answered with an OperationOutcome"
                return
            if body.get("resourceType") != "Bundle":
                out.resources.append(body)
                return
            entries, links = body.get("entry"), body.get("link")
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    res = entry["resource"]
                    search = entry.get("search")
                    if (search.get("mode", "match") if isinstance(search, dict) else "match") == "match":
                        out.resources.append(res)
            nxt = (
                next(
                    (
                        link.get("url")
                        for link in links
                        if isinstance(link, dict) and link.get("relation") == "next"
                    ),
                    None,
                )
                if isinstance(links, list)
                else None
            )
            if not isinstance(nxt, str) or not nxt:
                total = body.get("total")
                matched = len(out.resources)
                if isinstance(total, int) and not isinstance(total, bool) and total > matched:
                    # A search that claims matches it does not deliver is incomplete, not empty.
                    out.error = f"the FHIR server reported {total} matches but sent {matched}"
                return
            try:
                url = urls.normalise(nxt, query=True)
            except urls.UnsafeUrl as exc:
                out.error = f"the server's next-page link is not usable ({exc}); paging stopped"
                return
            if self.base_url is None or not urls.within(url, self.base_url):
                out.error = "the server's next-page link points to another server (or outside its FHIR base); paging stopped"
                return
        out.error = f"more than {self.max_pages} pages; the rest was not retrieved"
