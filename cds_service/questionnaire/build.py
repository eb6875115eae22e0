"""One FHIR R4 Questionnaire (SDC style) per policy version × indication × phase, generated
from the policy's criteria tree: a question for every input a person can attest.

Nothing here is written per payer: the questions come from mappings/questionnaire.yaml
(one per idds code), the help text is the policy's own sentence, `required` and
`enableWhen` come from the tree's shape (a requirement of an ALL is required; the
alternatives of an ANY are asked while none of the earlier ones is answered yes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire

from ..policy_model import INDICATION_LABEL, PHASE_LABEL, Indication, Phase, Policy
from ..policy_store import PolicyStore
from .items import coding, enable_when, question_item
from .spec import Spec, default_spec
from .uses import Use, leaf_uses

CANONICAL_BASE = "http://idds-cds.org/fhir/Questionnaire/"
SDC_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"


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


def build_questionnaire(policy: Policy, indication: str, phase: str, spec: Spec) -> Entry | None:
    uses = leaf_uses(policy, indication, phase)
    by_code: dict[str, list[Use]] = {}
    for u in uses:
        for code in spec.codes_for(u.leaf.fact, u.leaf.params):
            by_code.setdefault(code, []).append(u)
    if not by_code:
        return None
    qid = questionnaire_id(policy, indication, phase)
    items = [question_item(spec, code, code_uses) for code, code_uses in by_code.items()]
    enable_when(items, uses, spec)
    # A clinician reads the title and description (the EHR's form list): the labels, not the slugs.
    label = INDICATION_LABEL.get(indication, indication)
    phase_label = PHASE_LABEL.get(phase, phase)
    resource = {
        "resourceType": "Questionnaire",
        "id": qid,
        "meta": {"profile": [SDC_PROFILE]},
        "url": f"{CANONICAL_BASE}{qid}",
        "version": policy.version,
        "name": "".join(part.capitalize() for part in qid.replace(".", "-").split("-") if part),
        "title": f"{policy.payer} {policy.title}: documentation for {label}, {phase_label}",
        "status": "active",
        "subjectType": ["Patient"],
        "date": policy.effective.isoformat(),
        "publisher": "idds-cds",
        "description": (
            f"What {policy.payer} ({policy.title}, version {policy.version}) asks to be documented for "
            f"an intrathecal drug delivery {phase_label} for {label} that a clinician can attest. "
            "Generated from the policy file; each question's help is the policy's own sentence."
        ),
        "code": [coding(spec, "intrathecal-trial")]
        if phase == Phase.TRIAL
        else [coding(spec, "implanted-intrathecal-pump")],
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
