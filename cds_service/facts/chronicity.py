"""How long the pain has been documented: the "chronic" of a policy's "severe, chronic,
intractable pain" where no other checked criterion proves it.

Chronicity is read from the pain diagnosis itself: when it began (onset) or, failing an
onset, when it was first recorded. A diagnosis code cannot say it: G89.3 is neoplasm
related pain "acute or chronic", and a chronic-pain code (G89.2x, G89.4) may be another
pain than the one the pump treats. The record must prove it: an onset too recent, or no
date at all, leaves it unknown, never met (and never not-met, since no policy here
excludes acute pain).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..fhirtime import add_months, last_day
from ..vocabulary import INDICATION_LABEL
from .base import UNCONFIRMED_VERIFICATION, Fact, FactContext, refs, status_code

__all__ = ["pain_chronic"]

# The set of a mappings/conditions.yaml `indication_combinations` group that names the pain
# (the other sets say what causes it: a malignant neoplasm for cancer-related pain).
PAIN_SETS = frozenset({"pain-condition"})


def pain_chronic(ctx: FactContext, indication: str, min_months: int) -> Fact:
    """True when a pain diagnosis of the indication began at least `min_months` calendar months
    before the date of service (onset date + `min_months` months on or before it)."""
    label = INDICATION_LABEL.get(indication, indication)
    pains = _pain_conditions(ctx, indication)
    if not pains:
        if not ctx.record.available("Condition"):
            return Fact.unknown(
                "the problem list could not be retrieved, so how long the pain has lasted is unknown"
            )
        return Fact.unknown(
            f"no active, confirmed diagnosis of {label} on the problem list says when the pain began"
        )
    dated = [(began, c) for c in pains if (began := _began(c)) is not None]
    proven = [(began, c) for began, c in dated if add_months(began, min_months) <= ctx.date_of_service]
    if proven:
        since = min(began for began, _ in proven)
        return Fact(
            True,
            refs([c for _, c in proven]),
            f"the pain is documented since {since.isoformat()}, at least {min_months} months "
            "before the date of service",
        )
    if dated:
        since = min(began for began, _ in dated)
        return Fact.unknown(
            f"the pain is documented only since {since.isoformat()}, less than {min_months} months "
            "before the date of service; record when the pain began if it was earlier",
            refs([c for _, c in dated]),
        )
    return Fact.unknown(
        f"the diagnosis of {label} has no onset date or recorded date; record when the pain began",
        refs(pains),
    )


def _pain_conditions(ctx: FactContext, indication: str) -> list[dict[str, Any]]:
    """The active, confirmed pain diagnoses that document the indication (as
    diagnosis_documented finds them): its own value set, or the pain part of a combination
    whose every set is on the problem list."""
    found = _confirmed(ctx.conditions(f"indication-{indication}"))
    for group in ctx.terminology.indication_combinations.get(indication, ()):
        parts = {vs: _confirmed(ctx.conditions(vs)) for vs in group}
        if all(parts.values()):
            found += [c for vs, part in parts.items() if vs in PAIN_SETS for c in part if c not in found]
    return found


def _confirmed(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in conditions if status_code(c.get("verificationStatus")) not in UNCONFIRMED_VERIFICATION]


def _began(condition: dict[str, Any]) -> date | None:
    """The onset (onsetDateTime, onsetPeriod.start), else the recorded date, at the latest day
    a partial date covers ("2026-06" is 2026-06-30), so a month alone never adds days."""
    period = condition.get("onsetPeriod")
    for value in (
        condition.get("onsetDateTime"),
        period.get("start") if isinstance(period, dict) else None,
        condition.get("recordedDate"),
    ):
        began = last_day(value)
        if began is not None:
            return began
    return None
