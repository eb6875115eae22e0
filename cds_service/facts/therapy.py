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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..codes import Terminology
from ..fhirtime import last_day, parse_date
from ..record import resource_ref
from .base import Duration, Fact, FactContext, status_code

# Procedure.status values for a course that was (at least partly) performed.
PERFORMED = frozenset({"completed", "in-progress", "stopped", "on-hold"})
# MedicationStatement.status values for a drug that was (at least partly) taken.
TAKEN = frozenset({"active", "completed", "stopped", "on-hold"})
# Statuses of a course still running: without an end it runs to the date of service.
ONGOING = frozenset({"in-progress", "active", "on-hold"})
# Records of a therapy not given; they count only for the reason they give.
NOT_GIVEN = frozenset({"not-done", "not-taken"})
EXCLUDED_ALLERGY_VERIFICATION = frozenset({"refuted", "entered-in-error", "unconfirmed"})
REASONS = ("contraindication", "intolerance")
REASON_WORDS = {"contraindication": "contraindicated", "intolerance": "not tolerated"}
REASON_NOUNS = {"contraindication": "a contraindication", "intolerance": "an intolerance"}


@dataclass(frozen=True)
class Course:
    """One course of one therapy kind, or a record of why it cannot be given."""

    ref: str
    kind: str
    start: date | None
    end: date | None
    given: bool  # performed / taken: only these have a duration
    failed: bool
    reasons: frozenset[str]  # contraindication, intolerance
    therapies: frozenset[str]  # what the record concerns: its procedure kind, or the drug's ingredients
    fixed_schedule: bool | None = None  # None for non-drug courses
    by_name: bool = False  # drug identified by name only (fallback)
    allergy: bool = False
    ongoing: bool = False  # still running: without an end it runs to the date of service
    routes: frozenset[str] | None = (
        None  # dosage routes recognised (names in therapies.yaml); None: none documented
    )


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
    if schedule == "fixed":
        courses = [c for c in courses if c.fixed_schedule is not False]
    if routes:
        # a drug given by another documented route does not count; one without a route does
        courses = [c for c in courses if c.routes is None or c.routes & set(routes)]
    fixed = _qualifier(ctx, kinds, schedule, routes)
    not_waiving = _not_waiving(records, waived_by, waiver_therapies)
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
    dated = [c for c in counted if c.start]
    if not dated:
        return Fact.unknown(f"{label.capitalize()} is documented without dates{fallback}.", evidence)
    duration = Duration.covering([(c.start, _end(c, ctx.date_of_service)) for c in dated])
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
    if courses:
        return Fact(
            True,
            tuple(c.ref for c in courses),
            f"{len(courses)} course{'s' if len(courses) != 1 else ''} of {_label(ctx, cls)} documented",
        )
    if _sources_missing(ctx, kinds):
        return Fact.unknown(f"The {_label(ctx, cls)} history could not be retrieved.")
    return Fact.unknown(f"No course of {_label(ctx, cls)} is documented.")


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


def _end(course: Course, dos: date) -> date:
    """Last day covered: Period.end is inclusive; a running course without end runs to the date of service."""
    end = course.end if course.end is not None else (dos if course.ongoing else course.start)
    return min(end, dos)


def _sources_missing(ctx: FactContext, kinds: set[str]) -> bool:
    med_kinds = set(ctx.terminology.therapies.medication_kinds)
    needs_meds = bool(kinds & med_kinds)
    needs_procs = bool(kinds - med_kinds)
    return (needs_meds and not ctx.record.available("MedicationStatement")) or (
        needs_procs and not ctx.record.available("Procedure")
    )


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
    return ctx.memo(
        "course-candidates",
        lambda: _procedure_courses(ctx) + _medication_courses(ctx) + _allergy_courses(ctx),
    )


def _procedure_courses(ctx: FactContext) -> list[Candidate]:
    t = ctx.terminology
    kinds = list(t.therapies.procedure_kinds)
    out: list[Candidate] = []
    for proc in ctx.record.resources("Procedure"):
        status = proc.get("status")
        if not isinstance(status, str) or status not in PERFORMED | NOT_GIVEN:
            continue
        # A procedure may be of several kinds (therapeutic exercise is physical therapy
        # and active rehabilitative exercise): one course per kind.
        found = frozenset(k for k in kinds if t.in_set(proc.get("code"), f"therapy:{k}"))
        if found:
            out.append(
                (
                    found,
                    proc,
                    lambda proc=proc, found=found: [
                        c for k in sorted(found) for c in _procedure_course(t, proc, k)
                    ],
                )
            )
    return out


def _reasons(t: Terminology, concepts: Any) -> tuple[bool, frozenset[str]]:
    """(failed, waiver reasons) from outcome / statusReason codings."""
    codings = [(a, c) for a, c in t.codings(concepts) if a]
    failed = any(t.therapy_outcome_failure.has(a, c) for a, c in codings)
    reasons = set()
    if any(t.therapy_outcome_contraindication.has(a, c) for a, c in codings):
        reasons.add("contraindication")
    if any(t.therapy_outcome_intolerance.has(a, c) for a, c in codings):
        reasons.add("intolerance")
    return failed, frozenset(reasons)


def _procedure_course(t: Terminology, proc: dict[str, Any], kind: str) -> list[Course]:
    start, end = _period(proc, "performedPeriod", "performedDateTime")
    failed, reasons = _reasons(t, [proc.get("outcome"), proc.get("statusReason")])
    given = proc.get("status") in PERFORMED
    if not given and not reasons:
        return []
    ongoing = proc.get("status") in ONGOING
    return [
        Course(
            resource_ref(proc),
            kind,
            start,
            end,
            given,
            failed and given,
            reasons,
            frozenset((kind,)),
            ongoing=ongoing,
        )
    ]


def _medication_courses(ctx: FactContext) -> list[Candidate]:
    t = ctx.terminology
    out: list[Candidate] = []
    for stmt in ctx.record.resources("MedicationStatement"):
        status = stmt.get("status")
        if not isinstance(status, str) or status not in TAKEN | NOT_GIVEN:
            continue
        concept = stmt.get("medicationCodeableConcept") or _reference_as_concept(
            stmt.get("medicationReference")
        )
        ingredients, by_name = t.drugs.identify(concept)
        kinds = t.medication_kinds(ingredients)
        if kinds and not _routes(t, stmt) & set(t.therapies.neuraxial_routes):
            out.append(
                (
                    frozenset(kinds),
                    stmt,
                    lambda stmt=stmt, kinds=kinds, ingredients=ingredients, by_name=by_name: (
                        _medication_course(t, stmt, kinds, ingredients, by_name)
                    ),
                )
            )
    return out


def _medication_course(
    t: Terminology, stmt: dict[str, Any], kinds: set[str], ingredients: set[str], by_name: bool
) -> list[Course]:
    start, end = _period(stmt, "effectivePeriod", "effectiveDateTime")
    failed, reasons = _reasons(t, stmt.get("statusReason") or [])
    given = stmt.get("status") in TAKEN
    if not given and not reasons:
        return []
    fixed = _fixed_schedule(stmt)
    ongoing = stmt.get("status") in ONGOING
    documented = [d for d in stmt.get("dosage") or () if isinstance(d, dict) and d.get("route")]
    routes = _routes(t, stmt) if documented else None
    return [
        Course(
            resource_ref(stmt),
            kind,
            start,
            end,
            given,
            failed and given,
            reasons,
            frozenset(ingredients),
            fixed,
            by_name,
            ongoing=ongoing,
            routes=routes,
        )
        for kind in kinds
    ]


def _routes(t: Terminology, stmt: dict[str, Any]) -> frozenset[str]:
    """Names (therapies.yaml `routes`) of the dosage routes a statement documents; runs before validation."""
    dosages = stmt.get("dosage")
    found = set()
    for d in dosages if isinstance(dosages, list) else ():
        route = d.get("route") if isinstance(d, dict) else None
        if route:
            found |= {name for name in t.therapies.routes if t.in_set(route, f"route:{name}")}
    return frozenset(found)


def _allergy_courses(ctx: FactContext) -> list[Candidate]:
    """An AllergyIntolerance concerns the drug it names: an intolerance of it; a true allergy is also a contraindication."""
    t = ctx.terminology
    out: list[Candidate] = []
    for allergy in ctx.record.resources("AllergyIntolerance"):
        if status_code(allergy.get("verificationStatus")) in EXCLUDED_ALLERGY_VERIFICATION:
            continue
        if status_code(allergy.get("clinicalStatus")) not in (None, "active"):
            continue
        ingredients, by_name = t.drugs.identify(allergy.get("code"))
        kinds = t.medication_kinds(ingredients)
        if kinds:
            by_type = t.therapies.allergy_reasons
            kind_of = allergy.get("type")
            reasons = frozenset(
                by_type.get(kind_of)
                if isinstance(kind_of, str) and kind_of in by_type
                else by_type["unspecified"]
            )
            ref = resource_ref(allergy)
            noted = last_day(
                allergy.get("onsetDateTime") or allergy.get("recordedDate")
            )  # one recorded later is not history
            out.append(
                (
                    frozenset(kinds),
                    allergy,
                    lambda ref=ref, kinds=kinds, ingredients=ingredients, by_name=by_name, reasons=reasons, noted=noted: [
                        Course(
                            ref,
                            kind,
                            noted,
                            noted,
                            False,
                            False,
                            reasons,
                            frozenset(ingredients),
                            None,
                            by_name,
                            allergy=True,
                        )
                        for kind in kinds
                    ],
                )
            )
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
    """First and last day covered; a partial date is read so as not to credit days it may not cover."""
    period = res.get(period_key)
    if isinstance(period, dict):
        return last_day(period.get("start")), parse_date(period.get("end"))
    when = res.get(instant_key)
    return last_day(when), parse_date(when)


def _reference_as_concept(reference: Any) -> dict[str, Any] | None:
    if isinstance(reference, dict) and isinstance(reference.get("display"), str):
        return {"text": reference["display"]}
    return None
