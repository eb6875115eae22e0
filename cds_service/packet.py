"""A prior-authorization packet: GET /assessments/{id}/packet → a FHIR R4 Bundle shaped after Da Vinci PAS.

The Bundle (type collection) holds a `Claim` (use preauthorization) for the order's
CPT/HCPCS code with the diagnosis and the patient's Coverage, whose `supportingInfo`
references, criterion by criterion, the chart resources that decided it (and any
QuestionnaireResponse), and cites the policy id and version assessed; then those resources.

What the packet needs of the chart is kept when the card is answered (`keep`), beside the
assessment, for the same time to live (Services.remember_packet). It holds chart resources,
so it stays in the answering process's memory, never in the shared database: with several
workers the packet link opens on the worker that answered the card (a known limit). A comparison (no
Coverage in force, or a payer no policy is encoded for) gets no packet: a preauthorization
is asked of the patient's own payer under its own policy.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from .assessment import Assessment, Comparison
from .errors import operation_outcome
from .next_steps import leaf_index
from .policy_model import STATUS_WORDS
from .record import PatientRecord, resource_ref
from .services import Services, ServicesDep

log = logging.getLogger("idds.packet")
router = APIRouter(tags=["packet"])

PAS_BUNDLE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-request-bundle"
PAS_CLAIM = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim"
INFO_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
CRITERION_SYSTEM = "http://idds-cds.org/fhir/CodeSystem/idds-criterion"
POLICY_SYSTEM = "http://idds-cds.org/fhir/CodeSystem/idds-policy"
ASSESSMENT_SYSTEM = "http://idds-cds.org/fhir/assessment"


def _find(record: PatientRecord, ref: str) -> dict[str, Any] | None:
    rtype, _, rid = ref.partition("/")
    for r in record.with_id(rtype, rid):
        if record.usable(r):
            return r
    return None


def keep(
    services: Services, item: Assessment | Comparison, record: PatientRecord, fhir_server: str | None
) -> None:
    """Keep what the packet of each assessment needs: the order, Coverage, Patient and evidence resources.
    A failure here costs the packet, never the clinician's card."""
    try:
        _keep(services, item, record, fhir_server)
    except Exception:
        log.exception("packet data not kept for %s", getattr(item, "id", "?"))


def _keep(
    services: Services, item: Assessment | Comparison, record: PatientRecord, fhir_server: str | None
) -> None:
    items = item.assessments if isinstance(item, Comparison) else [item]
    for a in items:
        routing = a.routing
        comparison = (
            isinstance(item, Comparison)
            or routing is None
            or routing.comparison
            or routing.coverage_ref is None
        )
        leaves, _ = leaf_index(a.policy)
        refs = {ref for c in a.outcome.criteria for ref in c.evidence}
        resources = {ref: r for ref in sorted(refs) if (r := _find(record, ref)) is not None}
        diagnoses = [
            ref
            for c in a.outcome.criteria
            if leaves.get(c.id) is not None and leaves[c.id].fact == "diagnosis_documented"
            for ref in c.evidence
            if ref.startswith("Condition/")
        ]
        qrs = [r for r in record.resources("QuestionnaireResponse") if record.usable(r)]
        services.remember_packet(
            a.id,
            {
                "assessment": a.as_contract(),
                "comparison": comparison,
                "order": a.order.resource,
                "order_code": a.order.code,
                "patient": record.patient,
                "patient_id": record.patient_id,
                "coverage": _find(record, routing.coverage_ref) if routing and routing.coverage_ref else None,
                "coverage_ref": routing.coverage_ref if routing else None,
                "resources": resources,
                "diagnoses": list(dict.fromkeys(diagnoses)),
                "questionnaire_responses": qrs,
                "fhir_server": fhir_server,
            },
        )


def _coding_of(order: dict[str, Any], code: str | None) -> dict[str, Any]:
    concept = (
        order.get("codeCodeableConcept")
        if order.get("resourceType") == "DeviceRequest"
        else order.get("code")
    )
    for coding in (concept or {}).get("coding") or () if isinstance(concept, dict) else ():
        if isinstance(coding, dict) and coding.get("code") == code:
            return {"coding": [{k: coding[k] for k in ("system", "code", "display") if coding.get(k)}]}
    return {"text": f"procedure code {code}" if code else "the order carries no CPT/HCPCS code"}


def _diagnosis(kept: dict[str, Any], resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    order = kept["order"]
    out: list[dict[str, Any]] = []
    for reason in order.get("reasonReference") or ():
        ref = reason.get("reference") if isinstance(reason, dict) else None
        if isinstance(ref, str) and "/".join(ref.split("/")[-2:]) in resources:
            out.append({"diagnosisReference": {"reference": "/".join(ref.split("/")[-2:])}})
    if not out:
        for concept in order.get("reasonCode") or ():
            if isinstance(concept, dict) and (concept.get("coding") or concept.get("text")):
                out.append({"diagnosisCodeableConcept": concept})
    if not out:
        out = [{"diagnosisReference": {"reference": ref}} for ref in kept["diagnoses"] if ref in resources]
    return [{"sequence": i, **d} for i, d in enumerate(out, 1)]


def build(kept: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The PAS-shaped Bundle for one kept assessment."""
    now = now or datetime.now(UTC)
    a = kept["assessment"]
    policy = a["policy"]
    order = kept["order"]
    patient = kept["patient"]
    resources: dict[str, dict[str, Any]] = dict(kept["resources"])
    if patient is not None:
        resources.setdefault(resource_ref(patient), patient)
    coverage = kept["coverage"]
    if coverage is not None:
        resources.setdefault(resource_ref(coverage), coverage)
    for qr in kept["questionnaire_responses"]:
        resources.setdefault(resource_ref(qr), qr)

    info: list[dict[str, Any]] = []

    def add_info(what: str, **body: Any) -> None:
        """One Claim.supportingInfo entry, numbered in order: `what` says what it is."""
        category = {"coding": [{"system": INFO_CATEGORY, "code": "info"}], "text": what}
        info.append({"sequence": len(info) + 1, "category": category, **body})

    add_info(
        "Coverage policy assessed",
        code={
            "coding": [{"system": POLICY_SYSTEM, "code": policy["id"], "display": policy["title"]}],
            "text": f"{policy['payer']} {policy['title']}, version {policy['version']}",
        },
        valueString=f"{policy['id']} version {policy['version']}: {a['determination']}",
    )
    for c in a["criteria"]:
        for ref in c.get("evidence") or ():
            if ref not in kept["resources"]:
                continue
            add_info(
                "Evidence for a policy criterion",
                code={
                    "coding": [{"system": CRITERION_SYSTEM, "code": c["id"]}],
                    "text": f"{c['text']} ({STATUS_WORDS.get(c['status'], c['status'])})",
                },
                valueReference={"reference": ref},
            )
    for qr in kept["questionnaire_responses"]:
        add_info("Questionnaire response", valueReference={"reference": resource_ref(qr)})
    diagnosis = _diagnosis(kept, resources)
    order_ref = resource_ref(order)
    item: dict[str, Any] = {
        "sequence": 1,
        "productOrService": _coding_of(order, kept["order_code"]),
        "servicedDate": a["dateOfService"],
        "informationSequence": [i["sequence"] for i in info],
    }
    if diagnosis:
        item["diagnosisSequence"] = [d["sequence"] for d in diagnosis]
    payor = (coverage or {}).get("payor") or []
    claim_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"idds-cds/packet/{a['id']}"))
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": claim_id,
        "meta": {"profile": [PAS_CLAIM]},
        "identifier": [{"system": ASSESSMENT_SYSTEM, "value": a["id"]}],
        "status": "active",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
        },
        "use": "preauthorization",
        "patient": {"reference": resource_ref(patient) if patient else f"Patient/{kept['patient_id']}"},
        "created": now.isoformat(timespec="seconds"),
        "insurer": payor[0] if payor and isinstance(payor[0], dict) else {"display": policy["payer"]},
        "provider": order.get("requester")
        if isinstance(order.get("requester"), dict)
        else {"display": "ordering provider (not named on the order)"},
        "priority": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
        },
        "referral": {"reference": order_ref},
        "supportingInfo": info,
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": kept["coverage_ref"]}}],
        "item": [item],
    }
    if diagnosis:
        claim["diagnosis"] = diagnosis
    base = (kept.get("fhir_server") or "").rstrip("/")

    def entry(resource: dict[str, Any]) -> dict[str, Any]:
        return (
            {"fullUrl": f"{base}/{resource_ref(resource)}", "resource": resource}
            if base
            else {"resource": resource}
        )

    entries = [{"fullUrl": f"urn:uuid:{claim_id}", "resource": claim}, entry(order)]
    entries += [entry(r) for ref, r in sorted(resources.items()) if ref != order_ref]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"idds-cds/packet-bundle/{a['id']}")),
        "meta": {"profile": [PAS_BUNDLE]},
        "identifier": {"system": ASSESSMENT_SYSTEM, "value": a["id"]},
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": entries,
    }


@router.get("/assessments/{assessment_id}/packet")
async def get_packet(services: ServicesDep, assessment_id: str) -> Response:
    kept = await run_in_threadpool(services.recall_packet, assessment_id)
    if kept is None:
        return operation_outcome(404, "unknown or expired assessment id", "not-found")
    if kept["comparison"]:
        return operation_outcome(
            409,
            "no prior-authorization packet: this assessment compares policies because the "
            "patient's own payer has no policy here or no Coverage is in force; add the "
            "patient's Coverage and assess the order again",
            "business-rule",
        )
    bundle = build(kept)
    try:
        Bundle.model_validate(bundle)
    except (ValidationError, ValueError) as exc:
        log.error("packet for %s is not valid FHIR: %s", assessment_id, str(exc)[:300])
        return operation_outcome(
            422, "the packet could not be built as valid FHIR from this record", "processing"
        )
    return JSONResponse(bundle, media_type="application/fhir+json")
