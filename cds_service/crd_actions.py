"""CRD coverage-information system actions: the assessed order updated with what its
payer's policy asks (Da Vinci CRD ext-coverage-information)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from .assessment import Assessment, Comparison
from .hook_models import Action
from .payers import Routing
from .policy_model import Determination
from .questionnaire.crd import canonical_for
from .questionnaire.spec import IDDS

CRD_COVERAGE_EXT = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


# determination → (covered, pa-needed, doc-needed), CRD coverage-information codes.
# not-covered carries no pa-needed (CRD invariant crd-ci-q2); not-applicable makes
# no assertion at all, so it gets no system action.
CRD_CODES: dict[str, tuple[str, str | None, str | None]] = {
    Determination.CRITERIA_MET: ("covered", "auth-needed", None),
    Determination.DOCUMENTATION_INCOMPLETE: ("covered", "auth-needed", "clinical"),
    Determination.NOT_EVALUABLE: ("covered", "auth-needed", "clinical"),
    Determination.CRITERIA_NOT_MET: ("not-covered", None, None),
}


def coverage_extension(a: Assessment, coverage_ref: str, today: date) -> dict[str, Any]:
    covered, pa_needed, doc_needed = CRD_CODES[a.determination]
    ext: list[dict[str, Any]] = [
        {"url": "coverage", "valueReference": {"reference": coverage_ref}},
        {"url": "covered", "valueCode": covered},
    ]
    if pa_needed:
        ext.append({"url": "pa-needed", "valueCode": pa_needed})
    if doc_needed:
        ext.append({"url": "doc-needed", "valueCode": doc_needed})
        if canonical_for(a):  # CRD: the documentation template (DTR) to complete
            ext.append({"url": "questionnaire", "valueCanonical": canonical_for(a)})
    ext += [
        {"url": "date", "valueDate": today.isoformat()},
        {"url": "coverage-assertion-id", "valueString": a.id},
    ]
    if a.determination != Determination.CRITERIA_MET:
        ext.append(
            {
                "url": "reason",
                "valueCodeableConcept": {
                    "coding": [{"system": IDDS, "code": a.determination}],
                    "text": f"{a.policy.payer} {a.policy.title} ({a.policy.version}): {a.outcome.reason}",
                },
            }
        )
    return {"url": CRD_COVERAGE_EXT, "extension": ext}


def system_actions(
    assessments: list[Assessment | Comparison], hook: str, routing: Routing | None, today: date
) -> list[Action]:
    """order-sign: update each assessed order with coverage information; order-select only
    where no documentation is asked for (CRD hook-19). Only for the patient's own payer:
    CRD's coverage-information is an assertion about one Coverage (`coverage` 1..1), so a
    comparison (no Coverage, or a payer no policy is encoded for) asserts nothing."""
    by_order: dict[str, list[Assessment]] = {}
    coverage_of: dict[str, str] = {}
    for a in assessments:
        if isinstance(a, Comparison):
            continue
        own = a.routing or routing
        if own is None or own.comparison or own.coverage_ref is None:
            continue
        if a.determination in CRD_CODES:
            by_order.setdefault(a.order.reference, []).append(a)
            coverage_of[a.order.reference] = own.coverage_ref
    actions = []
    for ref, items in by_order.items():
        asks_for_docs = any(CRD_CODES[a.determination][2] for a in items)
        if hook == "order-select" and asks_for_docs:
            continue
        resource = copy.deepcopy(items[0].order.resource)
        kept = [e for e in resource.get("extension") or () if e.get("url") != CRD_COVERAGE_EXT]
        resource["extension"] = kept + [coverage_extension(a, coverage_of[ref], today) for a in items]
        actions.append(
            Action(type="update", description=f"Coverage information for {ref}", resource=resource)
        )
    return actions
