"""Trial outcomes: read where documented, computed from scores around the trial otherwise.

Computed outcomes anchor on the latest trial Procedure (CPT 62320–62327 or
idds#intrathecal-trial) performed on or before the date of service. The
baseline is the latest score before the trial starts. "Relief held for N
hours" is the smallest relief among the scores after the start up to and
including the first one at or beyond start + N h: every score in that window
must still show it, and a score at or past N h must exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..record import resource_ref
from .base import TRIAL_WINDOW, Fact, FactContext
from .clinical import bool_value, numeric_value



def trial_procedure(ctx: FactContext) -> tuple[datetime, dict[str, Any]] | None:
    return ctx.trial()


def _scores_around(ctx: FactContext, value_set: str):
    """(baseline (time, value, obs), [(time, value, obs) after the start]) or a reason."""
    trial = trial_procedure(ctx)
    if trial is None:
        return None, "no trial procedure documented"
    start, proc = trial
    # Only the baseline and the scores in the trial window decide, so only they are validated.
    scores = ctx.candidates(value_set)
    limit = min(start + TRIAL_WINDOW, ctx.cutoff)
    before, after = None, []
    for when, obs in reversed(scores):
        if when < start and ctx.record.usable(obs):
            value = numeric_value(obs)
            if value is not None:
                before = (when, value, obs)
                break
    for when, obs in scores:
        if start < when <= limit and ctx.record.usable(obs):
            value = numeric_value(obs)
            if value is not None:
                after.append((when, value, obs))
    if before is None:
        return None, f"no score before the trial start ({resource_ref(proc)})"
    if not after:
        return None, f"no score after the trial start ({resource_ref(proc)})"
    return (start, proc, before, after), None


def _held(after, start: datetime, hours: float):
    """Scores up to and including the first at or beyond start + hours.

    None when no score reaches it, or when the first one that does comes later
    than twice the hours: a score days later says nothing about the first hours.
    """
    limit = start + timedelta(hours=hours)
    latest_useful = start + timedelta(hours=2 * hours)
    window = []
    for item in after:
        window.append(item)
        if item[0] >= limit:
            return window if item[0] <= latest_useful else None
    return None


def _hours(a: datetime, b: datetime) -> str:
    return f"{(b - a).total_seconds() / 3600:g} h"


def _computed_relief(ctx: FactContext, value_set: str, label: str, hours: float | None) -> Fact:
    found, why = _scores_around(ctx, value_set)
    if found is None:
        return Fact.unknown(f"{label} relief not documented and not computable: {why}")
    start, proc, (_, base, base_obs), after = found
    if base <= 0:
        return Fact.unknown(f"baseline {label} is 0; relief cannot be computed", (resource_ref(base_obs),))

    def relief(v: float) -> float:
        return round((base - v) / base * 100, 1)

    if hours is None:
        when, value, obs = max(after, key=lambda t: relief(t[1]))
        pct = relief(value)
        evidence = (resource_ref(proc), resource_ref(base_obs), resource_ref(obs))
        return Fact(pct, evidence, f"computed relief {pct:g} % ({label} {base:g} → {value:g}) at {_hours(start, when)} after the trial start")
    window = _held(after, start, hours)
    if window is None:
        return Fact.unknown(
            f"no {label} between {hours:g} h and {2 * hours:g} h after the trial start, so relief held for {hours:g} h is not documented",
            (resource_ref(proc), resource_ref(base_obs)),
        )
    worst = min(window, key=lambda t: relief(t[1]))
    pct = relief(worst[1])
    evidence = (resource_ref(proc), resource_ref(base_obs)) + tuple(resource_ref(o) for _, _, o in window)
    return Fact(
        pct,
        evidence,
        f"computed relief held for {hours:g} h: at least {pct:g} % ({label} {base:g} → {worst[1]:g} at {_hours(start, worst[0])}; last score at {_hours(start, window[-1][0])})",
    )


def trial_pain_relief_percent(ctx: FactContext, held_for_hours: float | None = None) -> Fact:
    hit = ctx.latest("trial-pain-relief")
    if hit is not None:
        _, obs = hit
        value = numeric_value(obs)
        if value is not None:
            if held_for_hours is None:
                return Fact(value, (resource_ref(obs),), f"documented relief {value:g} %")
            duration = _relief_duration(ctx, obs)
            if duration is not None:
                if duration >= held_for_hours:
                    return Fact(value, (resource_ref(obs),), f"documented relief {value:g} % lasting {duration:g} h")
                return Fact(
                    0.0,
                    (resource_ref(obs),),
                    f"documented relief {value:g} % lasted only {duration:g} h (needs {held_for_hours:g} h)",
                )
    computed = _computed_relief(ctx, "pain-nrs", "NRS", held_for_hours)
    if computed.value is None and hit is not None and held_for_hours is not None:
        return Fact.unknown(
            f"documented relief has no duration, and {computed.note}", (resource_ref(hit[1]),) + computed.evidence
        )
    return computed


def trial_spasm_relief_percent(ctx: FactContext) -> Fact:
    hit = ctx.latest("trial-spasm-relief")
    if hit is not None and numeric_value(hit[1]) is not None:
        value = numeric_value(hit[1])
        return Fact(value, (resource_ref(hit[1]),), f"documented spasm relief {value:g} %")
    return _computed_relief(ctx, "penn-spasm-frequency", "Penn spasm frequency", None)


def trial_score_reduction(ctx: FactContext, scale: str, held_for_hours: float | None = None) -> Fact:
    sets = ("modified-ashworth", "ashworth") if scale == "ashworth-or-modified-ashworth" else ("penn-spasm-frequency",)
    best: Fact | None = None
    reasons = []
    for value_set in sets:
        fact = _score_reduction(ctx, value_set, held_for_hours)
        if fact.value is None:
            reasons.append(fact.note or "")
        elif best is None or fact.value > best.value:
            best = fact
    return best or Fact.unknown("; ".join(reasons))


def _score_reduction(ctx: FactContext, value_set: str, hours: float | None) -> Fact:
    label = value_set.replace("-", " ")
    found, why = _scores_around(ctx, value_set)
    if found is None:
        return Fact.unknown(f"{label} reduction not computable: {why}")
    start, proc, (_, base, base_obs), after = found
    window = after if hours is None else _held(after, start, hours)
    if window is None:
        return Fact.unknown(
            f"no {label} score between {hours:g} h and {2 * hours:g} h after the trial start",
            (resource_ref(proc), resource_ref(base_obs)),
        )
    worst = max(window, key=lambda t: t[1]) if hours is not None else min(window, key=lambda t: t[1])
    points = base - worst[1]
    evidence = (resource_ref(proc), resource_ref(base_obs)) + tuple(resource_ref(o) for _, _, o in window)
    held = f" held for {hours:g} h" if hours is not None else ""
    return Fact(
        points,
        evidence,
        f"{label} {_score(base)} → {_score(worst[1])}: {points:g}-point reduction{held} (to {_hours(start, window[-1][0])} after the trial start)",
    )


def trial_flag(ctx: FactContext, code: str) -> Fact:
    hit = ctx.latest(f"flag:{code}")
    if hit is None:
        return Fact.unknown(f"{code.replace('-', ' ')} is not documented")
    trial = trial_procedure(ctx)
    when, obs = hit
    if trial is not None and when < trial[0]:
        return Fact.unknown(f"{code.replace('-', ' ')} was recorded before the trial", (resource_ref(obs),))
    value = bool_value(obs)
    if value is None:
        return Fact.unknown(f"{code} has no true/false value", (resource_ref(obs),))
    return Fact(value, (resource_ref(obs),), f"{code.replace('-', ' ')}: {'yes' if value else 'no'}")


def _relief_duration(ctx: FactContext, obs: dict[str, Any]) -> float | None:
    for comp in obs.get("component") or ():
        if ctx.terminology.idds_code(comp.get("code")) == "relief-duration":
            q = comp.get("valueQuantity") or {}
            if isinstance(q.get("value"), (int, float)):
                unit = q.get("code") or q.get("unit") or "h"
                factor = {"h": 1, "min": 1 / 60, "d": 24}.get(unit)
                if factor is not None:
                    return float(q["value"]) * factor
    return None


def _score(value: float) -> str:
    return "1+" if value == 1.5 else f"{value:g}"
