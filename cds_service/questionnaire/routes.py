"""FHIR endpoints for the generated questionnaires:

- GET  /fhir/Questionnaire/{id}
- GET  /fhir/Questionnaire?url=<canonical>[|version][&version=]
- POST /fhir/Questionnaire/$questionnaire-package  (Parameters: order(s), coverage, patient, data)

and, included here, the checklist's documentation form (questionnaire/documentation.py).
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from .. import auth
from ..errors import operation_outcome
from ..hook_models import HookRequest
from ..orders import DRAFT_TYPES, draft_orders
from ..pipeline import assess_hook
from ..prefetch import RESOURCE_TYPE, PatientUnavailable, build_record
from ..services import ServicesDep
from .build import questionnaires
from .documentation import router as documentation_router
from .prefill import prefill

log = logging.getLogger("idds")
router = APIRouter()
FHIR_JSON = "application/fhir+json"
KEY_BY_TYPE = {rtype: key for key, rtype in RESOURCE_TYPE.items()}


def _fhir(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


@router.get("/fhir/Questionnaire/{qid}")
async def read_questionnaire(services: ServicesDep, qid: str) -> Response:
    entry = questionnaires(services.store).by_id.get(qid)
    if entry is None:
        return operation_outcome(404, f"no Questionnaire {qid!r}", "not-found")
    return _fhir(entry.resource)


@router.get("/fhir/Questionnaire")
async def search_questionnaires(services: ServicesDep, request: Request) -> Response:
    qs = questionnaires(services.store)
    params = request.query_params
    unknown = [k for k in params if k not in ("url", "version", "_format")]
    if unknown:
        return operation_outcome(
            400, f"unsupported search parameter(s): {', '.join(unknown)} (use url, version)", "not-supported"
        )
    url, version = params.get("url"), params.get("version")
    found = list(qs.by_id.values())
    if url is not None:
        base, _, pinned = url.partition("|")
        version = version or pinned or None
        found = [e for e in found if e.url == base]
    if version is not None:
        found = [e for e in found if e.version == version]
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [{"fullUrl": e.url, "resource": e.resource, "search": {"mode": "match"}} for e in found],
        }
    )


def _param_resources(params: list[Any], name: str) -> list[dict[str, Any]]:
    return [
        p["resource"]
        for p in params
        if isinstance(p, dict) and p.get("name") == name and isinstance(p.get("resource"), dict)
    ]


# It carries the patient's data: callers are verified like the hooks.
@router.post("/fhir/Questionnaire/$questionnaire-package", dependencies=[Depends(auth.verify_caller)])
async def questionnaire_package(services: ServicesDep, request: Request) -> Response:
    raw = await request.body()
    if len(raw) > services.settings.max_body_bytes:
        return operation_outcome(
            413, f"request body larger than {services.settings.max_body_bytes} bytes", "too-costly"
        )
    try:
        body = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return operation_outcome(400, f"request body is not valid JSON: {exc}")
    if (
        not isinstance(body, dict)
        or body.get("resourceType") != "Parameters"
        or not isinstance(body.get("parameter", []), list)
    ):
        return operation_outcome(
            400, "the body must be a FHIR Parameters resource with order, coverage and patient parameters"
        )
    params = body.get("parameter") or []
    orders = [r for r in _param_resources(params, "order") if r.get("resourceType") in DRAFT_TYPES]
    if not orders:
        return operation_outcome(
            400, "no `order` parameter with a ServiceRequest, DeviceRequest or MedicationRequest resource"
        )
    coverages = [r for r in _param_resources(params, "coverage") if r.get("resourceType") == "Coverage"]
    patients = [r for r in _param_resources(params, "patient") if r.get("resourceType") == "Patient"]
    if not patients or not isinstance(patients[0].get("id"), str):
        return operation_outcome(400, "no `patient` parameter with a Patient resource (with an id)")
    patient = patients[0]
    prefetch: dict[str, Any] = {
        "patient": patient,
        "coverage": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": c} for c in coverages],
        },
    }
    data = _param_resources(params, "data")
    for bundle in data:
        if bundle.get("resourceType") != "Bundle":
            return operation_outcome(400, "a `data` parameter must be a Bundle of the patient's resources")
        for e in bundle.get("entry") or ():
            res = e.get("resource") if isinstance(e, dict) else None
            rtype = res.get("resourceType") if isinstance(res, dict) else None
            key = KEY_BY_TYPE.get(rtype) if isinstance(rtype, str) else None
            if key and key not in ("patient", "coverage"):
                prefetch.setdefault(key, {"resourceType": "Bundle", "type": "searchset", "entry": []})[
                    "entry"
                ].append({"resource": res})
    for key in KEY_BY_TYPE.values():
        if key not in prefetch and data:
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    try:
        req = HookRequest.model_validate(
            {
                "hook": "order-sign",
                "hookInstance": str(uuid.uuid4()),
                "context": {
                    "patientId": patient["id"],
                    "draftOrders": draft_orders(orders),
                },
                "prefetch": prefetch,
            }
        )
        record = await build_record(req, services.settings, services.fhir_transport)
    except ValidationError as exc:
        return operation_outcome(
            400, f"the parameters do not make an assessable request: {exc.errors()[0].get('msg')}"
        )
    except PatientUnavailable:
        return operation_outcome(400, "the Patient resource is not usable", "not-found")
    try:
        outcome = assess_hook(req, record, services.terminology, services.store, date.today())
    except Exception:  # a bug must not be a 500
        log.exception("questionnaire package failed")
        return operation_outcome(422, "the order could not be assessed", "exception")
    qs = questionnaires(services.store)
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    for a in outcome.every_assessment:
        entry = qs.for_assessment(a.policy.policy, a.policy.version, a.indication, a.order.phase)
        if entry is None:
            why = (
                "the indication is not documented, so no questionnaire applies"
                if a.indication is None
                else "nothing it asks for this order is something a clinician attests, so no questionnaire"
            )
            notes.append(f"{a.policy.payer} {a.policy.title} ({a.determination}): {why}")
            continue
        response, open_links = prefill(a, record, services.terminology, entry, qs.spec)
        out.append(
            {
                "name": "PackageBundle",
                "resource": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [
                        {"fullUrl": entry.url, "resource": entry.resource},
                        {"fullUrl": f"urn:uuid:{response['id']}", "resource": response},
                    ],
                },
            }
        )
        notes.append(
            f"{a.policy.payer} {a.policy.title}: {a.determination}; "
            f"{len(open_links)} question(s) left open ({', '.join(open_links) or 'none'})"
        )
    if not outcome.every_assessment:
        notes.append("no order in the package is one these policies assess (no card would be shown)")
    notes.extend(dict.fromkeys([*record.unavailable.values(), *record.issues]))
    out.append(
        {
            "name": "outcome",
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "information", "code": "informational", "diagnostics": n} for n in notes
                ]
                or [{"severity": "information", "code": "informational", "diagnostics": "ok"}],
            },
        }
    )
    return _fhir({"resourceType": "Parameters", "parameter": out})


router.include_router(documentation_router)  # POST /smart/documentation: the checklist's form
