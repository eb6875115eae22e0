"""Assessments → CDS Hooks cards and CRD coverage-information system actions.

Shapes follow shared/contract/assessment.md and CDS Hooks 2.0; the coverage
extension follows Da Vinci CRD (ext-coverage-information).
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from . import next_steps, payers
from .assessment import Assessment, Comparison
from .engine import MET, NOT_MET, UNKNOWN, CriterionResult, count_requirements
from .facts.catalogue import FLAG_LABEL, INDICATION_LABEL, OTHER_INDICATION, PUMP_STATUS_LABEL, SCALE_LABEL
from .hook_models import Action, Card, Coding, Link, Source, Suggestion
from .payers import Routing
from .questionnaire.crd import canonical_for
from .record import PatientRecord

CARD_TYPE = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
CRD_COVERAGE_EXT = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
IDDS_SYSTEM = "http://idds-cds.org/fhir/CodeSystem/idds"
PHASE_LABEL = {"trial": "trial", "permanent": "permanent implant", "replacement": "pump replacement"}
INFO_DETERMINATIONS = ("criteria-met", "not-applicable")
SERVICE_LABEL = "idds-cds"  # source.label when no payer speaks: a comparison, a failure
DETERMINATION_LABEL = {
    "criteria-met": "criteria met",
    "criteria-not-met": "criteria not met",
    "documentation-incomplete": "documentation incomplete",
    "not-applicable": "policy does not apply",
    "not-evaluable": "criteria not public",
}


# How a card names a FHIR resource instead of its raw reference ("Observation/obs-7").
RESOURCE_WORDS = {
    "Patient": "the patient record",
    "Condition": "a condition",
    "Observation": "an observation",
    "Procedure": "a procedure",
    "MedicationRequest": "a medication order",
    "MedicationStatement": "a medication statement",
    "MedicationAdministration": "a medication administration",
    "MedicationDispense": "a medication dispense",
    "Device": "a device record",
    "DeviceRequest": "a device order",
    "ServiceRequest": "an order",
    "Coverage": "a coverage record",
    "AllergyIntolerance": "an allergy record",
    "DiagnosticReport": "a report",
    "QuestionnaireResponse": "a questionnaire response",
    "Encounter": "an encounter",
    "DocumentReference": "a document",
    "Practitioner": "a practitioner",
    "PractitionerRole": "a practitioner role",
    "Organization": "an organization",
    "Claim": "a claim",
    "Bundle": "a bundle",
}
_REF = re.compile(r"\b([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?<!\.)")


def _slug_words() -> dict[str, str]:
    words: dict[str, str] = {}
    for table in (
        FLAG_LABEL,
        PUMP_STATUS_LABEL,
        SCALE_LABEL,
        INDICATION_LABEL,
        next_steps.load().therapy_labels,
    ):
        words.update({slug: label for slug, label in table.items() if "-" in slug})
    return words


_SLUGS = _slug_words()
_SLUG = re.compile(
    r"(?<![\w-])(" + "|".join(sorted(map(re.escape, _SLUGS), key=len, reverse=True)) + r")(?![\w-])"
)


def plain(text: str) -> str:
    """A note in a clinician's words: raw references named by what they are, coded values by their
    labels, no doubled full stops. Fact notes should already read so; this is the card's last guard."""

    def ref(m: re.Match) -> str:
        word = RESOURCE_WORDS.get(m.group(1))
        if word is None:
            return m.group(0) if not re.search(r"[a-z][A-Z]", m.group(1)) else "a record"
        return word

    text = _REF.sub(ref, text)
    text = _SLUG.sub(lambda m: _SLUGS[m.group(1)], text)
    return re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary(a: Assessment) -> str:
    """Under 140 characters: payer, phase and the count of unmet / undocumented criteria."""
    phase = PHASE_LABEL.get(a.order.phase or "", "order")
    payer = a.policy.payer
    unmet = count_requirements(a.outcome.criteria, NOT_MET)
    missing = count_requirements(a.outcome.criteria, UNKNOWN)
    text = {
        "criteria-met": f"{payer}: IDDS {phase} criteria met",
        "criteria-not-met": f"{payer}: IDDS {phase} – {plural(unmet, 'criterion', 'criteria')} not met"
        + (f", {missing} not documented" if missing else ""),
        "documentation-incomplete": f"{payer}: IDDS {phase} – {plural(missing, 'criterion', 'criteria')} not documented",
        "not-applicable": f"{payer}: policy does not apply to this IDDS {phase}",
        "not-evaluable": f"{payer}: IDDS {phase} criteria not public – "
        f"{plural(missing, 'documentation item', 'documentation items')} missing",
    }[a.determination]
    if len(text) > 139:
        text = text[:136] + "…"
    return text


def _quote(source: str) -> str:
    return "> " + source.replace("\n", " ")


def _sentence(text: str) -> str:
    """One sentence: capitalised, ending in a full stop (never two)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def order_line(order: Any, indication: str | None = None, with_indication: bool = False) -> str:
    """The order in a clinician's words: what, its code, for what, on which date."""
    what = PHASE_LABEL.get(order.phase or "", "intrathecal pump order")
    code = f" ({'HCPCS' if order.code[:1].isalpha() else 'CPT'} {order.code})" if order.code else ""
    line = f"Order: IDDS {what}{code}"
    if with_indication:
        if indication == OTHER_INDICATION:
            line += ", for a condition outside the covered indications"
        elif indication:
            line += f", for {INDICATION_LABEL.get(indication, indication)}"
        else:
            line += "; indication not determined"
    return line + f"; date of service {order.date_of_service.isoformat()}."


def date_assumption(order: Any) -> str | None:
    """When the order carries no occurrence date, which date was assumed and what depends on it."""
    dos = order.date_of_service.isoformat()
    if order.date_basis == "today":
        return (
            f"**Date of service assumed:** the order carries no date, so today ({dos}) is assumed. "
            "The policy version in force and the patient's age are read on that date; "
            "set the order's planned date to check that day."
        )
    if order.date_basis == "authoredOn":
        return (
            f"**Date of service assumed:** the order carries no occurrence date, so the day it was written "
            f"({dos}) is assumed. The policy version in force and the patient's age are read on that date; "
            "set the order's planned date to check that day."
        )
    return None


def _item(a: Assessment, c: CriterionResult) -> str:
    leaves, contraindications = next_steps.leaf_index(a.policy)
    mark = "◇ " if c.any_of else ""
    parts = [f"- {mark}{_sentence(plain(c.text))}"]
    if c.note:
        parts.append(f"In the record: {_sentence(plain(c.note))}")
    if c.any_of:
        parts.append("*(any one of the alternatives marked ◇ is enough)*")
    leaf = leaves.get(c.id)
    step = next_steps.load().step(leaf) if leaf is not None else None
    text = step.for_status(c.status) if step is not None else None
    if text:
        parts.append(f"**Next step:** {_sentence(text)}")
    intro = "  The policy lists this as a contraindication:\n\n  " if c.id in contraindications else "  "
    return " ".join(parts) + f"\n\n{intro}{_quote(c.source)}"


def detail(a: Assessment, record: PatientRecord) -> str:
    lines: list[str] = []
    unmet = count_requirements(a.outcome.criteria, NOT_MET)
    missing = count_requirements(a.outcome.criteria, UNKNOWN)
    label = {
        "criteria-met": "Every criterion is documented as met.",
        "criteria-not-met": f"The record contradicts {plural(unmet, 'criterion', 'criteria')}.",
        "documentation-incomplete": "Nothing in the record contradicts the policy, but "
        f"{plural(missing, 'criterion is', 'criteria are')} not documented yet.",
        "not-applicable": f"The policy does not apply to this order: {plain(a.outcome.reason)}.",
        "not-evaluable": f"The medical-necessity criteria are in {a.outcome.deferred_to}, which is not public; "
        "the policy still asks for the documentation below.",
    }[a.determination]
    lines.append(f"**{a.policy.title}** (version {a.policy.version}) – {label}")
    lines.append(order_line(a.order, a.indication, with_indication=True))
    assumed = date_assumption(a.order)
    if assumed:
        lines.append(assumed)
    if a.determination == "not-applicable":
        for c in a.outcome.criteria:
            if c.blocking:
                lines.append(f"\n{_quote(c.source)}")
    else:
        for status, heading in (
            (NOT_MET, "Not met"),
            (UNKNOWN, "Not documented" if a.determination != "not-evaluable" else "Documentation missing"),
        ):
            items = a.blocking(status)
            if items:
                lines.append(f"\n**{heading}**")
                lines.extend(_item(a, c) for c in items)
    met = [c for c in a.outcome.criteria if c.status == MET]
    if met:
        lines.append(
            f"\n**Met:** {plural(len(met), 'criterion', 'criteria')} documented as met (listed in the checklist)."
        )
    notes = list(a.notes) + [why for why in record.unavailable.values()] + record.issues
    if notes:
        lines.append("\n**Data notes**")
        lines.extend(f"- {plain(n)}" for n in dict.fromkeys(notes))
    return "\n".join(lines)


def suggestions(a: Assessment, record: PatientRecord, card_id: str) -> list[Suggestion]:
    """A draft order where one closes a gap (e.g. a psychological evaluation not on file)."""
    leaves, _ = next_steps.leaf_index(a.policy)
    steps = next_steps.load()
    out: dict[str, Suggestion] = {}
    for c in a.outcome.criteria:
        if not c.blocking or c.status not in (NOT_MET, UNKNOWN):
            continue
        leaf = leaves.get(c.id)
        step = steps.step(leaf) if leaf is not None else None
        order = step.order if step is not None else None
        # Done but its outcome not recorded: the next step is the result, not another order.
        if (
            order is None
            or order.label in out
            or (c.status == UNKNOWN and any(e.startswith("Procedure/") for e in c.evidence))
        ):
            continue
        resource = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "code": {
                "coding": [
                    {"system": steps.system_uri(sys), "code": code, **({"display": d} if d else {})}
                    for sys, code, d in order.codes
                ],
                "text": order.service,
            },
            "subject": {"reference": f"Patient/{record.patient_id}"},
            "note": [
                {
                    "text": f"Asked by {a.policy.payer} {a.policy.title} (version {a.policy.version}): "
                    f"{_sentence(c.text)}"
                }
            ],
        }
        if a.order.resource.get("requester"):
            resource["requester"] = copy.deepcopy(a.order.resource["requester"])
        out[order.label] = Suggestion(
            label=order.label,
            uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{card_id}/{order.label}")),
            isRecommended=False,
            actions=[Action(type="create", description=order.label, resource=resource)],
        )
    return list(out.values())


def override_reasons() -> list[Coding]:
    return [Coding(**c) for c in next_steps.load().override_reasons]


def card(a: Assessment | Comparison, record: PatientRecord, base_url: str, smart_url: str) -> Card:
    """The card for one (order, policy) assessment, or the one folded card of a comparison."""
    if isinstance(a, Comparison):
        return comparison_card(a, record, base_url, smart_url)
    policy_url = f"{base_url}/policies/{quote(a.policy.policy)}/{quote(a.policy.version)}"
    first_gap = next((c for c in a.outcome.criteria if c.blocking), None)
    anchor = f"#{quote(first_gap.id)}" if first_gap else ""
    topic_code = "coverage-info" if a.determination in ("criteria-met", "not-applicable") else "documentation"
    offered = suggestions(a, record, a.id)
    own_payer = a.routing is not None and not a.routing.comparison and a.routing.coverage_ref is not None
    return Card(
        uuid=a.id,
        summary=summary(a),
        detail=detail(a, record),
        indicator="info" if a.determination in INFO_DETERMINATIONS else "warning",
        source=Source(
            label=a.policy.payer,
            url=a.policy.url,
            topic={
                "system": CARD_TYPE,
                "code": topic_code,
                "display": "Coverage information"
                if topic_code == "coverage-info"
                else "Documentation requirements",
            },
        ),
        suggestions=offered or None,
        selectionBehavior="any" if offered else None,
        overrideReasons=override_reasons(),
        links=[
            Link(
                label="Open the coverage checklist",
                url=with_assessment(smart_url, a.id),
                type="smart",
                appContext=f"assessment={a.id}",
            ),
            Link(label=f"Policy text: {a.policy.title}", url=policy_url + anchor, type="absolute"),
            *documentation_link(a, smart_url),
        ]
        + (
            [
                Link(
                    label="Prior-authorization packet (FHIR Bundle)",
                    url=f"{base_url}/assessments/{quote(a.id)}/packet",
                    type="absolute",
                )
            ]
            if own_payer
            else []
        ),
        extension={"idds-cds.assessment": a.as_contract()},
    )


def with_assessment(smart_url: str, assessment_id: str) -> str:
    """The smart link carries the assessment's capability id in its URL as well as in appContext:
    an EHR with no SMART launch context (the CDS Hooks sandbox on an open server) drops
    appContext, and the checklist then opens this assessment read-only (smart/routes.py)."""
    return f"{smart_url}{'&' if '?' in smart_url else '?'}assessment={quote(assessment_id)}"


def documentation_link(a: Assessment, smart_url: str) -> list[Link]:
    """DTR: when the record leaves requirements undocumented, open the questionnaire for them."""
    canonical = canonical_for(a) if a.determination == "documentation-incomplete" else None
    if canonical is None:
        return []
    return [
        Link(
            label="Complete the documentation",
            url=with_assessment(smart_url, a.id),
            type="smart",
            appContext=urlencode(
                {"assessment": a.id, "questionnaire": canonical, "order": a.order.reference}
            ),
        )
    ]


# -- a comparison: no payer's policy applies --------------------------------------------------


def comparison_summary(c: Comparison) -> str:
    """Under 140 characters: what is missing (the payer), the phase, and that policies are only compared."""
    phase = PHASE_LABEL.get(c.order.phase or "", "order")
    payer = c.routing.payer or "the payer"
    if len(payer) > 40:
        payer = payer[:39] + "…"
    reason = c.routing.reason
    if reason == payers.UNAVAILABLE:
        text = f"IDDS {phase}: coverage could not be retrieved – every policy compared for reference"
    elif reason == payers.UNMATCHED:
        text = f"IDDS {phase}: no encoded policy for {payer} – every policy compared for reference"
    elif reason == payers.EXCLUDED:
        text = f"IDDS {phase}: {payer}'s policy excludes this member's plan – every policy compared for reference"
    else:
        text = f"IDDS {phase}: no active coverage on file – add the patient's Coverage to see their payer's requirements"
    if len(text) > 139:
        text = text[:136] + "…"
    return text


def comparison_detail(c: Comparison, record: PatientRecord) -> str:
    o, r = c.order, c.routing
    dos = o.date_of_service.isoformat()
    lead = {
        payers.NO_COVERAGE: f"**No coverage in force on {dos} was found** for this order, so no payer's requirements "
        "can be shown as the patient's. Add the patient's Coverage to see their payer's requirements.",
        payers.UNAVAILABLE: "**The patient's coverage could not be retrieved**, so no payer's requirements can be shown "
        "as the patient's.",
        payers.UNMATCHED: f"**The patient's payer ({r.payer or 'not named'}) has no policy encoded in this "
        "service**, so its requirements cannot be shown.",
        payers.EXCLUDED: f"**The payer's policy does not apply to this member** ({r.payer or 'payer not named'}), "
        f"so its requirements cannot be shown. {plain(r.exclusion or '')}",
    }.get(r.reason or "", f"**{plain(r.note or '')}**")
    lines = [lead, order_line(o)]
    assumed = date_assumption(o)
    if assumed:
        lines.append(assumed)
    lines.append(
        "\nFor reference only, every encoded policy compared – none of these is this patient's payer's verdict:\n"
    )
    several = len({a.indication for a in c.assessments}) > 1
    lines.append(
        "| Policy | Version | Result" + (" | Indication" if several else "") + " | Not met | Not documented |"
    )
    lines.append("|---|---|---" + ("|---" if several else "") + "|---|---|")
    for a in c.assessments:
        unmet = count_requirements(a.outcome.criteria, NOT_MET)
        missing = count_requirements(a.outcome.criteria, UNKNOWN)
        ind = (
            f" | {INDICATION_LABEL.get(a.indication, 'not determined') if a.indication != OTHER_INDICATION else 'other condition'}"
            if several
            else ""
        )
        lines.append(
            f"| {a.policy.payer} {a.policy.title.split(':')[0]} | {a.policy.version} | "
            f"{DETERMINATION_LABEL[a.determination]}{ind} | {unmet} | {missing} |"
        )
    lines.append("\nThe checklist link opens each policy's requirements with their source sentences.")
    notes = list(r.notes) + list(record.unavailable.values()) + record.issues
    if notes:
        lines.append("\n**Data notes**")
        lines.extend(f"- {plain(n)}" for n in dict.fromkeys(notes))
    return "\n".join(lines)


def comparison_card(c: Comparison, record: PatientRecord, base_url: str, smart_url: str) -> Card:
    """One card per order: no coverage (or no policy for the payer) said plainly, every policy's
    assessment carried under `idds-cds.assessments`, the per-policy detail behind the checklist link."""
    actionable = c.routing.reason in (payers.NO_COVERAGE, payers.UNAVAILABLE)
    policies = list(dict.fromkeys((a.policy.policy, a.policy.version) for a in c.assessments))
    titles = {
        (a.policy.policy, a.policy.version): f"{a.policy.payer} {a.policy.title}" for a in c.assessments
    }
    links = [
        Link(
            label="Open the checklist: every policy compared",
            url=with_assessment(smart_url, c.id),
            type="smart",
            appContext=f"assessment={c.id}",
        )
    ]
    links += [
        Link(
            label=f"Policy text: {titles[k]}",
            url=f"{base_url}/policies/{quote(k[0])}/{quote(k[1])}",
            type="absolute",
        )
        for k in policies
    ]
    return Card(
        uuid=c.id,
        summary=comparison_summary(c),
        detail=comparison_detail(c, record),
        # Something to fix in the record (no Coverage) is a warning; a payer this service has no
        # policy for leaves nothing to act on, and other payers' gaps are not this patient's.
        indicator="warning" if actionable else "info",
        source=Source(
            label=SERVICE_LABEL,
            topic={"system": CARD_TYPE, "code": "coverage-info", "display": "Coverage information"},
        ),
        overrideReasons=override_reasons(),
        links=links,
        extension={
            "idds-cds.assessments": [a.as_contract() for a in c.assessments],
            "idds-cds.comparison": c.as_contract()["comparison"],
        },
    )


# determination → (covered, pa-needed, doc-needed), CRD coverage-information codes.
# not-covered carries no pa-needed (CRD invariant crd-ci-q2); not-applicable makes
# no assertion at all, so it gets no system action.
CRD_CODES: dict[str, tuple[str, str | None, str | None]] = {
    "criteria-met": ("covered", "auth-needed", None),
    "documentation-incomplete": ("covered", "auth-needed", "clinical"),
    "not-evaluable": ("covered", "auth-needed", "clinical"),
    "criteria-not-met": ("not-covered", None, None),
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
    if a.determination != "criteria-met":
        ext.append(
            {
                "url": "reason",
                "valueCodeableConcept": {
                    "coding": [{"system": IDDS_SYSTEM, "code": a.determination}],
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


def failure_card() -> Card:
    """Said plainly when the service itself failed, instead of an HTTP 500."""
    return Card(
        uuid=str(uuid.uuid4()),
        summary="Coverage requirements could not be assessed for this order",
        detail="idds-cds hit an internal error while assessing this order. No coverage conclusion "
        "can be drawn from this card; the error has been logged for the service team.",
        indicator="warning",
        source=Source(
            label=SERVICE_LABEL,
            topic={"system": CARD_TYPE, "code": "coverage-info", "display": "Coverage information"},
        ),
    )
