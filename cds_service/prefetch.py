"""Prefetch templates, and turning prefetch (or fetched) data into a PatientRecord.

A key sent as null or as an OperationOutcome means "not available": it is
fetched when the FHIR server is allowed, otherwise those inputs are unknown
and the card says so.
"""

from __future__ import annotations

from typing import Any

import httpx

from .fhir_client import FhirFetcher
from .hook_models import HookRequest
from .record import PatientRecord
from .settings import Settings

TEMPLATES: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medications": "MedicationStatement?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "devices": "Device?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}",
}
RESOURCE_TYPE: dict[str, str] = {
    "patient": "Patient",
    "coverage": "Coverage",
    "conditions": "Condition",
    "observations": "Observation",
    "medications": "MedicationStatement",
    "procedures": "Procedure",
    "devices": "Device",
    "allergies": "AllergyIntolerance",
    "questionnaireResponses": "QuestionnaireResponse",
}
LABEL: dict[str, str] = {
    "patient": "the patient",
    "coverage": "coverage",
    "conditions": "the problem list",
    "observations": "observations",
    "medications": "medication history",
    "procedures": "procedures",
    "devices": "devices",
    "allergies": "allergies",
    "questionnaireResponses": "documentation questionnaire responses",
}


class PatientUnavailable(Exception):
    """The Patient resource could be had neither from prefetch nor from the FHIR server."""


def _entries(value: Any) -> list[Any] | None:
    """Resources in a prefetch value, or None when the value means 'not available'."""
    if not isinstance(value, dict):
        return None
    rtype = value.get("resourceType")
    if rtype == "OperationOutcome":
        return None
    if rtype == "Bundle":
        entries = value.get("entry")
        if entries is None:
            return []
        if not isinstance(entries, list):
            return None  # not a readable Bundle: as good as not sent
        return [e.get("resource") if isinstance(e, dict) else e for e in entries]
    return [value]


def _query(key: str, patient_id: str) -> str:
    return TEMPLATES[key].replace("{{context.patientId}}", patient_id)


async def build_record(
    req: HookRequest, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> PatientRecord:
    patient_id = req.context.patientId
    record = PatientRecord(patient_id)
    prefetch = req.prefetch or {}
    missing: list[str] = []
    for key in TEMPLATES:
        resources = _entries(prefetch.get(key))
        if resources is None:
            missing.append(key)
        else:
            record.add(resources, f"prefetch.{key}")
    if missing:
        await _fetch_missing(req, settings, record, missing, transport)
    if record.patient is None:
        raise PatientUnavailable(patient_id)
    _keep_patient_only(record, patient_id)
    return record


async def _fetch_missing(req, settings, record, missing, transport) -> None:
    server = req.fhirServer
    # With callers authenticated, the access token is real: never send it over plain http.
    insecure = settings.require_auth and bool(server) and not server.lower().startswith("https://")
    if insecure or not settings.fhir_server_allowed(server):
        why = "not sent in prefetch and the FHIR server is not allowed by configuration" if server else "not sent in prefetch and no FHIR server was given"
        if insecure:
            why = "not sent in prefetch and the FHIR server is not https (required when callers are authenticated)"
        for key in missing:
            record.mark_unavailable(RESOURCE_TYPE[key], f"{LABEL[key]}: {why}")
        return
    token = req.fhirAuthorization.access_token if req.fhirAuthorization else None
    fetcher = FhirFetcher(server, token, settings.fhir_timeout_seconds, settings.fhir_max_pages, transport)
    results = await fetcher.fetch_all({key: _query(key, req.context.patientId) for key in missing})
    for key, result in results.items():
        record.add(result.resources, f"the FHIR server's {RESOURCE_TYPE[key]} search")
        if result.error:
            record.mark_unavailable(RESOURCE_TYPE[key], f"{LABEL[key]}: {result.error}")


def _keep_patient_only(record: PatientRecord, patient_id: str) -> None:
    """Drop resources about another patient, reporting them: never mix two charts."""
    for rtype, resources in record.by_type.items():
        kept = []
        keep = kept.append
        for res in resources:
            if rtype == "Patient":
                ok = res.get("id") == patient_id
            else:
                subject = res.get("subject") or res.get("patient") or res.get("beneficiary")
                ref = subject.get("reference") if isinstance(subject, dict) else None
                ok = ref is None or (isinstance(ref, str) and ref.rpartition("/")[2] == patient_id)
            if ok:
                keep(res)
            else:
                record.issues.append(f"{rtype}/{res.get('id', '?')} belongs to another patient and was ignored.")
        record.by_type[rtype] = kept
