"""Facts read from the patient, the problem list and single observations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..fhirtime import months_between, parse_date, whole_years
from ..record import resource_ref
from ..vocabulary import INDICATION_LABEL
from .base import UNCONFIRMED_VERIFICATION, Fact, FactContext, refs, status_code
from .catalogue import FLAG_WORDING, SCALE_LABEL

# Modified Ashworth codes and strings → numbers; 1+ sits between 1 and 2.
MAS_VALUES = {"0": 0.0, "1": 1.0, "1+": 1.5, "2": 2.0, "3": 3.0, "4": 4.0}
# Life expectancy in months and years converts exactly; in weeks and days it is counted in
# calendar months from the date of service (13 weeks from 2026-09-14 is 3 months).
MONTHS_PER_UNIT = {"mo": 1.0, "a": 12.0}
DAYS_PER_UNIT = {"wk": 7, "d": 1}
SCALE_SETS = {
    "ashworth": "ashworth",
    "modified-ashworth": "modified-ashworth",
    "penn-spasm-frequency": "penn-spasm-frequency",
}


def numeric_value(obs: dict[str, Any]) -> float | None:
    """valueInteger / valueDecimal / valueQuantity / MAS code or string, as a number."""
    for key in ("valueInteger", "valueDecimal"):
        v = obs.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    q = obs.get("valueQuantity")
    if (
        isinstance(q, dict)
        and isinstance(q.get("value"), (int, float))
        and not isinstance(q.get("value"), bool)
    ):
        if q.get("comparator"):  # "<50 %" is a bound, not a value: it proves no threshold
            return None
        return float(q["value"])
    s = obs.get("valueString")
    if isinstance(s, str) and s.strip() in MAS_VALUES:
        return MAS_VALUES[s.strip()]
    concept = obs.get("valueCodeableConcept")
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            code = str(coding.get("code", ""))
            if code.startswith("mas-") and code[4:] in MAS_VALUES:
                return MAS_VALUES[code[4:]]
    return None


def bool_value(obs: dict[str, Any]) -> bool | None:
    v = obs.get("valueBoolean")
    return v if isinstance(v, bool) else None


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


SCORE_LABEL = SCALE_LABEL  # scores are named as the catalogue names their scales


def pain_nrs_latest(ctx: FactContext, **params: Any) -> Fact:
    return _standing_score(ctx, "pain-nrs", **params)


def spasticity_score_latest(ctx: FactContext, scale: str, **params: Any) -> Fact:
    return _standing_score(ctx, SCALE_SETS[scale], **params)


def _standing_score(
    ctx: FactContext,
    value_set: str,
    *,
    aggregate: str,
    min_scores: int,
    single_shot_window_hours: float,
    over_days: float | None = None,
) -> Fact:
    """The patient's standing score: scores a trial measured are left out (FactContext.standing).

    Every parameter comes from the policy leaf or the catalogue's defaults.
    latest: the newest standing score on or before the date of service.
    average / lowest: of the standing scores within `over_days` before the date
    of service (a baseline average; "persistent" levels = every one of them),
    at least `min_scores` of them.
    """
    label = SCORE_LABEL[value_set]
    standing, why = ctx.standing(value_set, single_shot_window_hours)
    if why:
        return Fact.unknown(f"{label}: {why}")
    if aggregate == "latest":
        # with over_days: the latest only if it is that recent (a current level, not an old one)
        recent = ctx.cutoff - timedelta(days=over_days) if over_days is not None else None
        for when, obs in standing:
            if recent is not None and when <= recent:
                return Fact.unknown(
                    f"no {label} recorded within the {over_days:g} days before "
                    f"{ctx.date_of_service.isoformat()} (the latest is of {when.date().isoformat()}){_outside(ctx)}",
                    (resource_ref(obs),),
                )
            if ctx.record.usable(obs):
                value = numeric_value(obs)
                if value is None:
                    return Fact.unknown(f"the latest {label} has no readable value", (resource_ref(obs),))
                return Fact(
                    value,
                    (resource_ref(obs),),
                    f"{label} {_fmt(value)} on {when.date().isoformat()}{_outside(ctx)}",
                )
        return Fact.unknown(f"no {label} recorded on or before the date of service{_outside(ctx)}")
    if over_days is None:  # the catalogue gives every aggregate but "latest" its period
        raise ValueError(f"the {aggregate} {label} needs over_days")
    since = ctx.cutoff - timedelta(days=over_days)
    used: list[tuple[datetime, dict[str, Any], float]] = []
    for when, obs in standing:
        if when > since and ctx.record.usable(obs):
            value = numeric_value(obs)
            if value is not None:
                used.append((when, obs, value))
    period = f"the {over_days:g} days before {ctx.date_of_service.isoformat()}"
    if not used:
        return Fact.unknown(f"no {label} recorded within {period}{_outside(ctx)}")
    if len(used) < min_scores:
        return Fact.unknown(
            f"{min_scores} or more {label}s are needed within {period}; only {len(used)} recorded{_outside(ctx)}",
            tuple(resource_ref(o) for _, o, _ in used),
        )
    values = [v for _, _, v in used]
    evidence = tuple(resource_ref(o) for _, o, _ in used)
    shown = ", ".join(_fmt(v) for v in reversed(values))
    dates = f"{used[-1][0].date().isoformat()} to {used[0][0].date().isoformat()}"
    if aggregate == "average":
        mean = round(sum(values) / len(values), 2)
        return Fact(
            mean,
            evidence,
            f"average {label} {mean:g} from {len(values)} score{'s' if len(values) > 1 else ''} ({shown}; {dates}){_outside(ctx)}",
        )
    low = min(values)
    return Fact(
        low,
        evidence,
        f"lowest of {len(values)} {label}{'s' if len(values) > 1 else ''} within {period}: {_fmt(low)} ({shown}; {dates}){_outside(ctx)}",
    )


def _outside(ctx: FactContext) -> str:
    return "; scores taken during a trial are left out" if ctx.trials() else ""


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


def _fmt(value: float) -> str:
    return "1+" if value == 1.5 else (str(int(value)) if float(value).is_integer() else f"{value:g}")
