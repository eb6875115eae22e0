"""`GET /policies/{id}/diff?from=…&to=…`: the policy diff for the payer's reviewer.

HTML (cds_service/templates/policy_diff.html) for a browser; the same content as JSON
(policy_diff_model.PolicyDiff) for `Accept: application/json` or `?format=json`. An
unknown policy or version is a 404 that names what there is; the same version twice is
an empty diff. Included in the app before `/policies/{id}/{version}`, which would
otherwise read "diff" as a version.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .errors import operation_outcome
from .policy_diff import DiffError, page_url, policy_diff
from .policy_store import PolicyStore
from .policy_urls import diff_page
from .services import ServicesDep
from .templating import templates

router = APIRouter()


def wants_json(request: Request, format: str | None) -> bool:
    """`?format=` decides; otherwise JSON only when the client asks for it and not for HTML."""
    if format is not None:
        return format == "json"
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "text/html" not in accept


def _versions(store: PolicyStore, policy_id: str) -> list[str]:
    return [p.version for p in store.versions(policy_id)] if policy_id in store.policy_ids else []


@router.get("/policies/{policy_id}/diff", response_model=None)
async def policy_diff_page(
    services: ServicesDep,
    request: Request,
    policy_id: str,
    before: str | None = Query(
        None, alias="from", max_length=200, description="version (default: the one before `to`)"
    ),
    after: str | None = Query(None, alias="to", max_length=200, description="version (default: the newest)"),
    format: str | None = Query(
        None, pattern="^(html|json)$", description="html or json (default: from Accept)"
    ),
) -> Response:
    store = services.store
    try:
        found = await run_in_threadpool(policy_diff, store, policy_id, before, after)
    except DiffError as exc:
        if wants_json(request, format):
            return operation_outcome(404, str(exc), "not-found")
        policies = [
            (pid, [(p.version, page_url(p)) for p in store.versions(pid)], diff_page(pid))
            for pid in store.policy_ids
        ]
        return templates.TemplateResponse(
            request, "policy_diff_error.html", {"message": str(exc), "policies": policies}, status_code=404
        )
    if wants_json(request, format):
        return JSONResponse(found.as_json() | {"empty": found.empty})
    return templates.TemplateResponse(
        request,
        "policy_diff.html",
        {
            "d": found,
            "versions": _versions(store, policy_id),
            "json_url": diff_page(found.policy, found.before.version, found.after.version, format="json"),
        },
    )
