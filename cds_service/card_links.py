"""What every card links to and offers: the checklist, the policy text, the documentation
form (DTR), the prior-authorization packet, and the reasons a clinician may give for
dismissing it (CDS Hooks 2.0 `overrideReasons`, served as a CodeSystem so an EHR can
resolve them)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from . import next_steps
from .assessment import Assessment, Comparison
from .hook_models import Coding, Link, Source
from .policy_model import Determination, Policy
from .policy_urls import policy_page
from .questionnaire.crd import canonical_for

CARD_TYPE = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
SERVICE_LABEL = "idds-cds"  # source.label when no payer speaks: a comparison, a failure
# The CRD card types a card may be (its source.topic), in the words the type's CodeSystem gives them.
CARD_TOPICS = {"coverage-info": "Coverage information", "documentation": "Documentation requirements"}


def card_topic(code: str) -> dict[str, str]:
    """A card's source.topic: its CRD card type."""
    return {"system": CARD_TYPE, "code": code, "display": CARD_TOPICS[code]}


def service_source() -> Source:
    """The service itself as a card's source: no payer's policy speaks (a comparison, a failure)."""
    return Source(
        label=SERVICE_LABEL,
        topic=card_topic("coverage-info"),
    )


def override_reasons() -> list[Coding]:
    return [Coding(**c) for c in next_steps.load().override_reasons]


def with_assessment(smart_url: str, assessment_id: str) -> str:
    """The smart link carries the assessment's capability id in its URL as well as in appContext:
    an EHR with no SMART launch context (the CDS Hooks sandbox on an open server) drops
    appContext, and the checklist then opens this assessment read-only (smart/routes.py)."""
    return f"{smart_url}{'&' if '?' in smart_url else '?'}assessment={quote(assessment_id)}"


def checklist_link(label: str, assessment_id: str, smart_url: str) -> Link:
    return Link(
        label=label,
        url=with_assessment(smart_url, assessment_id),
        type="smart",
        appContext=f"assessment={assessment_id}",
    )


def policy_link(label: str, policy: Policy, base_url: str, anchor: str = "") -> Link:
    """The policy's own text, `anchor` (#criterion-id) landing on the sentence a gap quotes."""
    url = base_url + policy_page(policy.policy, policy.version, anchor)
    return Link(label=f"Policy text: {label}", url=url, type="absolute")


def packet_link(assessment_id: str, base_url: str) -> Link:
    return Link(
        label="Prior-authorization packet (FHIR Bundle)",
        url=f"{base_url}/assessments/{quote(assessment_id)}/packet",
        type="absolute",
    )


def _questionnaire(a: Assessment) -> str | None:
    return canonical_for(a) if a.determination == Determination.DOCUMENTATION_INCOMPLETE else None


def documentation_links(a: Assessment | Comparison, smart_url: str) -> list[Link]:
    """DTR: when the record leaves requirements undocumented, open the questionnaire for them.
    A comparison opens its checklist, where every policy that asks for documentation has its
    form (none of them is the patient's payer's, so none is picked for the clinician)."""
    if isinstance(a, Comparison):
        if not any(_questionnaire(item) for item in a.assessments):
            return []
        context = {"assessment": a.id, "order": a.order.reference}
    else:
        canonical = _questionnaire(a)
        if canonical is None:
            return []
        context = {"assessment": a.id, "questionnaire": canonical, "order": a.order.reference}
    return [
        Link(
            label="Complete the documentation",
            url=with_assessment(smart_url, a.id),
            type="smart",
            appContext=urlencode(context),
        )
    ]
