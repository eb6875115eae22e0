"""Facts read from the patient, the problem list and single observations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..fhirtime import months_between, parse_date, whole_years
from ..record import resource_ref
from ..vocabulary import INDICATION_LABEL
from .base import UNCONFIRMED_VERIFICATION, Fact, FactContext, refs, status_code
from .catalogue import FLAG_WORDING
from .scores import bool_value, numeric_value, pain_nrs_latest, spasticity_score_latest

__all__ = [
    "active_infection",
    "age_years",
    "bool_value",
    "condition_present",
    "diagnosis_documented",
    "flag",
    "implant_contraindication",
    "increased_intracranial_pressure",
    "life_expectancy_months",
    "metastatic_lesions",
    "numeric_value",
    "pain_nrs_latest",
    "psych_evaluation",
    "spasticity_score_latest",
    "thecal_sac_encroachment",
]

# Life expectancy in months and years converts exactly; in weeks and days it is counted in
# calendar months from the date of service (13 weeks from 2026-09-14 is 3 months).
MONTHS_PER_UNIT = {"mo": 1.0, "a": 12.0}
DAYS_PER_UNIT = {"wk": 7, "d": 1}


def age_years(ctx: FactContext) -> Fact:
    patient = ctx.record.patient
    if patient is None:
        return Fact.unknown("the Patient resource could not be had")
    born = parse_date(patient.get("birthDate"))
    if born is None:
        return Fact.unknown("the date of birth is not recorded", (resource_ref(patient),))
    age = whole_years(born, ctx.date_of_service)
    return Fact(age, (resource_ref(patient),), f"age {age} on {ctx.date_of_service.isoformat()}")


def diagnosis_documented(
    ctx: FactContext, indication: str | None = None, value_set: str | None = None
) -> Fact:
    """An active, confirmed (or unqualified) diagnosis of the indication, or of a named value set.

    A provisional, differential or unconfirmed diagnosis does not document it: the
    policies ask for "documented pathology", an etiology "clearly documented".
    """
    indication = indication or ctx.indication
    if indication is None and value_set is None:
        return Fact.unknown("no indication could be determined")
    if value_set:
        label = VALUE_SET_LABEL[value_set]
    else:
        label = INDICATION_LABEL.get(indication, indication) if indication is not None else "None"
    found = _confirmed(ctx.conditions(value_set or f"indication-{indication}"))
    combinations = ctx.terminology.indication_combinations
    for group in (
        combinations.get(indication, ()) if not found and value_set is None and indication is not None else ()
    ):
        parts = [_confirmed(ctx.conditions(vs)) for vs in group]
        if all(parts):
            found = [c for part in parts for c in part]
            break
    if found:
        return Fact(True, refs(found), f"an active diagnosis of {label} is on the problem list")
    if not ctx.record.available("Condition"):
        return Fact.unknown("the problem list could not be retrieved")
    return Fact.unknown(f"no active diagnosis on the problem list documents {label}")


VALUE_SET_LABEL = {
    "nonmalignant-pain-pathology": "a known cause of the pain (a pain symptom code alone is not one)"
}


def _confirmed(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in conditions if status_code(c.get("verificationStatus")) not in UNCONFIRMED_VERIFICATION]


def life_expectancy_months(ctx: FactContext) -> Fact:
    hit = ctx.latest("life-expectancy")
    if hit is None:
        return Fact.unknown("no life expectancy recorded")
    _, obs = hit
    q = obs.get("valueQuantity") or {}
    unit = q.get("code") or q.get("unit")
    value = q.get("value")
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or value < 0
        or unit not in MONTHS_PER_UNIT.keys() | DAYS_PER_UNIT.keys()
    ):
        return Fact.unknown("life expectancy is not a quantity in mo, wk, a or d", (resource_ref(obs),))
    if q.get("comparator"):
        return Fact.unknown(
            f"life expectancy is recorded as {q['comparator']} {value} {unit}, not a value",
            (resource_ref(obs),),
        )
    if unit in MONTHS_PER_UNIT:
        months = float(value) * MONTHS_PER_UNIT[unit]
    else:
        end = ctx.date_of_service + timedelta(days=round(float(value) * DAYS_PER_UNIT[unit]))
        months = months_between(ctx.date_of_service, end)
    return Fact(
        round(months, 2), (resource_ref(obs),), f"life expectancy {q['value']} {unit} ({months:.1f} months)"
    )


def flag(ctx: FactContext, code: str) -> Fact:
    topic, yes, no = FLAG_WORDING.get(code, (code.replace("-", " "),) * 3)
    hit = ctx.latest(f"flag:{code}")
    if hit is None:
        return Fact.unknown(f"nothing is recorded on {topic}")
    _, obs = hit
    value = bool_value(obs)
    if value is None:
        return Fact.unknown(f"{topic} is recorded without a yes/no answer", (resource_ref(obs),))
    return Fact(value, (resource_ref(obs),), f"recorded: {yes if value else no}")


def _finding(ctx: FactContext, value_set: str, label: str, flag_set: str | None = None) -> Fact:
    """Safety findings: present → true; retrieved problem list without it → false."""
    found = ctx.conditions(value_set)
    if found:
        return Fact(True, refs(found), f"{label} on the problem list")
    if flag_set:
        hit = ctx.latest(flag_set)
        if hit is not None and bool_value(hit[1]) is not None:
            value = bool_value(hit[1])
            return Fact(value, (resource_ref(hit[1]),), f"{label}: {'yes' if value else 'no'} (observation)")
    if ctx.record.available("Condition"):
        return Fact(False, (), f"no {label} on the retrieved problem list")
    return Fact.unknown(f"the problem list could not be retrieved, so {label} cannot be ruled out")


INFECTION_SETS = {"systemic-or-spinal": "active-infection", "any": "any-active-infection"}


CONDITION_LABEL = {"neoplasm-related-pain": "pain documented as neoplasm-related (G89.3)"}


def condition_present(ctx: FactContext, value_set: str) -> Fact:
    """A finding the policy rules out: on the retrieved problem list → true, absent → false."""
    return _finding(ctx, value_set, CONDITION_LABEL.get(value_set, value_set.replace("-", " ")))


def active_infection(ctx: FactContext, scope: str = "systemic-or-spinal") -> Fact:
    label = "active systemic or spinal infection" if scope == "systemic-or-spinal" else "active infection"
    return _finding(ctx, INFECTION_SETS[scope], label, "active-infection-flag")


def implant_contraindication(ctx: FactContext) -> Fact:
    return _finding(
        ctx,
        "implant-contraindication",
        "coagulopathy, leukopenia, pancytopenia or raised intracranial pressure",
    )


def increased_intracranial_pressure(ctx: FactContext) -> Fact:
    return _finding(ctx, "increased-intracranial-pressure", "increased intracranial pressure")


def thecal_sac_encroachment(ctx: FactContext) -> Fact:
    found = ctx.conditions("thecal-sac-encroachment")
    if found:
        return Fact(True, refs(found), "epidural/meningeal metastasis on the problem list")
    hit = ctx.latest("thecal-sac-encroachment-flag")
    if hit is not None and bool_value(hit[1]) is not None:
        value = bool_value(hit[1])
        return Fact(
            value,
            (resource_ref(hit[1]),),
            f"tumor encroachment of the thecal sac: {'yes' if value else 'no'}",
        )
    return Fact.unknown("no imaging result on thecal sac encroachment or epidural metastases")


def metastatic_lesions(ctx: FactContext) -> Fact:
    found = ctx.conditions("metastatic-lesions")
    if found:
        return Fact(True, refs(found), "metastatic lesions on the problem list")
    return Fact.unknown("no metastatic lesions documented")


def psych_evaluation(ctx: FactContext) -> Fact:
    mental = ctx.conditions("mental-health")
    extra = (
        f"; {len(mental)} mental-health condition{'s' if len(mental) > 1 else ''} on the problem list to weigh"
        if mental
        else ""
    )
    hit = ctx.latest("psych-evaluation")
    if hit is not None:
        _, obs = hit
        code = ctx.terminology.idds_code(obs.get("valueCodeableConcept"))
        if code in ("favorable", "unfavorable"):
            return Fact(code, (resource_ref(obs), *refs(mental)), f"evaluation {code}{extra}")
    done = [
        p
        for p in ctx.record.resources("Procedure")
        if p.get("status") == "completed"
        and ctx.terminology.in_set(p.get("code"), "psych-evaluation-procedure")
        and ctx.record.usable(p)
    ]
    if done:
        return Fact.unknown(
            f"evaluation performed but its outcome is not documented{extra}", refs(done) + refs(mental)
        )
    return Fact.unknown(f"no mental/behavioural health evaluation documented{extra}", refs(mental))
