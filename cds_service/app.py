"""The CDS Hooks service: the app, its middlewares, its routers and its one lifespan.

Importable as `cds_service.app:app`; `create_app(services)` builds one with injected
services for tests, `create_app(settings=…)` one that loads its services with those
settings at start-up.

The lifespan composes each part's start-up and teardown (an AsyncExitStack, so what
started is stopped in reverse order even when a later part fails to start): the
services loaded (a real start), the caller-authentication check, the audit store
opened (migrations) and at shutdown closed (writer thread stopped, every pooled
connection of the audit trail's and shared state's engine disposed). HTTP clients are
opened per fetch (`async with`), so none outlives its request.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from . import __version__, api_docs, audit, auth, hooks, links, log_redaction, logs, ops, packet
from .errors import describe, operation_outcome
from .policy_diff_routes import router as policy_diff_router
from .questionnaire.routes import router as questionnaire_router
from .services import Services
from .settings import Settings
from .smart import smart_router
from .templating import STATIC_PATH, static_files
from .web_security import ForwardedHeaders, SecurityHeaders

log = logging.getLogger("idds")


COLLECTOR_THRESHOLDS = (100_000, 10, 10)  # gc.set_threshold at a real start: why, below


def _start_process() -> Services:
    """A real start, configured from the environment (an app given its services or settings, as
    tests give it, leaves the process's logging and collector alone): load, log, tune the collector."""
    services = Services.load()
    logs.configure(services.settings)  # one handler for ours and uvicorn's lines
    log.info("idds-cds %s starting", __version__)
    # Policies, mappings and models live as long as the process: moved out of the
    # collector's reach, a full collection no longer re-scans them (bench/: the
    # heavy request's time roughly halves).
    gc.freeze()
    # A request's parsed chart is thousands of young containers, ten calls at once many more:
    # at the default 700 the collector ran every few hundred allocations and cost about a
    # fifth of the CPU of an assessed order under load (bench/results.md); at 20,000 young
    # collections still ran while ten calls were alive and walked their charts (about 1 ms a
    # call, ten typical calls at once in process); at 100,000 they hardly run, and server CPU
    # per call was about 12 % lower under wrk (alternating rounds). Cyclic garbage waits at
    # most that many allocations; full collections still run.
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    return services


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Every part's start-up, in order, and its teardown, in reverse."""
    async with AsyncExitStack() as stack:
        if app.state.services is None:
            given = app.state.settings
            app.state.services = _start_process() if given is None else Services.load(given)
        stack.enter_context(auth.started(app))  # bad auth configuration: the service does not start
        await stack.enter_async_context(audit.opened(app))  # migrations now; closed and disposed at the end
        yield


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return operation_outcome(400, describe(errors))


def create_app(services: Services | None = None, *, settings: Settings | None = None) -> FastAPI:
    log_redaction.install()
    app = FastAPI(
        title="idds-cds",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="CDS Hooks coverage requirements for intrathecal drug delivery systems",
    )
    app.state.services = services
    app.state.settings = services.settings if services is not None else settings
    api_docs.install(app)  # /docs from packaged assets (no CDN); the hook bodies in /openapi.json
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
        max_age=600,
    )
    auth.install(app)  # bare 401 for refused callers
    audit.install(app)  # one audit record per hook call
    ops.install(app)  # /healthz, /readyz, /metrics; hook calls counted and timed (outside the audit commit)
    app.add_middleware(SecurityHeaders)  # nosniff, no-referrer, CSP with frame-ancestors on every answer
    app.add_middleware(ForwardedHeaders)  # X-Forwarded-* only from IDDS_TRUSTED_PROXIES (outermost)
    app.add_exception_handler(RequestValidationError, _invalid)

    app.include_router(hooks.router)  # /cds-services… (discovery, hooks, feedback)
    app.include_router(policy_diff_router)  # /policies/{id}/diff, before /policies/{id}/{version}
    app.include_router(links.router)  # /policies…, /fhir/CodeSystem/idds, /assessments/{id}
    app.include_router(smart_router)  # /smart/… (the checklist)
    app.include_router(packet.router)  # /assessments/{id}/packet (prior authorization)
    app.include_router(questionnaire_router)  # /fhir/Questionnaire… (DTR)
    app.mount(STATIC_PATH, static_files(), name="static")  # the pages' CSS and JS
    return app


app = create_app()
