"""One Questionnaire item per idds code: its FHIR type, units, limits, the policy's sentence as help,
and the `enableWhen` that asks the alternatives of an ANY one at a time."""

from __future__ import annotations

from typing import Any

from .spec import IDDS, UCUM, Input, Spec
from .uses import Use

ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
EXT = "http://hl7.org/fhir/StructureDefinition/"
# The criteria each question documents (leaf ids), for the checklist and the prefill.
CRITERIA_EXT = "http://idds-cds.org/fhir/StructureDefinition/criteria"


def coding(spec: Spec, code: str) -> dict[str, str]:
    return {"system": IDDS, "code": code, "display": spec.display(code)}


def _help(link_id: str, sentences: list[str], criteria: list[str]) -> dict[str, Any]:
    text = " ".join(f"“{s}”" for s in sentences)
    if criteria:
        text = f"{' '.join(criteria)} The policy: {text}"
    return {
        "linkId": f"{link_id}.help",
        "type": "display",
        "text": text,
        "extension": [
            {
                "url": ITEM_CONTROL,
                "valueCodeableConcept": {
                    "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}]
                },
            }
        ],
    }


def _typed(spec: Spec, item: dict[str, Any], inp: Input) -> dict[str, Any]:
    fhir_type = {
        "choice": "choice",
        "boolean": "boolean",
        "integer": "integer",
        "decimal": "decimal",
        "quantity": "quantity",
        "reference": "reference",
    }[inp.type]
    item["type"] = fhir_type
    ext = item.setdefault("extension", [])
    if inp.type == "choice":
        item["answerOption"] = [{"valueCoding": coding(spec, a)} for a in inp.answers]
    if inp.unit:
        ext.append(
            {
                "url": f"{EXT}questionnaire-unit",
                "valueCoding": {"system": UCUM, "code": inp.unit, "display": inp.unit},
            }
        )
    for unit in inp.units:
        ext.append(
            {
                "url": f"{EXT}questionnaire-unitOption",
                "valueCoding": {"system": UCUM, "code": unit, "display": unit},
            }
        )
    kind = "valueInteger" if inp.type == "integer" else "valueDecimal"
    if inp.min is not None and inp.type in ("integer", "decimal"):
        ext.append({"url": f"{EXT}minValue", kind: inp.min if inp.type == "decimal" else int(inp.min)})
    if inp.max is not None and inp.type in ("integer", "decimal"):
        ext.append({"url": f"{EXT}maxValue", kind: inp.max if inp.type == "decimal" else int(inp.max)})
    if inp.resource:
        ext.append({"url": f"{EXT}questionnaire-referenceResource", "valueCode": inp.resource})
    if not ext:
        del item["extension"]
    return item


def question_item(spec: Spec, code: str, uses: list[Use]) -> dict[str, Any]:
    inp = spec.inputs[code]
    sentences = list(dict.fromkeys(u.leaf.source for u in uses))
    criteria = list(dict.fromkeys(u.leaf.text for u in uses))
    item: dict[str, Any] = {
        "linkId": code,
        "code": [coding(spec, code)],
        "text": inp.question,
        "required": any(u.mandatory for u in uses),
        "extension": [
            {"url": CRITERIA_EXT, "valueString": leaf_id}
            for leaf_id in dict.fromkeys(u.leaf.id for u in uses)
        ],
    }
    _typed(spec, item, inp)
    children = [_help(code, sentences, criteria)]
    for child in inp.children:
        sub: dict[str, Any] = {"linkId": f"{code}.{child.code}", "text": child.question, "required": False}
        if child.code in spec.concepts:
            sub["code"] = [coding(spec, child.code)]
        _typed(spec, sub, child)
        children.append(sub)
    item["item"] = children
    return item


def enable_when(items: list[dict[str, Any]], uses: list[Use], spec: Spec) -> None:
    """Alternatives of one ANY: a later one is asked only while no earlier one is answered yes."""
    by_code = {i["linkId"]: i for i in items}
    earlier: dict[str, list[str]] = {}
    for u in uses:
        for code in spec.codes_for(u.leaf.fact, u.leaf.params):
            item = by_code[code]
            if u.group is None or item["required"] or spec.inputs[code].type != "boolean":
                continue
            if not (u.leaf.op == "is" and u.leaf.value is True):
                continue
            before = [c for c in earlier.get(u.group, []) if c != code]
            if before and "enableWhen" not in item:
                item["enableWhen"] = [
                    {"question": c, "operator": "!=", "answerBoolean": True} for c in before
                ]
                if len(before) > 1:
                    item["enableBehavior"] = "all"
            if code not in earlier.setdefault(u.group, []):
                earlier[u.group].append(code)
