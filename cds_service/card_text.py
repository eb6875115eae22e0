"""A card's words: a clinician's, never the service's internals.

Raw references are named by what they are, coded values by their labels, and
every sentence ends in one full stop. Fact notes should already read so; `plain`
is the cards' last guard (tests/test_card_text.py scans every card).
"""

from __future__ import annotations

import re

from . import next_steps
from .facts.catalogue import FLAG_LABEL, PUMP_STATUS_LABEL, SCALE_LABEL
from .orders import Order
from .policy_model import INDICATION_LABEL, OTHER_INDICATION, PHASE_LABEL

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

    def ref(m: re.Match[str]) -> str:
        word = RESOURCE_WORDS.get(m.group(1))
        if word is None:
            return m.group(0) if not re.search(r"[a-z][A-Z]", m.group(1)) else "a record"
        return word

    text = _REF.sub(ref, text)
    text = _SLUG.sub(lambda m: _SLUGS[m.group(1)], text)
    return re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)


SUMMARY_LIMIT = 140  # CDS Hooks: a card's summary is under 140 characters


def summary_line(text: str) -> str:
    """A card's one-line summary, cut with an ellipsis where it would reach the limit."""
    return text if len(text) < SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 4] + "…"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def quote(source: str) -> str:
    return "> " + source.replace("\n", " ")


def sentence(text: str) -> str:
    """One sentence: capitalised, ending in a full stop (never two)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def order_line(order: Order, indication: str | None = None, with_indication: bool = False) -> str:
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


def date_assumption(order: Order) -> str | None:
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
