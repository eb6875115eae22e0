"""The scores around a trial: the baseline before it and the scores inside its window, which a
computed relief or score reduction compares (facts/trial.py reads them against the policy)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .base import FactContext, Trial
from .catalogue import SCALE_LABEL
from .scores import numeric_value

Scored = tuple[datetime, float, dict[str, Any]]  # (when, value, the Observation)


class Around(NamedTuple):
    """A dated trial's start, the baseline score before it, and the scores in its window (oldest first)."""

    start: datetime
    before: Scored
    after: list[Scored]


def window_hours_for(held_for_hours: float | None, single_shot_window_hours: float) -> float:
    return max(held_for_hours or 0.0, single_shot_window_hours)


def hours_between(a: datetime, b: datetime) -> str:
    return f"{(b - a).total_seconds() / 3600:g} h"


def window_words(trial: Trial, window_hours: float) -> str:
    if trial.ongoing:
        return f"the ongoing {trial.describe()}"
    if trial.end is None:
        return f"the {window_hours:g} h after the single-shot {trial.describe()}"
    return f"the {trial.describe()}, to its end on {trial.end.date().isoformat()}"


def scores_around(
    ctx: FactContext, value_set: str, trial: Trial, window_hours: float
) -> tuple[Around | None, str | None]:
    """(the scores around the trial, None) or (None, why not)."""
    start = trial.start
    if start is None:  # the trial chosen is always dated (FactContext.trial); said, not assumed
        return None, f"the trial {trial.ref} has no date"
    standing, why = ctx.standing(value_set, window_hours)
    if why:
        return None, why
    label = SCALE_LABEL[value_set]
    # The baseline: the latest standing score before the start, or a pre-dose score charted as part of this trial.
    standing_ids = {id(obs) for _, obs in standing}
    before: Scored | None = None
    for when, obs in reversed(ctx.candidates(value_set)):
        if when >= start:
            continue
        if id(obs) not in standing_ids and trial.ref not in ctx.procedure_references(obs):
            continue
        if ctx.record.usable(obs):
            value = numeric_value(obs)
            if value is not None:
                before = (when, value, obs)
                break
    after: list[Scored] = []
    for when, obs in ctx.candidates(value_set):
        if when > ctx.cutoff or when < start:
            continue
        if ctx.in_window(obs, when, trial, window_hours) and ctx.record.usable(obs):
            value = numeric_value(obs)
            if value is not None:
                after.append((when, value, obs))
    if before is None:
        return None, f"no {label} before the {trial.describe()} to compare with"
    if not after:
        return None, f"no {label} recorded within {window_words(trial, window_hours)}"
    return Around(start, before, after), None


def held_scores(after: list[Scored], start: datetime, hours: float) -> list[Scored] | None:
    """Window scores up to and including the first at or beyond start + hours; None when none reaches it."""
    limit = start + timedelta(hours=hours)
    window = []
    for item in after:
        window.append(item)
        if item[0] >= limit:
            return window
    return None
