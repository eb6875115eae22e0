"""When a home exercise program counts as conservative therapy (NIA's HEP footnote).

NIA_CG_310: "Home Exercise Program (HEP) - The following two elements are required to meet
guidelines for completion of conservative therapy: Documentation of an exercise
prescription/plan provided by a physician, physical therapist, or chiropractor; AND
Follow-up documentation regarding completion of HEP after the required 6-week timeframe or
inability to complete HEP due to a documented medical reason". A leaf that names
`hep_completion_weeks` counts a home exercise program course only when the record proves
both: its Procedure's performer (or the plan it is `basedOn`: a CarePlan's author or a
ServiceRequest's requester) resolves to a professional of mappings/evaluators.yaml
`hep-prescriber`, and the course covers the weeks asked, or ended not tolerated (the
documented medical reason: increased pain, unable to perform the exercises). Any other
course is left as it is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from .base import Duration, FactContext
from .evaluator import proven
from .therapy_courses import Course

HEP_KIND = "home-exercise-program"
PRESCRIBERS = "hep-prescriber"


def completed_only(
    ctx: FactContext, courses: list[Course], weeks: float
) -> tuple[list[Course], list[Course], str]:
    """The courses without the home exercise programs the record does not prove completed,
    those left out, and a note naming why (empty when none)."""
    kept: list[Course] = []
    left_out: list[Course] = []
    why_not: list[str] = []
    for course in courses:
        why = _not_completed(ctx, course, weeks) if course.kind == HEP_KIND else None
        if why is None:
            kept.append(course)
        else:
            left_out.append(course)
            why_not.append(why)
    if not why_not:
        return kept, left_out, ""
    return kept, left_out, " A home exercise program is not counted: " + "; ".join(why_not) + "."


def if_documented(
    duration: Duration, ranges: list[tuple[date, date]], extra: list[tuple[date, date]]
) -> Duration:
    """The duration, knowing what it would cover if the left-out programmes were documented:
    a shortfall they would make up is then undocumented, never contradicted."""
    if not extra:
        return duration
    return replace(duration, if_documented=Duration.covering(ranges + extra))


def _not_completed(ctx: FactContext, course: Course, weeks: float) -> str | None:
    proc = _procedure(ctx, course.ref)
    when = course.start
    if proc is None or when is None:
        return "it is not dated"
    day = datetime.combine(when, time(), UTC)
    if not _prescribed(ctx, proc, day):
        return (
            "no exercise prescription or plan by a physician, physical therapist or chiropractor "
            "is documented (record who prescribed it)"
        )
    if "intolerance" in course.reasons:
        return None  # unable to complete it for a documented medical reason
    end = course.end if course.end is not None else (ctx.date_of_service if course.ongoing else when)
    end = min(end, ctx.date_of_service)
    if (end - when).days + 1 < round(weeks * 7):
        return (
            f"it ran {(end - when).days + 1} days, under the {weeks:g} weeks after which its completion "
            "is followed up, and no medical reason for stopping early is recorded"
        )
    return None


def _procedure(ctx: FactContext, ref: str) -> dict[str, Any] | None:
    def build() -> dict[str, dict[str, Any]]:
        return {f"Procedure/{p.get('id')}": p for p in ctx.record.resources("Procedure")}

    by_ref: dict[str, dict[str, Any]] = ctx.memo("procedures-by-ref", build)
    return by_ref.get(ref)


def _prescribed(ctx: FactContext, proc: dict[str, Any], day: datetime) -> bool:
    """The performer, or the plan the course is based on, is a physician, PT or chiropractor."""
    actors = [p.get("actor") for p in proc.get("performer") or () if isinstance(p, dict)]
    if proven(ctx, proc, actors, day, PRESCRIBERS).qualified:
        return True
    for based in proc.get("basedOn") or ():
        plan = _plan(ctx, based)
        if plan is None:
            continue
        who = [plan.get("requester"), plan.get("author")]
        if proven(ctx, plan, [w for w in who if isinstance(w, dict)], day, PRESCRIBERS).qualified:
            return True
    return False


def _plan(ctx: FactContext, based: Any) -> dict[str, Any] | None:
    target = based.get("reference") if isinstance(based, dict) else None
    if not isinstance(target, str) or "/" not in target:
        return None
    rtype, _, rid = target.rpartition("/")
    rtype = rtype.rpartition("/")[2]
    if rtype not in ("CarePlan", "ServiceRequest"):
        return None
    for res in ctx.record.with_id(rtype, rid):
        if ctx.record.usable(res):
            return res
    return None
