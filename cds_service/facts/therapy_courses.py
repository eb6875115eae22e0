"""Therapy courses as the record shows them: one Course per therapy kind a Procedure,
MedicationStatement or AllergyIntolerance documents, with its days, whether it failed, and
the contraindication or intolerance it records. Built once per request and resource, and only
for the resources of the kinds a fact asks about (`courses_in`); facts/therapy.py reads them
against the policy's words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from ..codes import Terminology
from ..fhirtime import last_day, parse_date
from ..record import resource_ref
from .base import FactContext, status_code

# Procedure.status values for a course that was (at least partly) performed.
PERFORMED = frozenset({"completed", "in-progress", "stopped", "on-hold"})
# MedicationStatement.status values for a drug that was (at least partly) taken.
TAKEN = frozenset({"active", "completed", "stopped", "on-hold"})
# Statuses of a course still running: without an end it runs to the date of service.
ONGOING = frozenset({"in-progress", "active", "on-hold"})
# Records of a therapy not given; they count only for the reason they give.
NOT_GIVEN = frozenset({"not-done", "not-taken"})
EXCLUDED_ALLERGY_VERIFICATION = frozenset({"refuted", "entered-in-error", "unconfirmed"})


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
    kinds = [(k, f"therapy:{k}") for k in t.therapies.procedure_kinds]
    out: list[Candidate] = []
    for proc in ctx.record.resources("Procedure"):
        status = proc.get("status")
        if not isinstance(status, str) or status not in PERFORMED | NOT_GIVEN:
            continue
        # A procedure may be of several kinds (therapeutic exercise is physical therapy
        # and active rehabilitative exercise): one course per kind.
        held = t.sets_of_concept(proc.get("code"))  # one lookup per coding, not one per kind
        found = frozenset(k for k, value_set in kinds if value_set in held)
        if found:
            out.append(
                (
                    found,
                    proc,
                    partial(_procedure_kinds, t, proc, found),
                )
            )
    return out


def _procedure_kinds(t: Terminology, proc: dict[str, Any], found: frozenset[str]) -> list[Course]:
    return [c for k in sorted(found) for c in _procedure_course(t, proc, k)]


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
                    partial(_medication_course, t, stmt, kinds, ingredients, by_name),
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
            held = t.sets_of_concept(route)  # one lookup per coding, not one per route name
            found |= {name for name in t.therapies.routes if f"route:{name}" in held}
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
                by_type[kind_of]
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
                    partial(_allergy_course, ref, kinds, ingredients, by_name, reasons, noted),
                )
            )
    return out


def _allergy_course(
    ref: str,
    kinds: set[str],
    ingredients: set[str],
    by_name: bool,
    reasons: frozenset[str],
    noted: date | None,
) -> list[Course]:
    return [
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
    ]


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
