"""Trial outcomes: read where documented, computed from scores around the trial otherwise.

"The trial" is the latest performed drug trial of the drug the policy names
(`injectates`, classes from mappings/drugs.yaml) on or before the date of
service (FactContext.trial). Its window comes from its own data: scores that
name it, scores inside a catheter/continuous trial's performedPeriod, and for
a single shot (performedDateTime only) scores up to the relief duration asked
or the policy's `single_shot_window_hours`, whichever is longer.

Documented outcomes count for the trial they belong to: naming it, or dated at
or after its start and before the next trial. Computed outcomes compare the
baseline (latest standing score before the start) with the scores in the
window. "Relief held for N hours" is the smallest relief among the window's
scores up to and including the first one at or beyond start + N h; a score at
or past N h inside the window must exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..record import resource_ref
from .base import Fact, FactContext, Trial
from .catalogue import SCALE_LABEL
from .scores import bool_value, numeric_value
from .trial_scores import Around, held_scores, hours_between, scores_around, window_hours_for, window_words


def _documented(
    ctx: FactContext, value_set: str, trial: Trial | None
) -> tuple[datetime, dict[str, Any]] | None:
    """The latest documented outcome of the trial (any, when the record holds no trial Procedure)."""
    cutoff = ctx.cutoff
    for when, obs in reversed(ctx.candidates(value_set)):
        if when > cutoff:
            continue
        if trial is not None and not ctx.belongs_to(obs, when, trial):
            continue
        if ctx.record.usable(obs):
            return when, obs
    return None


def _which_trial(ctx: FactContext, injectates: tuple[str, ...] | None) -> tuple[Trial | None, str | None]:
    """(trial, None); (None, None) when the record holds no trial and no drug is asked for;
    (None, why) otherwise. A documented outcome with no trial Procedure cannot show the drug."""
    if not ctx.trials():
        if injectates:
            return None, "no trial procedure on record, so the trial's drug is not documented"
        return None, None
    return ctx.trial(injectates)


def _drug_note(trial: Trial | None) -> str:
    if trial is None:
        return " (no trial procedure on record; the documented outcome is read as the trial's)"
    if not trial.drugs:
        when = trial.start.date().isoformat() if trial.start else "undated"
        return f" (trial of {when}; the trial drug is not documented)"
    return f" ({trial.describe()})"


def _window(
    ctx: FactContext, value_set: str, trial: Trial, hours: float | None, single_shot_window_hours: float
) -> tuple[str, float, tuple[Around | None, str | None]]:
    """What a computed relief and a score reduction both start from: the scale's label, the
    trial's window (hours), and the scores around the trial in it (or why there are none)."""
    window_hours = window_hours_for(hours, single_shot_window_hours)
    return SCALE_LABEL[value_set], window_hours, scores_around(ctx, value_set, trial, window_hours)


def _computed_relief(
    ctx: FactContext, value_set: str, trial: Trial, hours: float | None, single_shot_window_hours: float
) -> Fact:
    label, window_hours, (around, why) = _window(ctx, value_set, trial, hours, single_shot_window_hours)
    if around is None:
        return Fact.unknown(f"relief not documented and cannot be worked out: {why}", (trial.ref,))
    (_, base, base_obs), after, start = around.before, around.after, around.start
    if base <= 0:
        return Fact.unknown(
            f"the {label} before the trial was 0, so relief cannot be worked out", (resource_ref(base_obs),)
        )

    def relief(v: float) -> float:
        return round((base - v) / base * 100, 1)

    if hours is None:
        when, value, obs = max(after, key=lambda t: relief(t[1]))
        pct = relief(value)
        return Fact(
            pct,
            (trial.ref, resource_ref(base_obs), resource_ref(obs)),
            f"relief worked out from the {label}: {pct:g} % ({base:g} before the trial, {value:g} at "
            f"{hours_between(start, when)} after it){_drug_note(trial)}",
        )
    window = held_scores(after, start, hours)
    if window is None:
        return Fact.unknown(
            f"no {label} at or after {hours:g} h within {window_words(trial, window_hours)}, so relief "
            f"lasting {hours:g} h is not documented",
            (trial.ref, resource_ref(base_obs)),
        )
    worst = min(window, key=lambda t: relief(t[1]))
    pct = relief(worst[1])
    evidence = (trial.ref, resource_ref(base_obs), *tuple(resource_ref(o) for _, _, o in window))
    return Fact(
        pct,
        evidence,
        f"relief worked out from the {label}, lasting {hours:g} h: at least {pct:g} % ({base:g} before the trial, "
        f"{worst[1]:g} at {hours_between(start, worst[0])}; last score at {hours_between(start, window[-1][0])})"
        f"{_drug_note(trial)}",
    )


def trial_pain_relief_percent(
    ctx: FactContext,
    held_for_hours: float | None = None,
    injectates: tuple[str, ...] | None = None,
    *,
    single_shot_window_hours: float,
) -> Fact:
    trial, why = _which_trial(ctx, injectates)
    if why:
        return Fact.unknown(f"trial pain relief: {why}")
    hit = _documented(ctx, "trial-pain-relief", trial)
    if hit is not None:
        _, obs = hit
        value = numeric_value(obs)
        evidence = (resource_ref(obs),) + ((trial.ref,) if trial else ())
        if value is not None:
            if held_for_hours is None:
                return Fact(value, evidence, f"documented trial pain relief {value:g} %{_drug_note(trial)}")
            duration = _relief_duration(ctx, obs)
            if duration is not None:
                if duration >= held_for_hours:
                    return Fact(
                        value,
                        evidence,
                        f"documented trial pain relief {value:g} % lasting {duration:g} h{_drug_note(trial)}",
                    )
                return Fact(
                    0.0,
                    evidence,
                    f"documented trial pain relief {value:g} % lasted only {duration:g} h ({held_for_hours:g} h needed)",
                )
    if trial is None:
        return Fact.unknown("no trial pain relief documented and no trial procedure on record")
    computed = _computed_relief(ctx, "pain-nrs", trial, held_for_hours, single_shot_window_hours)
    if computed.value is None and hit is not None and held_for_hours is not None:
        return Fact.unknown(
            f"the documented relief does not say how long it lasted, and {computed.note}",
            (resource_ref(hit[1]), *computed.evidence),
        )
    return computed


def trial_spasm_relief_percent(
    ctx: FactContext, injectates: tuple[str, ...] | None = None, *, single_shot_window_hours: float
) -> Fact:
    trial, why = _which_trial(ctx, injectates)
    if why:
        return Fact.unknown(f"trial spasm relief: {why}")
    hit = _documented(ctx, "trial-spasm-relief", trial)
    if hit is not None and numeric_value(hit[1]) is not None:
        value = numeric_value(hit[1])
        evidence = (resource_ref(hit[1]),) + ((trial.ref,) if trial else ())
        return Fact(value, evidence, f"documented trial spasm relief {value:g} %{_drug_note(trial)}")
    if trial is None:
        return Fact.unknown("no trial spasm relief documented and no trial procedure on record")
    return _computed_relief(ctx, "penn-spasm-frequency", trial, None, single_shot_window_hours)


def trial_score_reduction(
    ctx: FactContext,
    scale: str,
    held_for_hours: float | None = None,
    injectates: tuple[str, ...] | None = None,
    *,
    single_shot_window_hours: float,
) -> Fact:
    trial, why = _which_trial(ctx, injectates)
    if trial is None:
        return Fact.unknown(f"score reduction after the trial: {why or 'no trial procedure on record'}")
    sets = (
        ("modified-ashworth", "ashworth")
        if scale == "ashworth-or-modified-ashworth"
        else ("penn-spasm-frequency",)
    )
    best: Fact | None = None
    reasons: list[str] = []
    for value_set in sets:
        fact = _score_reduction(ctx, value_set, trial, held_for_hours, single_shot_window_hours)
        if fact.value is None:
            reasons.append(fact.note or "")
        elif best is None or fact.value > best.value:
            best = fact
    return best or Fact.unknown("; ".join(reasons), (trial.ref,))


def _score_reduction(
    ctx: FactContext, value_set: str, trial: Trial, hours: float | None, single_shot_window_hours: float
) -> Fact:
    label, window_hours, (around, why) = _window(ctx, value_set, trial, hours, single_shot_window_hours)
    if around is None:
        return Fact.unknown(f"{label} reduction cannot be worked out: {why}")
    (_, base, base_obs), after = around.before, around.after
    window = after if hours is None else held_scores(after, around.start, hours)
    if window is None:
        return Fact.unknown(
            f"no {label} at or after {hours:g} h within {window_words(trial, window_hours)}",
            (trial.ref, resource_ref(base_obs)),
        )
    worst = max(window, key=lambda t: t[1]) if hours is not None else min(window, key=lambda t: t[1])
    points = base - worst[1]
    evidence = (trial.ref, resource_ref(base_obs), *tuple(resource_ref(o) for _, _, o in window))
    held = f" lasting {hours:g} h" if hours is not None else ""
    return Fact(
        points,
        evidence,
        f"{label} {_score(base)} before the trial, {_score(worst[1])} after: a {points:g}-point reduction{held} "
        f"(scores to {hours_between(around.start, window[-1][0])} after the start){_drug_note(trial)}",
    )


FLAG_WORDS = {
    "trial-function-improved": "function improved with the trial",
    "trial-side-effects-tolerable": "the trial's side effects were tolerable",
}


def trial_flag(ctx: FactContext, code: str, injectates: tuple[str, ...] | None = None) -> Fact:
    words = FLAG_WORDS[code]
    trial, why = _which_trial(ctx, injectates)
    if why:
        return Fact.unknown(f"whether {words}: {why}")
    hit = _documented(ctx, f"flag:{code}", trial)
    if hit is None:
        if trial is not None:
            return Fact.unknown(f"not documented for the {trial.describe()} whether {words}", (trial.ref,))
        return Fact.unknown(f"not documented whether {words}")
    _, obs = hit
    value = bool_value(obs)
    if value is None:
        return Fact.unknown(f"the record of whether {words} has no yes/no answer", (resource_ref(obs),))
    evidence = (resource_ref(obs),) + ((trial.ref,) if trial else ())
    return Fact(value, evidence, f"{words}: {'yes' if value else 'no'}{_drug_note(trial)}")


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
