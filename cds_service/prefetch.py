"""Prefetch templates, and turning prefetch (or fetched) data into a PatientRecord.

A key sent as null or as an OperationOutcome means "not available": it is
fetched when the FHIR server is allowed, otherwise those inputs are unknown
and the card says so.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from . import deferred, performers, urls
from .deferred import Deferred
from .fhir_client import FhirFetcher
from .fhirtime import parse_date
from .hook_body import Prefetched
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


# Keys whose Bundles arrive left as bytes with their resources deferred (deferred.py): the bulk of a chart.
DEFERRED_KEYS = frozenset(k for k, rtype in RESOURCE_TYPE.items() if rtype in deferred.DEFERRED_TYPES)


class PatientUnavailable(Exception):
    """The Patient resource could be had neither from prefetch nor from the FHIR server."""


def _entries(value: Any, key: str = "") -> list[Any] | None:
    """Resources in a prefetch value, or None when the value means 'not available'."""
    if isinstance(value, Prefetched):
        if key in DEFERRED_KEYS and value.resource_type == "Bundle":
            return [] if value.entries is None else deferred.bundle_entries(value.raw, value.entries)
        value = value.build()  # built as the whole-body parse would have built it
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
    """The template with the id percent-quoted: an id never adds a path segment or a parameter."""
    return TEMPLATES[key].replace("{{context.patientId}}", urls.quote_id(patient_id))


def fetcher_for(
    settings: Settings,
    server: str,
    token: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
    deadline_at: float | None = None,
) -> FhirFetcher:
    return FhirFetcher(
        server,
        token,
        settings.fhir_timeout_seconds,
        settings.fhir_max_pages,
        transport,
        deadline=settings.fhir_deadline_seconds,
        max_response_bytes=settings.fhir_max_response_bytes,
        max_total_bytes=settings.fhir_max_total_bytes,
        deadline_at=deadline_at,
    )


async def build_record(
    req: HookRequest,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    deadline_at: float | None = None,
) -> PatientRecord:
    """The chart, finished (`finish_record`) in a worker thread: validating the Patient
    (possibly among many) is CPU work, kept off the event loop."""
    record = await gather_record(req, settings, transport, deadline_at)
    await run_in_threadpool(finish_record, record, req.context.patientId)
    return record


async def gather_record(
    req: HookRequest,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    deadline_at: float | None = None,
) -> PatientRecord:
    """Prefetch indexed by type, what is missing fetched; not yet finished. The hook route
    finishes it in the same worker thread as the assessment (one hop off the event loop per
    call, not one per step)."""
    patient_id = req.context.patientId
    record = PatientRecord(patient_id)
    prefetch = req.prefetch or {}
    missing: list[str] = []
    for key in TEMPLATES:
        resources = _entries(prefetch.get(key), key)
        if resources is None:
            missing.append(key)
        else:
            record.add(resources, f"prefetch.{key}")
    if missing:
        await _fetch_missing(req, settings, record, missing, transport, deadline_at)
    if (
        req.fhirServer
        and _refusal(req, settings) is None
        and performers.missing(record, performers.named(record))
    ):
        token = req.fhirAuthorization.access_token if req.fhirAuthorization else None
        await performers.fetch(fetcher_for(settings, req.fhirServer, token, transport, deadline_at), record)
    return record


def finish_record(record: PatientRecord, patient_id: str) -> None:
    """The Patient found and validated (PatientUnavailable when there is none), resources about
    another patient dropped and reported. Blocking CPU work: call it from a worker thread."""
    if record.patient is None:
        _readable_patient(record, patient_id)
    if record.patient is None:
        raise PatientUnavailable(
            record.unavailable.get("Patient") or "the Patient resource was not valid FHIR"
        )
    _keep_patient_only(record, patient_id)


def _refusal(req: HookRequest, settings: Settings) -> str | None:
    """Why nothing may be fetched for this request, or None."""
    server = req.fhirServer
    if not server:
        return "not sent in prefetch and no FHIR server was given"
    # With callers authenticated, the access token is real: never send it over plain http.
    if settings.require_auth and not urls.is_https(server):
        return (
            "not sent in prefetch and the FHIR server is not https (required when callers are authenticated)"
        )
    if not settings.fhir_server_allowed(server):
        return "not sent in prefetch and the FHIR server is not allowed by configuration"
    if not urls.fhir_id_ok(req.context.patientId):
        return "not sent in prefetch, and the patient id is not a valid FHIR id, so nothing was fetched"
    token = req.fhirAuthorization.access_token if req.fhirAuthorization else None
    if token and not urls.bearer_token_ok(token):
        return (
            "not sent in prefetch, and the EHR's access token holds characters no HTTP header can carry, "
            "so nothing was fetched"
        )
    return None


async def _fetch_missing(
    req: HookRequest,
    settings: Settings,
    record: PatientRecord,
    missing: list[str],
    transport: httpx.AsyncBaseTransport | None,
    deadline_at: float | None = None,
) -> None:
    why = _refusal(req, settings)
    server = req.fhirServer
    if why is not None or not server:  # _refusal names a missing server: `not server` is for the types
        for key in missing:
            record.mark_unavailable(RESOURCE_TYPE[key], f"{LABEL[key]}: {why}")
        return
    token = req.fhirAuthorization.access_token if req.fhirAuthorization else None
    fetcher = fetcher_for(settings, server, token, transport, deadline_at)
    results = await fetcher.fetch_all({key: _query(key, req.context.patientId) for key in missing})
    for key, result in results.items():
        record.add(result.resources, f"the FHIR server's {RESOURCE_TYPE[key]} search")
        if result.error:
            record.mark_unavailable(RESOURCE_TYPE[key], f"{LABEL[key]}: {result.error}")


def _readable_patient(record: PatientRecord, patient_id: str) -> None:
    """A Patient that fails validation only for its birth date is kept without it, and the card
    says the date was unreadable: the age is then unknown, never guessed, and the call is not
    turned away as if the patient did not exist."""
    patients = record.resources("Patient")
    for i, p in enumerate(patients):
        if not isinstance(p, dict) or p.get("id") != patient_id or "birthDate" not in p:
            continue
        born = p["birthDate"]
        if isinstance(born, str) and parse_date(born) is not None and record.usable(p):
            continue
        kept = {k: v for k, v in p.items() if k != "birthDate"}
        if record.usable(kept):
            patients[i] = kept
            # Not "ignored" after all: the validation note is replaced by what was unreadable.
            stale = f"Patient/{patient_id} was not valid FHIR and was ignored"
            record.issues[:] = [n for n in record.issues if not n.startswith(stale)]
            shown = repr(born)[:40] if isinstance(born, str) else f"a {type(born).__name__}"
            record.issues.append(
                f"Patient/{patient_id}: the birth date in the record ({shown}) could not be read, "
                "so the patient's age is unknown."
            )
            return


def _keep_patient_only(record: PatientRecord, patient_id: str) -> None:
    """Drop resources about another patient, reporting them: never mix two charts."""
    ours = f"Patient/{patient_id}"  # how nearly every resource names its patient: one comparison
    for rtype, resources in record.by_type.items():
        kept: list[dict[str, Any] | Deferred] = []
        keep = kept.append
        for res in resources:
            if isinstance(res, Deferred):  # its head holds the owner, read the same way
                ref = res.reference
                if (
                    ref == ours
                    or ref is None
                    or (isinstance(ref, str) and ref.rpartition("/")[2] == patient_id)
                ):
                    keep(res)
                else:
                    record.issues.append(f"{res.ref} belongs to another patient and was ignored.")
                continue
            if rtype == "Patient":
                ok = res.get("id") == patient_id
            else:
                subject = res.get("subject") or res.get("patient") or res.get("beneficiary")
                ref = subject.get("reference") if isinstance(subject, dict) else None
                ok = ref is None or (isinstance(ref, str) and ref.rpartition("/")[2] == patient_id)
            if ok:
                keep(res)
            else:
                record.issues.append(
                    f"{rtype}/{res.get('id', '?')} belongs to another patient and was ignored."
                )
        record.by_type[rtype] = kept
