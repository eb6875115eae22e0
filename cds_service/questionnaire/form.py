"""The documentation form inside the checklist: one field per open question of an
assessment's Questionnaire, and the completed QuestionnaireResponse built from it.

Field names: `q:<linkId>` (and `q:<linkId>:unit` for a quantity's unit); nested
questions `q:<linkId>.<child>`. Bad input (not a number, out of range, a unit not
offered) comes back as messages with every value kept; nothing is dropped silently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from .build import Entry, new_response
from .crd import _entries
from .spec import IDDS, UCUM, Input, Spec, default_spec

UNKNOWN = "unknown"


def clock() -> datetime:
    """When a response is authored (tests of charts with fixed dates replace it)."""
    return datetime.now(UTC)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def entry_for(sheet: Any) -> Entry | None:
    a, policy = getattr(sheet, "assessment", None), getattr(sheet, "policy", None)
    if not isinstance(a, dict) or policy is None:
        return None
    return _entries(policy).get((a.get("indication"), (a.get("order") or {}).get("phase")))


def open_questions(entry: Entry, assessment: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions whose criteria the assessment reports undocumented."""
    unknown = {c.get("id") for c in assessment.get("criteria") or () if c.get("status") == UNKNOWN}
    return [q for q in entry.resource["item"] if unknown & set(entry.criteria_by_code.get(q["linkId"], ()))]


def _default_device(assessment: dict[str, Any]) -> str:
    for c in assessment.get("criteria") or ():
        for ref in c.get("evidence") or ():
            if isinstance(ref, str) and ref.startswith("Device/"):
                return ref
    return ""


def _field(inp: Input, name: str, label: str, values: dict[str, str], spec: Spec, default: str = "") -> str:
    value = values.get(name, default)
    fid = "f-" + quote(name, safe="").replace("%", "")
    if inp.type == "boolean":
        opts = "".join(
            f'<label><input type="radio" name="{_e(name)}" value="{v}"{" checked" if value == v else ""}> {word}</label> '
            for v, word in (("true", "Yes"), ("false", "No"))
        )
        return f'<fieldset class="q"><legend>{_e(label)}</legend>{opts}</fieldset>'
    if inp.type == "choice":
        opts = '<option value="">— not answered —</option>' + "".join(
            f'<option value="{_e(a)}"{" selected" if value == a else ""}>{_e(spec.display(a))}</option>'
            for a in inp.answers
        )
        return f'<p class="q"><label for="{fid}">{_e(label)}</label> <select id="{fid}" name="{_e(name)}">{opts}</select></p>'
    if inp.type in ("integer", "decimal", "quantity"):
        bounds = "".join(f' {k}="{v:g}"' for k, v in (("min", inp.min), ("max", inp.max)) if v is not None)
        step = "1" if inp.type == "integer" else "any"
        unit = f" {_e(inp.unit)}" if inp.unit else ""
        units = ""
        if inp.type == "quantity":
            chosen = values.get(f"{name}:unit", inp.units[0] if inp.units else "")
            units = (
                f' <select name="{_e(name)}:unit" aria-label="unit">'
                + "".join(
                    f'<option value="{_e(u)}"{" selected" if chosen == u else ""}>{_e(u)}</option>'
                    for u in inp.units
                )
                + "</select>"
            )
        return (
            f'<p class="q"><label for="{fid}">{_e(label)}</label> <input id="{fid}" type="number" step="{step}"{bounds} '
            f'name="{_e(name)}" value="{_e(value)}">{unit}{units}</p>'
        )
    return (
        f'<p class="q"><label for="{fid}">{_e(label)}</label> <input id="{fid}" type="text" name="{_e(name)}" '
        f'value="{_e(value)}" placeholder="{_e(inp.resource or "Resource")}/…"></p>'
    )


def form_html(
    sheet: Any,
    hidden: dict[str, str],
    values: dict[str, str] | None = None,
    messages: list[str] | None = None,
    index: int = 0,
) -> str:
    """The form for one checklist sheet ('' when nothing it asks can be attested)."""
    entry = entry_for(sheet)
    if entry is None:
        return ""
    questions = open_questions(entry, sheet.assessment)
    if not questions:
        return ""
    spec = default_spec()
    values = values or {}
    fields = []
    for q in questions:
        link = q["linkId"]
        inp = spec.inputs[link]
        help_text = next((c["text"] for c in q.get("item") or () if c.get("type") == "display"), "")
        html = _field(inp, f"q:{link}", q["text"], values, spec)
        for child in inp.children:
            default = _default_device(sheet.assessment) if child.type == "reference" else ""
            html += _field(child, f"q:{link}.{child.code}", child.question, values, spec, default)
        if help_text:
            html += f'<details class="fine"><summary>What the policy says</summary>{_e(help_text)}</details>'
        fields.append(f"<li>{html}</li>")
    if not hidden.get("patient"):
        fields.append(
            f"<li>{_field(Input('patient', 'reference', 'Patient (FHIR id)'), 'patient', 'Patient (FHIR id)', values, spec)}</li>"
        )
    keep = {
        **hidden,
        "assessment": sheet.assessment.get("id", ""),
        "questionnaire": f"{entry.url}|{entry.version}",
    }
    hidden_html = "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in keep.items() if v
    )
    said = "".join(f"<li>{_e(m)}</li>" for m in messages or ())
    return (
        f'<form class="dtr" method="post" action="/smart/documentation" id="dtr-{index}" '
        'style="border:2px solid var(--unk);border-radius:.5rem;padding:.5rem 1.25rem 1rem;margin:-.5rem 0 1.5rem">'
        f"<h3>Complete the documentation ({len(questions)} open question{'s' if len(questions) != 1 else ''})</h3>"
        + (f'<div class="todo" role="alert"><ul>{said}</ul></div>' if said else "")
        + f"{hidden_html}<ol>{''.join(fields)}</ol>"
        '<button type="submit">Save and re-assess</button>'
        '<p class="fine">Your answers are saved as a QuestionnaireResponse in the patient\'s record and read as documentation.</p>'
        "</form>"
    )


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


def download_link(qr: dict[str, Any]) -> str:
    data = quote(json.dumps(qr, indent=2))
    return (
        f'<a class="button" download="questionnaire-response-{_e(qr["id"])}.json" '
        f'href="data:application/fhir+json;charset=utf-8,{data}">Download the response (FHIR JSON)</a>'
    )
