"""QuestionnaireResponse answers as documentation (clinical-data contract, "Observations").

A response to one of the service's own Questionnaires, `completed` or `amended`, about
the patient, is read as the Observations its answers stand for: each answered question
(its linkId names the idds code) becomes an Observation with that code and value, dated
by `authored` and cited as `QuestionnaireResponse/{id}#{linkId}`. The facts then read
them exactly as any other Observation: nothing downstream knows where they came from.

Anything that cannot be read that way is reported on the card, never dropped silently:
a draft (in-progress) or stopped response, one entered in error, one answering a
Questionnaire (or version) the service does not publish, a linkId the Questionnaire
does not have, an answer of the wrong type or out of range, a response without a date
or a patient. A response to someone else's Questionnaire (a PHQ-9, say) is not ours to
read, like an unrelated Observation.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, TypeGuard

from ..fhirtime import parse as parse_datetime
from ..record import PatientRecord, resource_ref
from .build import CANONICAL_BASE, Entry, Questionnaires
from .spec import IDDS, UCUM, Input

log = logging.getLogger("idds")
# Observation elements that are lists (0..*): an answer becomes their one entry.
LIST_ELEMENTS = frozenset({"performer"})
READABLE = {"completed": "final", "amended": "amended"}
NOT_YET = {
    "in-progress": "is still in progress: its answers count once it is completed",
    "stopped": "was stopped before it was completed: its answers were not read",
    "entered-in-error": "was entered in error and was ignored",
}


class AnswerObservation(dict[str, Any]):
    """An Observation that stands for one answer; cited as the response item it came from."""

    cited_as: str = ""


class _Bad(Exception):
    pass


def read_answers(record: PatientRecord, qs: Questionnaires) -> None:
    """Add the Observations the chart's QuestionnaireResponses stand for (once per record)."""
    if getattr(record, "_answers_read", False):
        return
    record._answers_read = True  # type: ignore[attr-defined]
    added: list[dict[str, Any]] = []
    for qr in record.resources("QuestionnaireResponse"):
        try:
            added.extend(_read(record, qs, qr))
        except Exception:  # never a failed hook over one response: say it was not read
            log.exception("questionnaire response not read")
            record.issues.append(f"{resource_ref(qr)} could not be read and was ignored.")
    if added:
        record.by_type.setdefault("Observation", []).extend(added)


def _read(record: PatientRecord, qs: Questionnaires, qr: dict[str, Any]) -> list[dict[str, Any]]:
    ref = resource_ref(qr)
    canonical = qr.get("questionnaire")
    if not isinstance(canonical, str) or not canonical.startswith(CANONICAL_BASE):
        return []  # another form (not one of this service's questionnaires)
    status = qr.get("status")
    if not isinstance(status, str):
        record.usable(qr)  # reports the malformed response
        return []
    if status not in READABLE:
        why = NOT_YET.get(status)
        record.issues.append(
            f"{ref} {why or f'has status {status!r}, not completed or amended: its answers were not read'}."
        )
        return []
    if not record.usable(qr):
        return []  # reported by usable(): nothing below runs on a malformed response
    entry = qs.find(canonical)
    if entry is None:
        record.issues.append(
            f"{ref} answers {canonical}, which is not a questionnaire (or version) this service publishes: its answers were not read."
        )
        return []
    subject = qr.get("subject")
    if not (
        isinstance(subject, dict)
        and isinstance(subject.get("reference"), str)
        and subject["reference"].rpartition("/")[2] == record.patient_id
    ):
        record.issues.append(f"{ref} does not name the patient as its subject: its answers were not read.")
        return []
    authored = qr.get("authored")
    if not isinstance(authored, str) or parse_datetime(authored) is None:
        record.issues.append(
            f"{ref} has no `authored` date, so its answers cannot be dated: they were not read."
        )
        return []
    questions = {item["linkId"]: item for item in entry.resource["item"]}
    out = []
    for item in qr.get("item") or ():
        link = item.get("linkId")
        inp = qs.spec.inputs.get(link) if link in questions else None
        if inp is None:
            record.issues.append(f"{ref}: item {link!r} is not a question of {entry.id}; it was not read.")
            continue
        try:
            obs = _observation(qr, item, inp, READABLE[status], authored, entry)
            for coding in (obs or {}).get("valueCodeableConcept", {}).get("coding", ()):
                coding.setdefault("display", qs.spec.display(coding["code"]))  # read back in words
        except _Bad as exc:
            record.issues.append(
                f"{ref}: the answer to “{inp.question}” (item {link}) {exc}; it was not read."
            )
            continue
        if obs is not None:
            out.append(obs)
    return out


def _single(item: dict[str, Any], what: str) -> dict[str, Any] | None:
    answers = item.get("answer") or []
    if not answers:
        return None
    if len(answers) > 1:
        raise _Bad(f"has {len(answers)} answers where one {what} is expected")
    first = answers[0]
    if not isinstance(first, dict):
        raise _Bad("is not a FHIR answer")
    return first


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(answer: dict[str, Any], inp: Input) -> dict[str, Any]:
    """The Observation value[x] an answer stands for, or _Bad saying why it cannot."""
    given = next((k for k in answer if k.startswith("value")), None)
    t = inp.type
    if t == "boolean":
        if isinstance(answer.get("valueBoolean"), bool):
            return {"valueBoolean": answer["valueBoolean"]}
        raise _Bad(f"is {given or 'empty'} where yes/no (valueBoolean) is expected")
    if t == "choice":
        coding = answer.get("valueCoding")
        if isinstance(coding, dict) and coding.get("system") == IDDS and coding.get("code") in inp.answers:
            return {
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": IDDS,
                            "code": coding["code"],
                            **({"display": coding["display"]} if coding.get("display") else {}),
                        }
                    ]
                }
            }
        if isinstance(coding, dict):
            raise _Bad(
                f"is the code {coding.get('system')}#{coding.get('code')}, not one of the listed answers"
            )
        raise _Bad(f"is {given or 'empty'} where one of the listed answers (valueCoding) is expected")
    if t == "integer":
        v = answer.get("valueInteger")
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Bad(f"is {given or 'empty'} where a whole number (valueInteger) is expected")
        _in_range(v, inp)
        return {"valueInteger": v}
    if t == "decimal":
        v = answer.get("valueDecimal", answer.get("valueInteger"))
        q = answer.get("valueQuantity")
        if v is None and isinstance(q, dict) and (q.get("code") or q.get("unit")) == inp.unit:
            v = q.get("value")
        if not _number(v):
            raise _Bad(f"is {given or 'empty'} where a number in {inp.unit} (valueDecimal) is expected")
        _in_range(v, inp)
        return {"valueQuantity": {"value": v, "unit": inp.unit, "system": UCUM, "code": inp.unit}}
    if t == "quantity":
        q = answer.get("valueQuantity")
        unit = (q.get("code") or q.get("unit")) if isinstance(q, dict) else None
        if not isinstance(q, dict) or not _number(q.get("value")) or unit not in inp.units:
            raise _Bad(
                f"is {given or 'empty'} where a quantity in {', '.join(inp.units)} (valueQuantity) is expected"
            )
        return {"valueQuantity": {"value": q["value"], "unit": unit, "system": UCUM, "code": unit}}
    if t == "reference":
        r = answer.get("valueReference")
        target = r.get("reference") if isinstance(r, dict) else None
        if not isinstance(target, str) or (inp.resource and target.split("/")[-2:-1] != [inp.resource]):
            raise _Bad(
                f"is {given or 'empty'} where a reference to a {inp.resource or 'resource'} is expected"
            )
        return {"valueReference": {"reference": target}}
    raise _Bad(f"has a type ({t}) the service cannot read")


def _in_range(v: float, inp: Input) -> None:
    if (inp.min is not None and v < inp.min) or (inp.max is not None and v > inp.max):
        raise _Bad(
            f"is {v:g}, outside {inp.min:g}–{inp.max:g}"
            if inp.max is not None
            else f"is {v:g}, below {inp.min:g}"
        )


def _children(item: dict[str, Any], answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Nested answers: under the answer (R4's place for them) or under the item."""
    return [*(answer.get("item") or ()), *(item.get("item") or ())]


def _observation(
    qr: dict[str, Any], item: dict[str, Any], inp: Input, status: str, authored: str, entry: Entry
) -> dict[str, Any] | None:
    answer = _single(item, "answer")
    if answer is None:
        return None  # left open: nothing attested
    link = item["linkId"]
    obs = AnswerObservation(
        {
            "resourceType": "Observation",
            "id": "qr-" + hashlib.sha1(f"{qr.get('id')}|{link}".encode()).hexdigest()[:20],
            "status": status,
            "subject": qr["subject"],
            "code": {"coding": [{"system": IDDS, "code": inp.code}], "text": inp.question},
            "effectiveDateTime": authored,
            "derivedFrom": [{"reference": resource_ref(qr)}],
            **_value(answer, inp),
        }
    )
    obs.cited_as = f"{resource_ref(qr)}#{link}"
    for sub in _children(item, answer):
        key = sub.get("linkId", "") if isinstance(sub, dict) else ""
        child = inp.child(key.removeprefix(f"{link}.")) if key.startswith(f"{link}.") else None
        if child is None:
            if key != f"{link}.help":
                raise _Bad(f"holds an item {key!r} the question does not have")
            continue
        sub_answer = _single(sub, child.question)
        if sub_answer is None:
            continue
        value = _value(sub_answer, child)
        if child.as_ == "component":
            obs.setdefault("component", []).append(
                {"code": {"coding": [{"system": IDDS, "code": child.code}]}, **value}
            )
        elif child.as_ is not None:  # every child names its element (spec.load_spec checks)
            element = value.get("valueReference", value)
            obs[child.as_] = [element] if child.as_ in LIST_ELEMENTS else element
    return obs
