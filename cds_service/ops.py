"""Operations: /healthz, /readyz, /metrics (Prometheus, through prometheus-client).

- /healthz: the process answers (no dependency is looked at).
- /readyz: policies are loaded and the database (audit trail and shared state) answers a
  `SELECT 1` within `readiness_timeout_seconds`; 503 naming what is not ready otherwise.
- /metrics: hook calls by service and status, their latency, determinations by policy and
  phase, FHIR fetch errors by kind, audit write latency. With several workers
  (`idds-cds serve --workers N`, or PROMETHEUS_MULTIPROC_DIR set by hand) every worker
  writes its figures to that directory and /metrics adds them up, whichever worker answers.

Labels are bounded: a service id the service does not offer is `unknown`, a FHIR error is
one of a few kinds; nothing from the chart, the caller or a token is ever a label.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .discovery import HOOK_BY_SERVICE, hook_call_service
from .metrics import HOOK_CALLS, HOOK_LATENCY
from .services import Services

router = APIRouter(tags=["operations"])


def service_label(service_id: str) -> str:
    return service_id if service_id in HOOK_BY_SERVICE else "unknown"


class MetricsMiddleware:
    """Pure ASGI: counts each POST /cds-services/{id} with the status it answered and times it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        called = hook_call_service(scope)
        if called is None:
            return await self.app(scope, receive, send)
        service = service_label(called)
        started = time.perf_counter()
        status = [500]

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            HOOK_CALLS.labels(service, str(status[0])).inc()
            HOOK_LATENCY.labels(service).observe(time.perf_counter() - started)


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
    return registry


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    # Read from the app, not a dependency: before start-up there are no services, and that is an answer.
    services: Services | None = getattr(request.app.state, "services", None)
    problems = []
    policies = len(list(services.store.all())) if services is not None else 0
    if not policies:
        problems.append("policies not loaded")
    if services is not None:
        try:
            await asyncio.wait_for(
                run_in_threadpool(_ping, services), timeout=services.settings.readiness_timeout_seconds
            )
        except Exception as exc:  # unreachable, refused, timed out: not ready (the reason's kind only)
            problems.append(f"database not reachable ({type(exc).__name__})")
    if problems:
        return JSONResponse(
            {"status": "not ready", "problems": problems},
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse(
        {"status": "ready", "policies": policies},
        headers={"Cache-Control": "no-store"},
    )


def _ping(services: Services) -> None:
    with services.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def install(app: Any) -> None:
    app.add_middleware(MetricsMiddleware)
    app.include_router(router)
