"""Audit trail of hook calls, their assessments and the clinicians' feedback (Da Vinci CRD).

`install(app)` adds the middleware that records each hook call (one row per
call, committed before the answer leaves, so an answered call is a recorded
call); `opened(app)` is the app lifespan's part: the store opened at start-up
(running the migrations) and closed at shutdown (writer stopped, pool
disposed); `record_feedback` is called by the feedback route. The hook route hands the
middleware what it has already worked out (`note_request`: the parsed body;
`note_answer`: the HookResponse it renders), so no body is parsed twice; a
call the route turned away before that (a 4xx) is summarised from the bytes
the middleware saw. The rows go to the store's writer thread, which batches
concurrent calls into one transaction; the answer waits for its commit. A
failing store is logged as an error and does not fail the clinician's call.

The route's checklist links (the shared state's upserts, `carries_links` /
`note_links`) ride with the call's record into the same transaction when the
shared state lives on the audit store's engine (it does: `state_for`), so a
hook call pays one commit; otherwise, or when no record is written, they are
committed on their own, still before the answer leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics
from ..discovery import hook_call_service
from ..settings import app_settings
from .capture import Answer, answered, assessments, hook_call_row, parse, request_part
from .store import AuditStore, database_url, store_for

if TYPE_CHECKING:  # the shared state imports this package's store: only its types here
    from ..state.store import SharedState, Upsert

__all__ = [
    "AuditStore",
    "carries_links",
    "database_url",
    "install",
    "known_cards",
    "note_answer",
    "note_links",
    "note_request",
    "opened",
    "record_feedback",
    "store_for",
]

log = logging.getLogger("idds.audit")
REQUEST_KEY, ANSWER_KEY = "idds.audit.request", "idds.audit.answer"
CARRIER_KEY, LINKS_KEY = "idds.audit.carrier", "idds.audit.links"


def _request_part(req: Any) -> dict[str, Any] | None:
    try:
        return request_part(req)
    except Exception:  # a summary that cannot be read still leaves its one record
        log.exception("audit summary failed; recording the call without it")
        instance = req.get("hookInstance") if isinstance(req, dict) else None
        return request_part({"hookInstance": instance})


def note_request(request: Request, body: Any) -> None:
    """The hook route's parsed body, summarised now (ids, order codes, prefetch shape; never the chart)."""
    request.scope[REQUEST_KEY] = _request_part(body)


def note_answer(request: Request, response: Any) -> None:
    """The HookResponse the route is about to render: its cards' assessments are what was answered."""
    request.scope[ANSWER_KEY] = response


def carries_links(request: Request) -> bool:
    """True when this middleware is in the stack and will commit the route's links (`note_links`)."""
    return CARRIER_KEY in request.scope


def note_links(request: Request, state: SharedState, upserts: list[Upsert]) -> None:
    """The shared state's collected upserts: committed with the record, before the answer leaves."""
    if upserts:
        request.scope[LINKS_KEY] = (state, upserts)


async def _write_links(links: tuple[SharedState, list[Upsert]] | None) -> None:
    if links is None:
        return
    state, upserts = links
    try:
        await run_in_threadpool(state.write, upserts)
    except Exception:  # as before: a database fault loses the links, never the cards
        log.exception("could not keep %d checklist link upsert(s)", len(upserts))


async def audit_store(app: Any) -> AuditStore:
    store: AuditStore | None = getattr(app.state, "audit", None)
    if store is None:  # the app was driven without its lifespan (e.g. a bare TestClient)
        store = app.state.audit = await run_in_threadpool(store_for, app_settings(app))
    return store


class AuditMiddleware:
    """Pure ASGI: sees the request body as the route reads it and holds the answer until it is recorded."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = hook_call_service(scope)
        if service is None:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        scope[CARRIER_KEY] = True
        limit = app_settings(scope["app"]).max_body_bytes
        body: list[bytes] = []  # kept by reference: joined only if the route did not summarise it
        seen = 0
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        done = False

        async def tee() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request" and seen <= limit:
                part = message.get("body", b"")
                body.append(part)
                seen += len(part)
            return message

        async def hold(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            content = b"".join(chunks)
            done = True
            await self._record(scope, service, body, start["status"], content, started, received_at)
            await _write_links(scope.pop(LINKS_KEY, None))  # no record carried them: before the answer
            await send(start)
            await send({"type": "http.response.body", "body": content})

        try:
            await self.app(scope, tee, hold)
        except Exception:
            if not done:  # the error handler answers 500; the trail says so
                await self._record(scope, service, body, 500, b"", started, received_at)
            raise
        finally:
            await _write_links(scope.pop(LINKS_KEY, None))  # not carried by a record: on their own

    async def _record(
        self,
        scope: Scope,
        service_id: str,
        body: list[bytes],
        status: int,
        content: bytes,
        started: float,
        received_at: datetime,
    ) -> None:
        if REQUEST_KEY in scope:
            part = scope[REQUEST_KEY]
        else:  # turned away before the route summarised it: read what came
            raw = b"".join(body)
            part = _request_part(parse(raw)) if raw else None
        if part is None:
            return  # no hook instance to file it under: not a hook call (the log has the 4xx)
        answer: Answer | None = None
        if status == 200:
            try:
                response = scope.get(ANSWER_KEY)
                answer = answered(response) if response is not None else assessments(parse(content))
            except Exception:
                log.exception("audit of the answer failed; recording the call without its assessments")
        rows = hook_call_row(service_id, part, status, answer)
        if rows is None:
            return
        call, assessment_rows = rows
        metrics.count_determinations(assessment_rows)
        call.update(
            id=str(uuid.uuid4()),
            received_at=received_at,
            caller=scope.get("idds.caller"),
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        try:
            store = await audit_store(scope["app"])
            links = scope.get(LINKS_KEY)
            extra = None
            if links is not None and links[0].engine is store.engine:
                extra = scope.pop(LINKS_KEY)[1]  # one transaction with the record
            else:  # another database (or none): committed on their own first
                await _write_links(scope.pop(LINKS_KEY, None))
            with metrics.AUDIT_WRITE.labels("hook-call").time():
                await asyncio.wrap_future(store.submit_call(call, assessment_rows, extra))
        except Exception:
            log.exception("audit write failed for hook instance %r", call["hook_instance"][:80])


async def known_cards(app: Any, ids: list[str]) -> set[str] | None:
    """Which of these card ids the service answered; None when the store cannot say."""
    try:
        store = await audit_store(app)
        return await run_in_threadpool(store.known_cards, ids)
    except Exception:
        log.exception("audit lookup of %d card id(s) failed", len(ids))
        return None


async def record_feedback(request: Request, service_id: str, feedback: Any) -> None:
    """Store each outcome of a validated CDS Hooks feedback body."""
    now = datetime.now(UTC)
    rows = [
        {
            "service_id": service_id,
            "card_id": o.card,
            "outcome": o.outcome,
            "override_reason": o.overrideReason,
            "accepted_suggestions": o.acceptedSuggestions,
            "outcome_timestamp": o.outcomeTimestamp,
            "received_at": now,
            "caller": request.scope.get("idds.caller"),
        }
        for o in feedback.feedback
    ]
    try:
        store = await audit_store(request.app)
        with metrics.AUDIT_WRITE.labels("feedback").time():
            await asyncio.wrap_future(store.submit_feedback(rows))
    except Exception:
        log.exception("audit write failed for %d feedback outcome(s)", len(rows))


def install(app: FastAPI) -> None:
    """Add the recording middleware (the store itself is the lifespan's: `opened`)."""
    app.add_middleware(AuditMiddleware)


@asynccontextmanager
async def opened(app: FastAPI) -> AsyncIterator[AuditStore]:
    """The lifespan's part: the store opened (migrations run) before the first call, closed after
    the last one (its writer thread stopped, its pool disposed)."""
    store = app.state.audit = await run_in_threadpool(store_for, app_settings(app))
    try:
        yield store
    finally:
        app.state.audit = None
        await run_in_threadpool(store.close)
