"""Therapy histories: which courses of a class were tried, for how long, and how they ended.

Courses come from Procedures (physical therapy, home exercise, chiropractic,
inactive care) and MedicationStatements (opioids, other analgesics, oral
antispasmodics). An AllergyIntolerance to a drug of the class is a documented
intolerance ("cannot tolerate / contraindicated").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from ..codes import Terminology
from ..fhirtime import parse_date
from ..record import resource_ref
from .base import Duration, Fact, FactContext, status_code

COURSE_STATUSES = frozenset({"completed", "in-progress", "stopped", "active", "intended", "not-taken", "on-hold"})
MED_HISTORY_STATUSES = frozenset({"active", "completed", "stopped", "on-hold", "intended", "not-taken"})


@dataclass(frozen=True)
class Course:
    ref: str
    kind: str
    start: date | None
    end: date | None
    failed: bool
    contraindicated: bool
    fixed_schedule: bool | None  # None for non-drug courses
    by_name: bool = False  # identified by drug name only (fallback)


def therapy_failed_duration(
    ctx: FactContext,
    **params: Any,
) -> Fact:
    cls = params["class"]
    schedule = params.get("schedule")
    require_failure = params.get("require_failure", True)
    waivable = params.get("waived_by_contraindication", False)
    kinds = set(ctx.terminology.therapies["classes"][cls])
    courses = courses_in(ctx, kinds)
    label = cls.replace("-", " ")
    if waivable:
        blocked = [c for c in courses if c.contraindicated]
        if blocked:
            why = f"{label}: contraindicated or not tolerated ({', '.join(c.ref for c in blocked)})"
            return Fact(Duration(waived=why), tuple(c.ref for c in blocked), why)
    if schedule == "fixed":
        courses = [c for c in courses if c.fixed_schedule is not False]
    if not courses:
        if _sources_missing(ctx, kinds):
            return Fact.unknown(f"{label} history could not be retrieved")
        suffix = " on a fixed schedule" if schedule == "fixed" else ""
        return Fact.unknown(f"no {label}{suffix} documented")
    counted = [c for c in courses if c.failed] if require_failure else courses
    evidence = tuple(c.ref for c in courses)
    fallback = " (drug identified by name only)" if any(c.by_name for c in courses) else ""
    if not counted:
        return Fact.unknown(f"{label} documented but its failure is not{fallback}", evidence)
    dated = [c for c in counted if c.start]
    if not dated:
        return Fact.unknown(f"{label} documented without dates{fallback}", evidence)
    duration = Duration(_merge([(c.start, c.end or ctx.date_of_service) for c in dated], ctx.date_of_service))
    what = "failed " if require_failure else ""
    return Fact(duration, tuple(c.ref for c in counted), f"{what}{label}: {duration.describe()}{fallback}")


def therapy_documented(ctx: FactContext, **params: Any) -> Fact:
    kinds = set(ctx.terminology.therapies["classes"][params["class"]])
    courses = courses_in(ctx, kinds)
    if courses:
        return Fact(True, tuple(c.ref for c in courses), f"{len(courses)} course(s) documented")
    return Fact.unknown(f"no {params['class'].replace('-', ' ')} documented")


def _sources_missing(ctx: FactContext, kinds: set[str]) -> bool:
    med_kinds = set(ctx.terminology.therapies["medication_kinds"])
    needs_meds = bool(kinds & med_kinds)
    needs_procs = bool(kinds - med_kinds)
    return (needs_meds and not ctx.record.available("MedicationStatement")) or (
        needs_procs and not ctx.record.available("Procedure")
    )


def _merge(intervals: list[tuple[date, date]], cap: date) -> tuple[tuple[date, date], ...]:
    """Union of course periods, none extending past the date of service."""
    clipped = sorted((s, min(e, cap)) for s, e in intervals if s <= cap)
    merged: list[list[date]] = []
    for start, end in clipped:
        end = max(end, start)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def courses_of(ctx: FactContext) -> list[Course]:
    """Every usable course of every kind (validates every candidate resource)."""
    return courses_in(ctx, {k for kinds, _, _ in _candidates(ctx) for k in kinds})


def courses_in(ctx: FactContext, kinds: set[str]) -> list[Course]:
    """Usable courses of these kinds.

    Only the resources of the asked-for kinds are validated, each once per
    request: a long history of unrelated drugs and procedures costs a code
    lookup each, not a FHIR validation.
    """
    built: dict[int, list[Course]] = ctx.memo("courses-built", dict)
    out: list[Course] = []
    for res_kinds, res, build in _candidates(ctx):
        if res_kinds.isdisjoint(kinds) or not ctx.record.usable(res):
            continue
        key = id(res)
        if key not in built:
            built[key] = build()
        out.extend(c for c in built[key] if c.kind in kinds)
    return out


Candidate = tuple[frozenset[str], dict[str, Any], Callable[[], list[Course]]]


def _candidates(ctx: FactContext) -> list[Candidate]:
    """(kinds, resource, course builder) for every resource that may be a course; nothing validated."""
    return ctx.memo("course-candidates", lambda: _procedure_courses(ctx) + _medication_courses(ctx) + _allergy_courses(ctx))


def _procedure_courses(ctx: FactContext) -> list[Candidate]:
    t = ctx.terminology
    kinds = list(t.therapies["procedure_kinds"])
    out: list[Candidate] = []
    for proc in ctx.record.resources("Procedure"):
        status = proc.get("status")
        if not isinstance(status, str) or status not in COURSE_STATUSES | {"not-done"}:
            continue
        kind = next((k for k in kinds if t.in_set(proc.get("code"), f"therapy:{k}")), None)
        if kind is not None:
            out.append((frozenset((kind,)), proc, lambda proc=proc, kind=kind: _procedure_course(t, proc, kind)))
    return out


def _procedure_course(t: Terminology, proc: dict[str, Any], kind: str) -> list[Course]:
    start, end = _period(proc, "performedPeriod", "performedDateTime")
    outcome = proc.get("outcome")
    reason = proc.get("statusReason")
    failed = any(t.therapy_outcome_failure.has(a, c) for a, c in t.codings(outcome) if a)
    contraindicated = any(
        t.therapy_outcome_contraindication.has(a, c) for a, c in t.codings([outcome, reason]) if a
    )
    if proc.get("status") == "not-done" and not contraindicated:
        return []
    return [Course(resource_ref(proc), kind, start, end, failed, contraindicated, None)]


def _medication_courses(ctx: FactContext) -> list[Candidate]:
    t = ctx.terminology
    out: list[Candidate] = []
    for stmt in ctx.record.resources("MedicationStatement"):
        status = stmt.get("status")
        if not isinstance(status, str) or status not in MED_HISTORY_STATUSES:
            continue
        concept = stmt.get("medicationCodeableConcept") or _reference_as_concept(stmt.get("medicationReference"))
        ingredients, by_name = t.drugs.identify(concept)
        kinds = t.medication_kinds(ingredients)
        if kinds:
            out.append((frozenset(kinds), stmt, lambda stmt=stmt, kinds=kinds, by_name=by_name: _medication_course(t, stmt, kinds, by_name)))
    return out


def _medication_course(t: Terminology, stmt: dict[str, Any], kinds: set[str], by_name: bool) -> list[Course]:
    start, end = _period(stmt, "effectivePeriod", "effectiveDateTime")
    reasons = list(t.codings(stmt.get("statusReason") or []))
    failed = any(t.therapy_outcome_failure.has(a, c) for a, c in reasons if a)
    contraindicated = any(t.therapy_outcome_contraindication.has(a, c) for a, c in reasons if a)
    fixed = _fixed_schedule(stmt)
    return [Course(resource_ref(stmt), kind, start, end, failed, contraindicated, fixed, by_name) for kind in kinds]


def _allergy_courses(ctx: FactContext) -> list[Candidate]:
    """An allergy or intolerance to a drug is a documented 'cannot tolerate'."""
    t = ctx.terminology
    out: list[Candidate] = []
    for allergy in ctx.record.resources("AllergyIntolerance"):
        if status_code(allergy.get("verificationStatus")) in ("refuted", "entered-in-error"):
            continue
        if status_code(allergy.get("clinicalStatus")) not in (None, "active"):
            continue
        ingredients, by_name = t.drugs.identify(allergy.get("code"))
        kinds = t.medication_kinds(ingredients)
        if kinds:
            ref = resource_ref(allergy)
            out.append((frozenset(kinds), allergy, lambda ref=ref, kinds=kinds, by_name=by_name: [
                Course(ref, kind, None, None, False, True, None, by_name) for kind in kinds
            ]))
    return out


def _fixed_schedule(stmt: dict[str, Any]) -> bool:
    """Fixed schedule: no dosage says as-needed, and some dosage has timing.repeat."""
    dosages = [d for d in stmt.get("dosage") or () if isinstance(d, dict)]
    if not dosages:
        return False
    for d in dosages:
        if d.get("asNeededBoolean") is True or "asNeededCodeableConcept" in d:
            return False
    return any(isinstance((d.get("timing") or {}).get("repeat"), dict) for d in dosages)


def _period(res: dict[str, Any], period_key: str, instant_key: str) -> tuple[date | None, date | None]:
    period = res.get(period_key)
    if isinstance(period, dict):
        return parse_date(period.get("start")), parse_date(period.get("end"))
    when = parse_date(res.get(instant_key))
    return when, when


def _reference_as_concept(reference: Any) -> dict[str, Any] | None:
    if isinstance(reference, dict) and isinstance(reference.get("display"), str):
        return {"text": reference["display"]}
    return None
