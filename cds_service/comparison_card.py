"""The one card of a comparison: no payer's policy applies (no Coverage in force, coverage
not retrievable, a payer no policy is encoded for, or a member the payer's policy excludes),
so every policy's assessment of the order is folded into one card instead of one
payer-named card each."""

from __future__ import annotations

from . import payers
from .assessment import Comparison
from .card_links import checklist_link, documentation_links, override_reasons, policy_link, service_source
from .card_text import date_assumption, order_line, plain, summary_line
from .hook_models import Card
from .outcome import count_requirements
from .policy_model import (
    DETERMINATION_LABEL,
    INDICATION_LABEL,
    OTHER_INDICATION,
    PHASE_LABEL,
    Status,
)
from .record import PatientRecord


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
    return summary_line(text)


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
        unmet = count_requirements(a.outcome.criteria, Status.NOT_MET)
        missing = count_requirements(a.outcome.criteria, Status.UNKNOWN)
        ind = (
            f" | {INDICATION_LABEL.get(a.indication or '', 'not determined') if a.indication != OTHER_INDICATION else 'other condition'}"
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
    policies = {(a.policy.policy, a.policy.version): a.policy for a in c.assessments}
    titles = {
        (a.policy.policy, a.policy.version): f"{a.policy.payer} {a.policy.title}" for a in c.assessments
    }
    links = [checklist_link("Open the checklist: every policy compared", c.id, smart_url)]
    links += [policy_link(titles[k], policies[k], base_url) for k in policies]
    links += documentation_links(c, smart_url)
    return Card(
        uuid=c.id,
        summary=comparison_summary(c),
        detail=comparison_detail(c, record),
        # Something to fix in the record (no Coverage) is a warning; a payer this service has no
        # policy for leaves nothing to act on, and other payers' gaps are not this patient's.
        indicator="warning" if actionable else "info",
        source=service_source(),
        overrideReasons=override_reasons(),
        links=links,
        extension={
            "idds-cds.assessments": [a.as_contract() for a in c.assessments],
            "idds-cds.comparison": c.as_contract()["comparison"],
        },
    )
