"""Therapy histories: which courses of a class were tried, for how long, and how they ended.

Courses come from Procedures (physical therapy, home exercise, chiropractic,
inactive care) and MedicationStatements (opioids, other analgesics, oral
antispasmodics). Only a course that was performed or taken has a duration; a
failed one (ineffective, or stopped because it was not tolerated) counts for
its own period.

A documented contraindication or intolerance waives a duration only where the
policy's words allow it (`waived_by`), and only for the therapies the leaf
names (`waiver_therapies`): a record concerns its own procedure kind or the
drug it names (an AllergyIntolerance to codeine concerns codeine), never a
whole class (clinical-data contract, "Therapy histories").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from . import hep
from .base import Duration, Fact, FactContext
from .therapy_courses import Course, courses_in

REASONS = ("contraindication", "intolerance")
REASON_WORDS = {"contraindication": "contraindicated", "intolerance": "not tolerated"}
REASON_NOUNS = {"contraindication": "a contraindication", "intolerance": "an intolerance"}


def therapy_failed_duration(ctx: FactContext, **params: Any) -> Fact:
    cls = params["class"]
    schedule = params.get("schedule")
    require_failure = params.get("require_failure", True)
    waived_by = set(params.get("waived_by") or ())
    waiver_therapies = set(params.get("waiver_therapies") or ())
    routes = params.get("routes")
    kinds = _kinds(ctx, cls)
    records = [c for c in courses_in(ctx, kinds) if c.start is None or c.start <= ctx.date_of_service]
    label = _label(ctx, cls)

    waivers = [c for c in records if c.reasons & waived_by and c.therapies & waiver_therapies]
    if waivers:
        what = " or ".join(
            REASON_WORDS[r] for r in REASONS if r in waived_by and any(r in c.reasons for c in waivers)
        )
        why = (
            f"{_names(waivers)} documented as {what}, which this policy accepts in place of "
            f"the {label} requirement"
        )
        return Fact(Duration(waived=why), tuple(c.ref for c in waivers), why)

    courses = [c for c in records if c.given]
    hep_note, left_out = "", list[Course]()
    if params.get("hep_completion_weeks") is not None:  # NIA: a HEP counts only once completed
        courses, left_out, hep_note = hep.completed_only(ctx, courses, params["hep_completion_weeks"])
    if schedule == "fixed":
        courses = [c for c in courses if c.fixed_schedule is not False]
    if routes:
        # a drug given by another documented route does not count; one without a route does
        courses = [c for c in courses if c.routes is None or c.routes & set(routes)]
    fixed = _qualifier(ctx, kinds, schedule, routes)
    not_waiving = _not_waiving(records, waived_by, waiver_therapies) + hep_note
    if not courses:
        if _sources_missing(ctx, kinds):
            return Fact.unknown(f"The {label} history could not be retrieved.")
        return Fact.unknown(
            f"No course of {label}{fixed} is documented.{not_waiving}",
            tuple(c.ref for c in records if c.reasons),
        )
    counted = [c for c in courses if c.failed] if require_failure else courses
    evidence = tuple(c.ref for c in courses)
    fallback = " (a drug was recognised by its name only)" if any(c.by_name for c in courses) else ""
    if not counted:
        return Fact.unknown(
            f"{label.capitalize()}{fixed} is documented, but not that it failed (ineffective or not tolerated){fallback}.{not_waiving}",
            evidence,
        )
    dated = [(c.start, c) for c in counted if c.start is not None]
    if not dated:
        return Fact.unknown(f"{label.capitalize()} is documented without dates{fallback}.", evidence)
    ranges = [(start, _end(c, start, ctx.date_of_service)) for start, c in dated]
    duration = Duration.covering(ranges)
    if left_out:
        extra = [c for c in left_out if (c.failed or not require_failure) and c.start is not None]
        duration = hep.if_documented(
            duration, ranges, [(c.start, _end(c, c.start, ctx.date_of_service)) for c in extra if c.start]
        )
    what = "Failed " if require_failure else ""
    subject = f"{what}{label}{fixed}" if what else f"{label.capitalize()}{fixed}"
    return Fact(
        duration,
        tuple(c.ref for c in counted),
        f"{subject}: {duration.describe()}{fallback}.{not_waiving}",
    )


def therapy_documented(ctx: FactContext, **params: Any) -> Fact:
    """Treatments tried (performed or taken), or recorded as not given with their reason."""
    cls = params["class"]
    kinds = _kinds(ctx, cls)
    courses = [
        c
        for c in courses_in(ctx, kinds)
        if not c.allergy and (c.given or c.reasons) and (c.start is None or c.start <= ctx.date_of_service)
    ]
    undated = ""
    if params.get("dates_and_reasons"):  # "include the dates and reason for discontinuation"
        kept = [
            c
            for c in courses
            if not c.given or (c.start is not None and (c.ongoing or c.failed or c.reasons))
        ]
        if len(kept) < len(courses):
            undated = (
                f" {len(courses) - len(kept)} course{'s' if len(courses) - len(kept) != 1 else ''} without "
                "its dates, or stopped without the reason, not counted."
            )
        courses = kept
    if courses:
        return Fact(
            True,
            tuple(c.ref for c in courses),
            f"{len(courses)} course{'s' if len(courses) != 1 else ''} of {_label(ctx, cls)} documented",
        )
    if _sources_missing(ctx, kinds):
        return Fact.unknown(f"The {_label(ctx, cls)} history could not be retrieved.")
    return Fact.unknown(f"No course of {_label(ctx, cls)} is documented.{undated}")


def _qualifier(ctx: FactContext, kinds: set[str], schedule: Any, routes: Any) -> str:
    words = []
    if schedule == "fixed":
        words.append("on a fixed schedule")
    if routes:
        words.append("by the " + " or ".join(routes) + " route")
    if not words:
        return ""
    only_drugs = kinds <= set(ctx.terminology.therapies.medication_kinds)
    return (
        (" taken " if only_drugs else " (medications taken ") + " ".join(words) + ("" if only_drugs else ")")
    )


def _kinds(ctx: FactContext, cls: str) -> set[str]:
    return set(ctx.terminology.therapies.classes[cls])


def _label(ctx: FactContext, cls: str) -> str:
    return ctx.terminology.therapies.labels.get(cls) or cls.replace("-", " ")


def _names(records: list[Course]) -> str:
    names = sorted({t.replace("-", " ") for c in records for t in c.therapies})
    return ", ".join(names).capitalize()


def _not_waiving(records: list[Course], waived_by: set[str], waiver_therapies: set[str]) -> str:
    """Say why a documented contraindication or intolerance did not replace the duration."""
    blocked = [c for c in records if c.reasons]
    if not blocked:
        return ""
    wrong_reason = [c for c in blocked if not c.reasons & waived_by]
    if wrong_reason:
        what = " or ".join(REASON_WORDS[r] for r in REASONS if any(r in c.reasons for c in wrong_reason))
        if waived_by:
            allowed = " or ".join(REASON_NOUNS[r] for r in REASONS if r in waived_by)
            return f" {_names(wrong_reason)} documented as {what}; this policy accepts only {allowed} in place of the requirement."
        return f" {_names(wrong_reason)} documented as {what}; under this policy that does not replace the requirement."
    what = " or ".join(REASON_WORDS[r] for r in REASONS if any(r in c.reasons for c in blocked))
    return (
        f" {_names(blocked)} documented as {what}; that concerns "
        f"{'that drug' if any(c.allergy or c.fixed_schedule is not None for c in blocked) else 'that therapy'} "
        "only, not the whole requirement."
    )


def _end(course: Course, start: date, dos: date) -> date:
    """Last day covered: Period.end is inclusive; a running course without end runs to the date of service."""
    end = course.end if course.end is not None else (dos if course.ongoing else start)
    return min(end, dos)


def _sources_missing(ctx: FactContext, kinds: set[str]) -> bool:
    med_kinds = set(ctx.terminology.therapies.medication_kinds)
    needs_meds = bool(kinds & med_kinds)
    needs_procs = bool(kinds - med_kinds)
    return (needs_meds and not ctx.record.available("MedicationStatement")) or (
        needs_procs and not ctx.record.available("Procedure")
    )
