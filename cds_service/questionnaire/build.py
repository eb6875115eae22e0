"""One FHIR R4 Questionnaire (SDC style) per policy version × indication × phase, generated
from the policy's criteria tree: a question for every input a person can attest.

Nothing here is written per payer: the questions come from mappings/questionnaire.yaml
(one per idds code), the help text is the policy's own sentence, `required` and
`enableWhen` come from the tree's shape (a requirement of an ALL is required; the
alternatives of an ANY are asked while none of the earlier ones is answered yes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire

from ..policy_model import (
    INDICATION_LABEL,
    AnyOf,
    Deferred,
    Indication,
    Leaf,
    Node,
    Not,
    Phase,
    PhaseRule,
    Policy,
    Ref,
)
from ..policy_store import PolicyStore
from .spec import IDDS, UCUM, Input, Spec, default_spec

CANONICAL_BASE = "http://idds-cds.org/fhir/Questionnaire/"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
SDC_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
EXT = "http://hl7.org/fhir/StructureDefinition/"
# The criteria each question documents (leaf ids), for the checklist and the prefill.
CRITERIA_EXT = "http://idds-cds.org/fhir/StructureDefinition/criteria"


@dataclass(frozen=True)
class Use:
    leaf: Leaf
    mandatory: bool
    group: str | None  # the ANY the leaf is an alternative of


@dataclass
class Entry:
    """A generated Questionnaire and what the service needs to read its answers back."""

    resource: dict[str, Any]
    policy: str
    version: str
    indication: str
    phase: str
    criteria_by_code: dict[str, list[str]] = field(default_factory=dict)  # idds code → leaf ids

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def url(self) -> str:
        return str(self.resource["url"])


def new_response(
    entry: Entry, patient_id: str, status: str, items: list[dict[str, Any]], when: datetime
) -> dict[str, Any]:
    """A QuestionnaireResponse to `entry` for the patient: the one shape the prefill and the form share."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(uuid.uuid4()),
        "questionnaire": f"{entry.url}|{entry.version}",
        "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "item": items,
    }


def questionnaire_id(policy: Policy, indication: str, phase: str) -> str:
    return f"{policy.policy}-{policy.version}-{indication}-{phase}"


def _uses(
    policy: Policy, node: Node | None, mandatory: bool, group: str | None, seen: tuple[str, ...]
) -> Iterator[Use]:
    if node is None:
        return
    if isinstance(node, Leaf):
        # a requirement that may not apply ("prior to an intrathecal opioid trial") is not required
        yield Use(node, mandatory and node.applies_if is None, group)
        if node.applies_if is not None:
            yield Use(node.applies_if, False, group)
    elif isinstance(node, Ref):
        if node.ref not in seen:
            yield from _uses(policy, policy.resolve(node), mandatory, group, (*seen, node.ref))
    else:
        # an alternative of an ANY, or anything under a NOT, is not required by itself
        if isinstance(node, AnyOf):
            group = group or f"any-{len(seen)}-{id(node)}"
        required = mandatory and not isinstance(node, (AnyOf, Not))
        for child in node.children():
            yield from _uses(policy, child, required, group, seen)


def leaf_uses(policy: Policy, indication: str, phase: str) -> list[Use]:
    """Every leaf (with its place in the tree) an assessment of (indication, phase) evaluates."""
    rule, _ = policy.rule_for(indication, phase)
    if isinstance(rule, PhaseRule) and rule.deferred is not None:
        rule = rule.deferred
    if isinstance(rule, Deferred):  # documentation items; an `any` of alternatives is not each required
        return [use for item in rule.documentation for use in _uses(policy, item, True, None, ())]
    return list(_uses(policy, policy.criteria_for(phase, indication), True, None, ()))


def _coding(spec: Spec, code: str) -> dict[str, str]:
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
        item["answerOption"] = [{"valueCoding": _coding(spec, a)} for a in inp.answers]
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


def _item(spec: Spec, code: str, uses: list[Use]) -> dict[str, Any]:
    inp = spec.inputs[code]
    sentences = list(dict.fromkeys(u.leaf.source for u in uses))
    criteria = list(dict.fromkeys(u.leaf.text for u in uses))
    item: dict[str, Any] = {
        "linkId": code,
        "code": [_coding(spec, code)],
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
            sub["code"] = [_coding(spec, child.code)]
        _typed(spec, sub, child)
        children.append(sub)
    item["item"] = children
    return item


def _enable_when(items: list[dict[str, Any]], uses: list[Use], spec: Spec) -> None:
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


def build_questionnaire(policy: Policy, indication: str, phase: str, spec: Spec) -> Entry | None:
    uses = leaf_uses(policy, indication, phase)
    by_code: dict[str, list[Use]] = {}
    for u in uses:
        for code in spec.codes_for(u.leaf.fact, u.leaf.params):
            by_code.setdefault(code, []).append(u)
    if not by_code:
        return None
    qid = questionnaire_id(policy, indication, phase)
    items = [_item(spec, code, code_uses) for code, code_uses in by_code.items()]
    _enable_when(items, uses, spec)
    label = INDICATION_LABEL.get(indication, indication)
    resource = {
        "resourceType": "Questionnaire",
        "id": qid,
        "meta": {"profile": [SDC_PROFILE]},
        "url": f"{CANONICAL_BASE}{qid}",
        "version": policy.version,
        "name": "".join(part.capitalize() for part in qid.replace(".", "-").split("-") if part),
        "title": f"{policy.payer} {policy.title}: documentation for {label}, {phase}",
        "status": "active",
        "subjectType": ["Patient"],
        "date": policy.effective.isoformat(),
        "publisher": "idds-cds",
        "description": (
            f"What {policy.payer} ({policy.title}, version {policy.version}) asks to be documented for "
            f"an intrathecal drug delivery {phase} for {label} that a clinician can attest. "
            "Generated from the policy file; each question's help is the policy's own sentence."
        ),
        "code": [_coding(spec, "intrathecal-trial")]
        if phase == Phase.TRIAL
        else [_coding(spec, "implanted-intrathecal-pump")],
        "item": items,
    }
    Questionnaire.model_validate(resource)  # a generated form that is not valid FHIR stops start-up
    return Entry(
        resource,
        policy.policy,
        policy.version,
        indication,
        phase,
        {code: list(dict.fromkeys(u.leaf.id for u in us)) for code, us in by_code.items()},
    )


class Questionnaires:
    """Every generated Questionnaire, by id and by canonical URL."""

    def __init__(self, store: PolicyStore, spec: Spec | None = None):
        self.spec = spec or default_spec()
        self.by_id: dict[str, Entry] = {}
        for policy in store.all():
            for indication in Indication:
                for phase in Phase:
                    entry = build_questionnaire(policy, indication, phase, self.spec)
                    if entry is not None:
                        self.by_id[entry.id] = entry
        self.by_url = {e.url: e for e in self.by_id.values()}

    def find(self, canonical: str) -> Entry | None:
        """A canonical `url` or `url|version`; a version that is not the URL's own finds nothing."""
        url, _, version = canonical.partition("|")
        entry = self.by_url.get(url)
        if entry is None or (version and version != entry.version):
            return None
        return entry

    def for_assessment(
        self, policy: str, version: str, indication: str | None, phase: str | None
    ) -> Entry | None:
        for e in self.by_id.values():
            if (e.policy, e.version, e.indication, e.phase) == (policy, version, indication, phase):
                return e
        return None


@lru_cache(maxsize=8)
def questionnaires(store: PolicyStore) -> Questionnaires:
    return Questionnaires(store)
