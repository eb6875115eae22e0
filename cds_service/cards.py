"""Assessments → CDS Hooks cards (and, re-exported, CRD coverage-information system actions).

Shapes follow shared/contract/assessment.md and CDS Hooks 2.0. One card per
(order, policy) when the patient's payer is known; a comparison's one folded card is
comparison_card.py, a card's words card_text.py, its links card_links.py, the CRD
system actions crd_actions.py.
"""

from __future__ import annotations

import copy
import uuid
from urllib.parse import quote as url_quote

from . import next_steps
from .assessment import Assessment, Comparison
from .card_links import (
    card_topic,
    checklist_link,
    documentation_links,
    override_reasons,
    packet_link,
    policy_link,
    service_source,
)
from .card_text import date_assumption, order_line, plain, plural, quote, sentence, summary_line
from .comparison_card import comparison_card
from .crd_actions import system_actions
from .hook_models import Action, Card, Source, Suggestion
from .outcome import CriterionResult, count_requirements
from .policy_model import PHASE_LABEL, Determination, Status
from .record import PatientRecord

__all__ = ["card", "failure_card", "system_actions"]

INFO_DETERMINATIONS = (Determination.CRITERIA_MET, Determination.NOT_APPLICABLE)


def summary(a: Assessment) -> str:
    """Under 140 characters: payer, phase and the count of unmet / undocumented criteria."""
    phase = PHASE_LABEL.get(a.order.phase or "", "order")
    payer = a.policy.payer
    unmet = count_requirements(a.outcome.criteria, Status.NOT_MET)
    missing = count_requirements(a.outcome.criteria, Status.UNKNOWN)
    text = {
        Determination.CRITERIA_MET: f"{payer}: IDDS {phase} criteria met",
        Determination.CRITERIA_NOT_MET: f"{payer}: IDDS {phase} – {plural(unmet, 'criterion', 'criteria')} not met"
        + (f", {missing} not documented" if missing else ""),
        Determination.DOCUMENTATION_INCOMPLETE: f"{payer}: IDDS {phase} – {plural(missing, 'criterion', 'criteria')} not documented",
        Determination.NOT_APPLICABLE: f"{payer}: policy does not apply to this IDDS {phase}",
        Determination.NOT_EVALUABLE: f"{payer}: IDDS {phase} criteria not public – "
        f"{plural(missing, 'documentation item', 'documentation items')} missing",
    }[a.determination]
    return summary_line(text)


def _item(a: Assessment, c: CriterionResult) -> str:
    leaves, contraindications = next_steps.leaf_index(a.policy)
    mark = "◇ " if c.any_of else ""
    parts = [f"- {mark}{sentence(plain(c.text))}"]
    if c.note:
        parts.append(f"In the record: {sentence(plain(c.note))}")
    if c.any_of:
        parts.append("*(any one of the alternatives marked ◇ is enough)*")
    leaf = leaves.get(c.id)
    step = next_steps.load().step(leaf) if leaf is not None else None
    text = step.for_status(c.status) if step is not None else None
    if text:
        parts.append(f"**Next step:** {sentence(text)}")
    intro = "  The policy lists this as a contraindication:\n\n  " if c.id in contraindications else "  "
    return " ".join(parts) + f"\n\n{intro}{quote(c.source)}"


def detail(a: Assessment, record: PatientRecord) -> str:
    lines: list[str] = []
    unmet = count_requirements(a.outcome.criteria, Status.NOT_MET)
    missing = count_requirements(a.outcome.criteria, Status.UNKNOWN)
    label = {
        Determination.CRITERIA_MET: "Every criterion is documented as met.",
        Determination.CRITERIA_NOT_MET: f"The record contradicts {plural(unmet, 'criterion', 'criteria')}.",
        Determination.DOCUMENTATION_INCOMPLETE: "Nothing in the record contradicts the policy, but "
        f"{plural(missing, 'criterion is', 'criteria are')} not documented yet.",
        Determination.NOT_APPLICABLE: f"The policy does not apply to this order: {plain(a.outcome.reason)}.",
        Determination.NOT_EVALUABLE: f"The medical-necessity criteria are in {a.outcome.deferred_to}, which is not public; "
        "the policy still asks for the documentation below.",
    }[a.determination]
    lines.append(f"**{a.policy.title}** (version {a.policy.version}) – {label}")
    lines.append(order_line(a.order, a.indication, with_indication=True))
    assumed = date_assumption(a.order)
    if assumed:
        lines.append(assumed)
    if a.determination == Determination.NOT_APPLICABLE:
        for c in a.outcome.criteria:
            if c.blocking:
                lines.append(f"\n{quote(c.source)}")
    else:
        for status, heading in (
            (Status.NOT_MET, "Not met"),
            (
                Status.UNKNOWN,
                "Not documented"
                if a.determination != Determination.NOT_EVALUABLE
                else "Documentation missing",
            ),
        ):
            items = a.blocking(status)
            if items:
                lines.append(f"\n**{heading}**")
                lines.extend(_item(a, c) for c in items)
    met = [c for c in a.outcome.criteria if c.status == Status.MET]
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
        if not c.blocking or c.status not in (Status.NOT_MET, Status.UNKNOWN):
            continue
        leaf = leaves.get(c.id)
        step = steps.step(leaf) if leaf is not None else None
        order = step.order if step is not None else None
        # Done but its outcome not recorded: the next step is the result, not another order.
        if (
            order is None
            or order.label in out
            or (c.status == Status.UNKNOWN and any(e.startswith("Procedure/") for e in c.evidence))
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
                    f"{sentence(c.text)}"
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


def card(a: Assessment | Comparison, record: PatientRecord, base_url: str, smart_url: str) -> Card:
    """The card for one (order, policy) assessment, or the one folded card of a comparison."""
    if isinstance(a, Comparison):
        return comparison_card(a, record, base_url, smart_url)
    first_gap = next((c for c in a.outcome.criteria if c.blocking), None)
    anchor = f"#{url_quote(first_gap.id)}" if first_gap else ""
    informs = a.determination in INFO_DETERMINATIONS
    offered = suggestions(a, record, a.id)
    own_payer = a.routing is not None and not a.routing.comparison and a.routing.coverage_ref is not None
    return Card(
        uuid=a.id,
        summary=summary(a),
        detail=detail(a, record),
        indicator="info" if informs else "warning",
        source=Source(
            label=a.policy.payer,
            url=a.policy.url,
            topic=card_topic("coverage-info" if informs else "documentation"),
        ),
        suggestions=offered or None,
        selectionBehavior="any" if offered else None,
        overrideReasons=override_reasons(),
        links=[
            checklist_link("Open the coverage checklist", a.id, smart_url),
            policy_link(a.policy.title, a.policy, base_url, anchor),
            *documentation_links(a, smart_url),
            *([packet_link(a.id, base_url)] if own_payer else []),
        ],
        extension={"idds-cds.assessment": a.as_contract()},
    )


def failure_card() -> Card:
    """Said plainly when the service itself failed, instead of an HTTP 500."""
    return Card(
        uuid=str(uuid.uuid4()),
        summary="Coverage requirements could not be assessed for this order",
        detail="idds-cds hit an internal error while assessing this order. No coverage conclusion "
        "can be drawn from this card; the error has been logged for the service team.",
        indicator="warning",
        source=service_source(),
    )
