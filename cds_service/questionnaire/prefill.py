"""The server-side equivalent of DTR prepopulation: for one assessment, an in-progress
QuestionnaireResponse that pre-answers what the chart already shows (each answer
naming its evidence) and leaves open exactly the questions whose criteria the
assessment reports undocumented."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from ..assessment import Assessment
from ..codes import Terminology
from ..facts import FactContext, compute
from ..facts.base import OrderFacts
from ..policy_model import Leaf, Status
from ..record import PatientRecord, resource_ref
from .build import Entry, new_response
from .spec import IDDS, UCUM, Input, Spec
from .uses import leaf_uses

EVIDENCE_EXT = "http://idds-cds.org/fhir/StructureDefinition/evidence"
MAS_CODES = {0.0: "mas-0", 1.0: "mas-1", 1.5: "mas-1+", 2.0: "mas-2", 3.0: "mas-3", 4.0: "mas-4"}


def _answer_from_observation(
    obs: dict[str, Any], inp: Input, terminology: Terminology
) -> dict[str, Any] | None:
    """The answer an Observation of the item's code gives (the reverse of answers._value)."""
    if inp.type == "boolean" and isinstance(obs.get("valueBoolean"), bool):
        return {"valueBoolean": obs["valueBoolean"]}
    if inp.type == "choice":
        code = terminology.idds_code(obs.get("valueCodeableConcept"))
        if code is not None and code in inp.answers:
            return {"valueCoding": {"system": IDDS, "code": code}}
        s = obs.get("valueString")
        if isinstance(s, str) and f"mas-{s.strip()}" in inp.answers:
            return {"valueCoding": {"system": IDDS, "code": f"mas-{s.strip()}"}}
        q = obs.get("valueQuantity")
        value = q.get("value") if isinstance(q, dict) else None
        mas = (
            MAS_CODES.get(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        )
        if mas is not None and mas in inp.answers:
            return {"valueCoding": {"system": IDDS, "code": mas}}
        return None
    if inp.type == "integer" and isinstance(obs.get("valueInteger"), int):
        return {"valueInteger": obs["valueInteger"]}
    q = obs.get("valueQuantity")
    if not isinstance(q, dict) or not isinstance(q.get("value"), (int, float)):
        return None
    unit = q.get("code") or q.get("unit")
    if inp.type == "decimal" and unit == inp.unit:
        return {"valueDecimal": float(q["value"])}
    if inp.type == "quantity" and unit in inp.units:
        return {"valueQuantity": {"value": q["value"], "unit": unit, "system": UCUM, "code": unit}}
    return None


def _answer_from_value(value: Any, inp: Input) -> dict[str, Any] | None:
    """The answer a fact's value gives when no single Observation carries it (e.g. computed relief)."""
    if inp.type == "boolean" and isinstance(value, bool):
        return {"valueBoolean": value}
    if inp.type == "choice" and isinstance(value, str) and value in inp.answers:
        return {"valueCoding": {"system": IDDS, "code": value}}
    if inp.type == "choice" and isinstance(value, float) and MAS_CODES.get(value) in inp.answers:
        return {"valueCoding": {"system": IDDS, "code": MAS_CODES[value]}}
    if inp.type == "integer" and isinstance(value, (int, float)) and float(value).is_integer():
        return {"valueInteger": int(value)}
    if inp.type == "decimal" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"valueDecimal": float(value)}
    if inp.type == "quantity" and isinstance(value, (int, float)) and "mo" in inp.units:
        return {"valueQuantity": {"value": value, "unit": "mo", "system": UCUM, "code": "mo"}}
    return None


def _reference_answer(element: Any) -> dict[str, Any] | None:
    """A reference element (or a list's first entry) as an answer; a contained `#id` only
    means something inside its own resource, so it is not offered."""
    if isinstance(element, list):
        element = element[0] if element else None
    target = element.get("reference") if isinstance(element, dict) else None
    if not isinstance(target, str) or not target or target.startswith("#"):
        return None
    return {"valueReference": {"reference": target}}


def _children(
    obs: dict[str, Any] | None, inp: Input, link: str, terminology: Terminology
) -> list[dict[str, Any]]:
    out = []
    for child in inp.children:
        answer = None
        if obs is not None and child.as_ == "component":
            for comp in obs.get("component") or ():
                if terminology.idds_code(comp.get("code")) == child.code:
                    answer = _answer_from_observation(comp, child, terminology)
        elif obs is not None and child.as_ is not None:
            answer = _reference_answer(obs.get(child.as_))
        item: dict[str, Any] = {"linkId": f"{link}.{child.code}", "text": child.question}
        if answer is not None:
            item["answer"] = [answer]
        out.append(item)
    return out


def prefill(
    assessment: Assessment,
    record: PatientRecord,
    terminology: Terminology,
    entry: Entry,
    spec: Spec,
    now: datetime | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(the in-progress QuestionnaireResponse, the linkIds left open)."""
    results = {c.id: c for c in assessment.outcome.criteria}
    order = assessment.order
    ctx = FactContext(
        record,
        terminology,
        order.date_of_service,
        OrderFacts(order.reference, order.injectate_ingredients, order.injectate_classes),
        assessment.indication,
    )
    leaves: dict[str, Leaf] = {}
    for use in leaf_uses(assessment.policy, entry.indication, entry.phase):
        leaves.setdefault(use.leaf.id, use.leaf)
    by_ref = {resource_ref(o): o for o in record.resources("Observation")}
    items, open_links = [], []
    for question in entry.resource["item"]:
        link = question["linkId"]
        inp = spec.inputs[link]
        leaf_ids = entry.criteria_by_code.get(link, [])
        statuses = [results[i].status for i in leaf_ids if i in results]
        item: dict[str, Any] = {"linkId": link, "text": question["text"]}
        answer, evidence, obs = None, [], None
        if statuses and Status.UNKNOWN not in statuses:
            for leaf_id in leaf_ids:
                leaf = leaves.get(leaf_id)
                if leaf is None:
                    continue
                fact = compute(ctx, leaf.fact, leaf.params)
                if fact.value is None:
                    continue
                obs = next(
                    (
                        by_ref[r]
                        for r in fact.evidence
                        if r in by_ref and terminology.idds_code(by_ref[r].get("code")) == link
                    ),
                    None,
                )
                answer = _answer_from_observation(obs, inp, terminology) if obs is not None else None
                if answer is None:
                    obs = None
                    answer = _answer_from_value(fact.value, inp)
                if answer is not None:
                    evidence = list(fact.evidence)
                    break
        if answer is not None:
            answer["extension"] = [
                {"url": EVIDENCE_EXT, "valueReference": {"reference": r}} for r in evidence
            ]
            if not answer["extension"]:
                del answer["extension"]
            item["answer"] = [answer]
            children = _children(obs, inp, link, terminology)
            if children:
                item["answer"][0]["item"] = children
        else:
            open_links.append(link)
            children = _children(None, inp, link, terminology)
            if children:
                item["item"] = children
        items.append(item)
    qr = new_response(entry, record.patient_id, "in-progress", items, now or datetime.now(UTC))
    if order.reference.split("/")[0] in ("ServiceRequest", "CarePlan"):
        qr["basedOn"] = [{"reference": order.reference}]
    QuestionnaireResponse.model_validate(qr)
    return qr, open_links


def unknown_criteria(assessment: Assessment) -> set[str]:
    return {c.id for c in assessment.outcome.criteria if c.status == Status.UNKNOWN}


__all__ = ["prefill", "unknown_criteria"]
