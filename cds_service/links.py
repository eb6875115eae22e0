"""What the cards link to and cite: the policies (list and pages), the idds CodeSystem, and the
assessments the service remembers for the checklist (`/assessments/{id}`).

Open to any caller, as before: they hold no patient data beyond a remembered
assessment's ids and determinations, reachable only by its unguessable id for
its time to live.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from . import policy_urls
from .codesystem import OVERRIDE_REASON_ID, override_reason_codesystem
from .errors import operation_outcome
from .policy_page import render as render_policy
from .services import ServicesDep

router = APIRouter()


@router.get("/policies")
async def list_policies(services: ServicesDep) -> list[dict[str, Any]]:
    return [
        {
            "id": p.policy,
            "version": p.version,
            "payer": p.payer,
            "title": p.title,
            "effective": p.effective.isoformat(),
            "url": policy_urls.policy_page(p.policy, p.version),
        }
        for p in services.store.all()
    ]


@router.get("/policies/{policy_id}/{version}", response_class=HTMLResponse)
async def policy_page(policy_id: str, version: str, services: ServicesDep) -> Response:
    policy = services.store.get(policy_id, version)
    if policy is None:
        return operation_outcome(404, f"no policy {policy_id} version {version}", "not-found")
    return HTMLResponse(render_policy(policy))


@router.get("/fhir/CodeSystem/idds")
async def codesystem(services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.codesystem, media_type="application/fhir+json")


@router.get(f"/fhir/CodeSystem/{OVERRIDE_REASON_ID}")  # the codes of every card's overrideReasons
async def override_reasons() -> JSONResponse:
    return JSONResponse(override_reason_codesystem(), media_type="application/fhir+json")


@router.get("/assessments/{assessment_id}", response_model=None)
async def get_assessment(assessment_id: str, services: ServicesDep) -> Any:
    found = await run_in_threadpool(services.recall, assessment_id)  # the shared database
    if found is None:
        return operation_outcome(404, "unknown or expired assessment id", "not-found")
    return found
