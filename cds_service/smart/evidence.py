"""One line per evidence resource ("NRS 8 on 2026-08-15"), so a clinician can check a
criterion against the chart without opening raw FHIR."""

from __future__ import annotations

from typing import Any

from ..record import PatientRecord


def index(record: PatientRecord | None) -> dict[str, dict[str, Any]]:
    if record is None:
        return {}
    # an answer read as an Observation is cited as its response item (QuestionnaireResponse/id#linkId)
    return {
        getattr(r, "cited_as", "") or f"{t}/{r.get('id')}": r
        for t in list(record.by_type)
        for r in record.resources(t)
        if isinstance(r, dict)
    }


def _concept(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def _day(value: Any) -> str:
    return str(value)[:10] if value else ""


def _period(res: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = res.get(key)
        if isinstance(value, dict) and ("start" in value or "end" in value):
            return f"{_day(value.get('start')) or '?'} to {_day(value.get('end')) or 'ongoing'}"
        if isinstance(value, str):
            return _day(value)
    return ""


def _value(obs: dict[str, Any]) -> str:
    for key in ("valueInteger", "valueDecimal", "valueString"):
        if key in obs:
            return str(obs[key])
    if "valueBoolean" in obs:
        return "yes" if obs["valueBoolean"] else "no"
    q = obs.get("valueQuantity")
    if isinstance(q, dict) and "value" in q:
        return (
            f"{q['value']:g} {q.get('unit') or q.get('code') or ''}".strip()
            if isinstance(q["value"], (int, float))
            else str(q["value"])
        )
    return _concept(obs.get("valueCodeableConcept"))


def describe(ref: str, resource: dict[str, Any] | None) -> str:
    """A short human description, or the bare reference when the resource is not at hand."""
    if resource is None:
        return ref
    rtype = resource.get("resourceType")
    if rtype == "Observation":
        text = f"{_concept(resource.get('code'))}: {_value(resource)}"
        when = _period(resource, "effectiveDateTime", "effectivePeriod", "issued")
    elif rtype == "Condition":
        text = _concept(resource.get("code"))
        when = ""
    elif rtype == "MedicationStatement":
        reason = _concept((resource.get("statusReason") or [{}])[0])
        text = _concept(resource.get("medicationCodeableConcept")) + (f" ({reason})" if reason else "")
        when = _period(resource, "effectivePeriod", "effectiveDateTime")
    elif rtype == "Procedure":
        outcome = _concept(resource.get("outcome"))
        text = _concept(resource.get("code")) + (f" ({outcome})" if outcome else "")
        when = _period(resource, "performedPeriod", "performedDateTime")
    elif rtype == "Device":
        names = resource.get("deviceName") or [{}]
        text = (
            str(names[0]["name"])
            if isinstance(names[0], dict) and names[0].get("name")
            else _concept(resource.get("type"))
        )
        when = ""
    elif rtype == "Patient":
        text = f"Patient, born {resource.get('birthDate') or 'unknown'}"
        when = ""
    else:
        text = _concept(resource.get("code")) or rtype or ref
        when = ""
    text = text or ref
    return f"{text} ({when})" if when else text
