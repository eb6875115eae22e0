"""Coverage → which policies to assess (shared/contract/clinical-data.md "Payer", mappings/payers.yaml).

Which Coverage counts: the patient's own (beneficiary), status active, its
`period` (when given) covering the date of service with period.end inclusive;
with several, the lowest `order` is the primary and every other one in force
is noted. A Coverage whose period cannot be read is not used, and the card
says so. The primary's payer is matched by mappings/payers.yaml; a route's
`not_for` (members the policy says it does not apply to) takes it out of
that policy. No Coverage, or a payer no policy matches: every policy is assessed,
as one comparison.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from . import mappings_schema
from .codes import Terminology
from .mappings_schema import Exclusion, Route
from .record import PatientRecord, resource_ref

PLAN_CLASS = "plan"  # http://terminology.hl7.org/CodeSystem/coverage-class

# Why a comparison, for the card and the checklist.
NO_COVERAGE = "no-coverage"  # none on file, or none in force on the date of service
UNAVAILABLE = "coverage-unavailable"  # Coverage could not be retrieved
UNMATCHED = "payer-not-matched"  # a Coverage, but no encoded policy is its payer's
EXCLUDED = "policy-excludes-member"  # the payer's policy says it does not apply to this member


@dataclass(frozen=True)
class Routing:
    policy_ids: tuple[str, ...]
    comparison: bool  # True when no payer's policy applies: every policy is assessed
    coverage_ref: str | None  # the primary Coverage in force, when there is one
    note: str  # one sentence: which Coverage was used, or why this is a comparison
    reason: str | None = None  # NO_COVERAGE | UNAVAILABLE | UNMATCHED | EXCLUDED when a comparison
    payer: str | None = None  # the primary Coverage's payer as the record names it
    notes: tuple[str, ...] = ()  # other Coverages in force, Coverages not in force or unreadable
    exclusion: str | None = None  # why the payer's policy was not applied, quoting it (EXCLUDED)


def load_routes(terminology: Terminology) -> tuple[Route, ...]:
    """mappings/payers.yaml's routes (mappings_schema.Payers), read and checked once per
    mappings directory; a malformed file is a MappingFileError naming the field."""
    return tuple(mappings_schema.payers(terminology.directory).routes)


# -- reading a Coverage ---------------------------------------------------------------------


def payer_name(coverage: dict[str, Any]) -> str | None:
    for payor in coverage.get("payor") or ():
        display = payor.get("display") if isinstance(payor, dict) else None
        if isinstance(display, str) and display.strip():
            return display.strip()
    for cls in coverage.get("class") or ():
        name = cls.get("name") if isinstance(cls, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def _payer_strings(coverage: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for payor in coverage.get("payor") or ():
        if isinstance(payor, dict):
            out.append(payor.get("display") or "")
            ident = payor.get("identifier")
            if isinstance(ident, dict):
                out.append(str(ident.get("value") or ""))
    for cls in coverage.get("class") or ():
        if isinstance(cls, dict):
            out.extend([str(cls.get("value") or ""), str(cls.get("name") or "")])
    return [s.lower() for s in out if isinstance(s, str) and s]


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or () if isinstance(c, dict)]


def _plan_strings(coverage: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for cls in coverage.get("class") or ():
        if isinstance(cls, dict) and any(c.get("code") == PLAN_CLASS for c in _codings(cls.get("type"))):
            out.extend(s.lower() for s in (cls.get("value"), cls.get("name")) if isinstance(s, str))
    return out


def excluded_by(coverage: dict[str, Any], ex: Exclusion) -> str | None:
    """What marks this Coverage as one of the members `ex` names, or None."""
    for c in _codings(coverage.get("type")):
        code = c.get("code")
        if c.get("system") in ex.type_systems and isinstance(code, str) and code.startswith(ex.type_prefixes):
            shown = f" ({c['display']})" if isinstance(c.get("display"), str) else ""
            return f"its type is code {code}{shown}"
    for s in _plan_strings(coverage):
        for word in ex.plan_words:
            if word in s:
                return f"its plan is named {s!r}"
    return None


def _bound(value: Any, end: bool) -> tuple[bool, date | None]:
    """(readable, the day) of a period bound as written: a partial end is its last day."""
    if value is None:
        return True, None
    if not isinstance(value, str):
        return False, None
    try:
        if len(value) == 4:
            year = int(value)
            return True, date(year, 12, 31) if end else date(year, 1, 1)
        if len(value) == 7 and value[4] == "-":
            year, month = int(value[:4]), int(value[5:7])
            return True, date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        day = date.fromisoformat(value[:10])
        if len(value) > 10:  # a dateTime: the rest must read too
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True, day
    except ValueError:
        return False, None


def in_force(coverage: dict[str, Any], dos: date) -> tuple[bool | None, str]:
    """(True/False, how) whether the period covers the date of service; None when unreadable."""
    period = coverage.get("period")
    if period is None:
        return True, "no period"
    if not isinstance(period, dict):
        return None, "its period is not a Period"
    ok_start, start = _bound(period.get("start"), end=False)
    ok_end, end = _bound(period.get("end"), end=True)
    if not (ok_start and ok_end):
        bad = period.get("start") if not ok_start else period.get("end")
        return None, f"its period ({'start' if not ok_start else 'end'} {bad!r}) could not be read"
    if start is not None and end is not None and end < start:
        return None, f"its period ends ({end.isoformat()}) before it starts ({start.isoformat()})"
    if start is not None and dos < start:
        return False, f"it starts {start.isoformat()}, after the date of service"
    if end is not None and dos > end:
        return False, f"it ended {end.isoformat()}, before the date of service"
    return True, "in force"


def _beneficiary_is(coverage: dict[str, Any], patient_id: str) -> bool:
    ref = (
        (coverage.get("beneficiary") or {}).get("reference")
        if isinstance(coverage.get("beneficiary"), dict)
        else None
    )
    return isinstance(ref, str) and ref.rpartition("/")[2] == patient_id


def _order(coverage: dict[str, Any]) -> float:
    value = coverage.get("order")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else math.inf


def _label(coverage: dict[str, Any]) -> str:
    name = payer_name(coverage) or "payer not named"
    order = coverage.get("order")
    return f"{resource_ref(coverage)} ({name}" + (f", order {order})" if isinstance(order, int) else ")")


# -- routing --------------------------------------------------------------------------------


def route(
    record: PatientRecord,
    terminology: Terminology,
    all_policy_ids: list[str],
    dos: date,
    names: dict[str, str] | None = None,
) -> Routing:
    """The policies to assess for an order with date of service `dos`; `names` (policy id → how a
    clinician knows it, its payer and title) words the notes."""
    names = names or {}
    routes = load_routes(terminology)
    every = tuple(all_policy_ids)
    notes: list[str] = []
    current: list[dict[str, Any]] = []
    for cov in record.resources("Coverage"):
        if not record.usable(cov):  # malformed or entered-in-error: reported by the record
            continue
        if not _beneficiary_is(cov, record.patient_id):
            if isinstance(cov.get("beneficiary"), dict) and cov["beneficiary"].get("reference"):
                continue  # another patient's: reported when the record was built
            notes.append(
                f"{resource_ref(cov)} does not reference the patient as its beneficiary; it was not used."
            )
            continue
        if cov.get("status") != "active":
            continue  # cancelled, draft: not in force
        force, how = in_force(cov, dos)
        if force is None:
            notes.append(f"{_label(cov)} was not used: {how}.")
        elif force:
            current.append(cov)
        else:
            notes.append(f"{_label(cov)} is not in force on {dos.isoformat()}: {how}.")
    if not current:
        if not record.available("Coverage"):
            why = "Coverage could not be retrieved"
            return Routing(
                every,
                True,
                None,
                f"{why}: this is a comparison of every policy, not the patient's payer's verdict",
                UNAVAILABLE,
                None,
                tuple(notes),
            )
        return Routing(
            every,
            True,
            None,
            f"no Coverage in force on {dos.isoformat()}: this is a comparison of every policy, not the patient's payer's verdict",
            NO_COVERAGE,
            None,
            tuple(notes),
        )
    ranked = sorted(enumerate(current), key=lambda ic: (_order(ic[1]), ic[0]))
    primary = ranked[0][1]
    if len(ranked) > 1 and _order(ranked[1][1]) == _order(primary):
        notes.append(
            f"Several Coverages are in force and their `order` does not say which is primary; "
            f"{resource_ref(primary)} was taken as primary."
        )
    for _, other in ranked[1:]:
        notes.append(f"Also in force: {_label(other)}; its requirements are not shown here.")
    ref, payer = resource_ref(primary), payer_name(primary)
    strings = _payer_strings(primary)
    matched = [r for r in routes if r.policy in all_policy_ids and any(r.names(s) for s in strings)]
    applied: list[str] = []
    excluded: list[str] = []
    for r in matched:
        hit = next(((ex, mark) for ex in r.not_for if (mark := excluded_by(primary, ex))), None)
        if hit is None:
            applied.append(r.policy)
        else:
            ex, mark = hit
            excluded.append(
                f"{names.get(r.policy, r.policy)} was not applied: {ref} is for {ex.members} ({mark}), "
                f"and the policy says \u201c{ex.source}\u201d"
            )
    if applied:
        return Routing(
            tuple(dict.fromkeys(applied)),
            False,
            ref,
            f"payer from {ref} ({payer or 'payer not named'})",
            None,
            payer,
            tuple(notes),
        )
    if excluded:
        note = (
            f"the payer's policy does not apply to this member ({ref}): this is a comparison of every policy, "
            "not the patient's payer's verdict"
        )
        return Routing(every, True, ref, note, EXCLUDED, payer, tuple(notes), " ".join(excluded))
    note = (
        f"no encoded policy is the payer's on {ref} ({payer or 'payer not named'}): this is a comparison of every "
        "policy, not the patient's payer's verdict"
    )
    return Routing(every, True, ref, note, UNMATCHED, payer, tuple(notes))
