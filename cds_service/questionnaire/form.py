"""The documentation form inside the checklist: one field per open question of an
assessment's Questionnaire, and the completed QuestionnaireResponse built from it.

Field names: `q:<linkId>` (and `q:<linkId>:unit` for a quantity's unit); nested
questions `q:<linkId>.<child>`. Bad input (not a number, out of range, a unit not
offered) comes back as messages with every value kept; nothing is dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from ..policy_model import Status
from .build import Entry, new_response
from .crd import _entries
from .spec import IDDS, UCUM, Input, Spec, default_spec


def clock() -> datetime:
    """When a response is authored (tests of charts with fixed dates replace it)."""
    return datetime.now(UTC)


def entry_for(sheet: Any) -> Entry | None:
    a, policy = getattr(sheet, "assessment", None), getattr(sheet, "policy", None)
    if not isinstance(a, dict) or policy is None:
        return None
    indication, phase = a.get("indication"), (a.get("order") or {}).get("phase")
    if not (isinstance(indication, str) and isinstance(phase, str)):
        return None
    return _entries(policy).get((indication, phase))


def open_questions(entry: Entry, assessment: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions whose criteria the assessment reports undocumented."""
    unknown = {c.get("id") for c in assessment.get("criteria") or () if c.get("status") == Status.UNKNOWN}
    return [q for q in entry.resource["item"] if unknown & set(entry.criteria_by_code.get(q["linkId"], ()))]


def _default_device(assessment: dict[str, Any]) -> str:
    for c in assessment.get("criteria") or ():
        for ref in c.get("evidence") or ():
            if isinstance(ref, str) and ref.startswith("Device/"):
                return ref
    return ""


@dataclass
class Field:
    """One input of the form, as cds_service/templates/_documentation_form.html draws it."""

    kind: str  # boolean | choice | number | text
    name: str
    label: str
    id: str
    value: str
    options: list[tuple[str, str]] = dc_field(default_factory=list)  # choice: (code, display)
    step: str = "any"
    min: str | None = None
    max: str | None = None
    unit: str = ""
    units: list[str] = dc_field(default_factory=list)  # quantity: the units offered
    chosen_unit: str = ""
    placeholder: str = "Resource"


@dataclass
class Question:
    fields: list[Field]
    help: str = ""


@dataclass
class Form:
    index: int
    count: int  # open questions
    questions: list[Question]
    hidden: dict[str, str]
    messages: list[str]


def _field(inp: Input, name: str, label: str, values: dict[str, str], spec: Spec, default: str = "") -> Field:
    value = values.get(name, default)
    fid = "f-" + quote(name, safe="").replace("%", "")
    if inp.type == "boolean":
        return Field("boolean", name, label, fid, value)
    if inp.type == "choice":
        return Field("choice", name, label, fid, value, options=[(a, spec.display(a)) for a in inp.answers])
    if inp.type in ("integer", "decimal", "quantity"):
        quantity = inp.type == "quantity"
        return Field(
            "number",
            name,
            label,
            fid,
            value,
            step="1" if inp.type == "integer" else "any",
            min=f"{inp.min:g}" if inp.min is not None else None,
            max=f"{inp.max:g}" if inp.max is not None else None,
            unit=inp.unit or "",
            units=list(inp.units) if quantity else [],
            chosen_unit=values.get(f"{name}:unit", inp.units[0] if inp.units else "") if quantity else "",
        )
    return Field("text", name, label, fid, value, placeholder=inp.resource or "Resource")


def form_view(
    sheet: Any,
    hidden: dict[str, str],
    values: dict[str, str] | None = None,
    messages: list[str] | None = None,
    index: int = 0,
) -> Form | None:
    """The form for one checklist sheet (None when nothing it asks can be attested)."""
    entry = entry_for(sheet)
    if entry is None:
        return None
    questions = open_questions(entry, sheet.assessment)
    if not questions:
        return None
    spec = default_spec()
    values = values or {}
    shown = []
    for q in questions:
        link = q["linkId"]
        inp = spec.inputs[link]
        help_text = next((c["text"] for c in q.get("item") or () if c.get("type") == "display"), "")
        fields = [_field(inp, f"q:{link}", q["text"], values, spec)]
        for child in inp.children:
            default = (
                _default_device(sheet.assessment)
                if child.type == "reference" and child.resource == "Device"
                else ""
            )
            fields.append(_field(child, f"q:{link}.{child.code}", child.question, values, spec, default))
        shown.append(Question(fields, help_text))
    if not hidden.get("patient"):
        patient = Input("patient", "reference", "Patient (FHIR id)")
        shown.append(Question([_field(patient, "patient", "Patient (FHIR id)", values, spec)]))
    keep = {
        **hidden,
        "assessment": sheet.assessment.get("id", ""),
        "questionnaire": f"{entry.url}|{entry.version}",
    }
    return Form(index, len(questions), shown, {k: v for k, v in keep.items() if v}, list(messages or ()))


def _number(raw: str, inp: Input, label: str, errors: list[str]) -> float | int | None:
    try:
        v: float | int = int(raw) if inp.type == "integer" else float(raw)
    except ValueError:
        errors.append(f"“{label}”: {raw!r} is not a {'whole ' if inp.type == 'integer' else ''}number.")
        return None
    if (inp.min is not None and v < inp.min) or (inp.max is not None and v > inp.max):
        errors.append(
            f"“{label}”: {raw} is outside {inp.min:g}–{inp.max:g}."
            if inp.max is not None
            else f"“{label}”: {raw} is below {inp.min:g}."
        )
        return None
    return v


def _answer(
    inp: Input, name: str, label: str, values: dict[str, str], errors: list[str]
) -> dict[str, Any] | None:
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    if inp.type == "boolean":
        if raw not in ("true", "false"):
            errors.append(f"“{label}”: answer yes or no.")
            return None
        return {"valueBoolean": raw == "true"}
    if inp.type == "choice":
        if raw not in inp.answers:
            errors.append(f"“{label}”: {raw!r} is not one of the answers offered.")
            return None
        return {"valueCoding": {"system": IDDS, "code": raw}}
    if inp.type == "integer":
        v = _number(raw, inp, label, errors)
        return None if v is None else {"valueInteger": v}
    if inp.type == "decimal":
        v = _number(raw, inp, label, errors)
        return None if v is None else {"valueDecimal": v}
    if inp.type == "quantity":
        v = _number(raw, inp, label, errors)
        unit = values.get(f"{name}:unit", "")
        if unit not in inp.units:
            errors.append(f"“{label}”: choose a unit ({', '.join(inp.units)}).")
            return None
        return (
            None if v is None else {"valueQuantity": {"value": v, "unit": unit, "system": UCUM, "code": unit}}
        )
    if inp.resource and not raw.startswith(f"{inp.resource}/"):
        errors.append(f"“{label}”: give a {inp.resource} reference ({inp.resource}/id).")
        return None
    return {"valueReference": {"reference": raw}}


def response_from_form(
    entry: Entry,
    assessment: dict[str, Any],
    patient_id: str,
    values: dict[str, str],
    now: datetime | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """(the completed QuestionnaireResponse, []) or (None, what is wrong)."""
    spec = default_spec()
    errors: list[str] = []
    items = []
    for q in open_questions(entry, assessment):
        link = q["linkId"]
        inp = spec.inputs[link]
        answer = _answer(inp, f"q:{link}", q["text"], values, errors)
        if answer is None:
            continue
        nested = []
        for child in inp.children:
            sub = _answer(child, f"q:{link}.{child.code}", child.question, values, errors)
            if sub is not None:
                nested.append({"linkId": f"{link}.{child.code}", "text": child.question, "answer": [sub]})
        if nested:
            answer["item"] = nested
        items.append({"linkId": link, "text": q["text"], "answer": [answer]})
    if errors:
        return None, errors
    if not items:
        return None, ["Nothing was answered: answer at least one question, or leave the form."]
    qr = new_response(entry, patient_id, "completed", items, now or clock())
    order = (assessment.get("order") or {}).get("reference")
    if isinstance(order, str) and order.startswith("ServiceRequest/"):
        qr["basedOn"] = [{"reference": order}]
    QuestionnaireResponse.model_validate(qr)
    return qr, []


def download(qr: dict[str, Any]) -> tuple[str, str]:
    """(file name, data: URL) of the response, for a download link when it cannot be saved."""
    return f"questionnaire-response-{qr['id']}.json", "data:application/fhir+json;charset=utf-8," + quote(
        json.dumps(qr, indent=2)
    )
