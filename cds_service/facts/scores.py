"""The patient's standing scores (pain NRS, Ashworth / modified Ashworth, Penn spasm frequency)
and how an Observation's value reads as a number or a yes/no: scores a trial measured are not
the patient's standing pain or tone (FactContext.standing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..record import resource_ref
from .base import Fact, FactContext
from .catalogue import SCALE_LABEL

# Modified Ashworth codes and strings → numbers; 1+ sits between 1 and 2.
MAS_VALUES = {"0": 0.0, "1": 1.0, "1+": 1.5, "2": 2.0, "3": 3.0, "4": 4.0}
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


def _fmt(value: float) -> str:
    return "1+" if value == 1.5 else (str(int(value)) if float(value).is_integer() else f"{value:g}")
