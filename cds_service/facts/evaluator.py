"""Who performed the mental / behavioural health evaluation, where the policy names who must.

Molina asks for the evaluation "by a license mental health professional"; Cigna for "an
attestation from a primary care physician, neurologist, physiatrist, psychiatrist,
psychologist, or other licensed behavioral and/or medical health care provider". A
favourable outcome proves such a criterion only when the record proves its evaluator: the
evaluation's `performer` resolves (a contained resource, or a resource the EHR sent with the
chart) to a PractitionerRole whose specialty or role code, or a Practitioner whose
qualification in force on the day, is in the policy's value set (mappings/evaluators.yaml,
named by the leaf's `evaluators` param). A performer that is absent, cannot be resolved, is
not a practitioner, or is of another profession leaves the criterion unknown
(documentation-incomplete), never met; the note says what to record. Unfavourable outcomes
are read as clinical.psych_evaluation reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..fhirtime import last_day, parse_date
from ..mappings_schema import read_yaml
from ..record import resource_ref
from . import clinical
from .base import Fact, FactContext, refs

EVALUATION_SET = "psych-evaluation"
OUTCOMES = ("favorable", "unfavorable")
PRACTITIONER_TYPES = ("PractitionerRole", "Practitioner")
NOT_CLINICIAN = {
    "Patient": "was recorded by the patient, not by a clinician",
    "RelatedPerson": "was recorded by a relative or carer, not by a clinician",
    "Organization": "names an organisation, not the professional who evaluated",
    "CareTeam": "names a care team, not the professional who evaluated",
    "Device": "names a device, not the professional who evaluated",
}


@dataclass(frozen=True)
class Evaluator:
    """What the record proves about one evaluation's performer."""

    qualified: bool
    says: str  # clinician's words, e.g. "by a clinician whose specialty is Orthopaedic Surgery"
    evidence: tuple[str, ...] = ()


def psych_evaluation(ctx: FactContext, evaluators: str | None = None) -> Fact:
    """The evaluation outcome; with `evaluators`, a favourable one only from a proven evaluator.

    The latest evaluation by a proven evaluator decides (favourable or unfavourable). A latest
    unfavourable outcome by anyone stays unfavourable (clinical.psych_evaluation), so the
    evaluator check never turns a contradiction into a met."""
    base = clinical.psych_evaluation(ctx)
    if evaluators is None or base.value != "favorable":
        return base
    mental = refs(ctx.conditions("mental-health"))
    extra = (
        f"; {len(mental)} mental-health condition{'s' if len(mental) > 1 else ''} on the problem list to weigh"
        if mental
        else ""
    )
    wanted = profession_label(ctx, evaluators)
    unproven: tuple[datetime, dict[str, Any], Evaluator] | None = None
    for when, obs in reversed(ctx.candidates(EVALUATION_SET)):
        if when > ctx.cutoff or not ctx.record.usable(obs):
            continue
        code = ctx.terminology.idds_code(obs.get("valueCodeableConcept"))
        if code not in OUTCOMES:
            continue
        who = evaluator(ctx, obs, when, evaluators)
        if who.qualified:
            return Fact(
                code,
                (resource_ref(obs), *who.evidence, *mental),
                f"evaluation {code} on {when.date().isoformat()}, {who.says}{extra}",
            )
        if unproven is None:
            unproven = (when, obs, who)
    if unproven is None:  # base found a favourable one, so this cannot happen; stay unknown
        return Fact.unknown(f"no evaluation by {wanted} is documented{extra}", mental)
    when, obs, who = unproven
    return Fact.unknown(
        f"the favourable evaluation of {when.date().isoformat()} {who.says}; the policy asks for an "
        f"evaluation by {wanted}: document one, naming the evaluator's role and specialty{extra}",
        (resource_ref(obs), *who.evidence, *mental),
    )


def profession_label(ctx: FactContext, value_set: str) -> str:
    """How the card names the professions of a value set (its `description`)."""
    return _labels(ctx.terminology.directory).get(value_set, value_set.replace("-", " "))


@lru_cache(maxsize=4)
def _labels(directory: Path) -> dict[str, str]:
    """The value sets' descriptions, read once per mappings directory."""
    raw = read_yaml("evaluators.yaml", directory)
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for name, body in raw.items():
            if isinstance(body, dict) and isinstance(body.get("description"), str):
                out[str(name)] = body["description"]
    return out


def evaluator(ctx: FactContext, obs: dict[str, Any], when: datetime, value_set: str) -> Evaluator:
    """The best the record proves about the evaluation's performers (any one proven suffices)."""
    performers = obs.get("performer")
    return proven(ctx, obs, performers if isinstance(performers, list) else [], when, value_set)


def proven(
    ctx: FactContext, container: dict[str, Any], references: list[Any], when: datetime, value_set: str
) -> Evaluator:
    """The best the record proves about these references (of `container`, which may contain
    them) being a professional of the value set on the day: any one proven suffices."""
    if not references:
        return Evaluator(False, "names no evaluator")
    found: list[Evaluator] = []
    for ref in references:
        who = _one(ctx, container, ref, when, value_set)
        if who.qualified:
            return who
        found.append(who)
    return found[0]


def _one(ctx: FactContext, obs: dict[str, Any], ref: Any, when: datetime, value_set: str) -> Evaluator:
    target = ref.get("reference") if isinstance(ref, dict) else None
    shown = ref.get("display") if isinstance(ref, dict) and isinstance(ref.get("display"), str) else None
    kind = _ref_type(ref)
    if kind in NOT_CLINICIAN:
        return Evaluator(False, NOT_CLINICIAN[kind])
    resource = _resolve(ctx, obs, target) if isinstance(target, str) else None
    if resource is None:
        who = f"names {shown} as the evaluator" if shown else "names an evaluator"
        return Evaluator(False, f"{who}, but the chart does not include their role or specialty")
    rtype = resource.get("resourceType")
    if rtype in NOT_CLINICIAN:
        return Evaluator(False, NOT_CLINICIAN[str(rtype)])
    if rtype not in PRACTITIONER_TYPES:
        return Evaluator(False, "names an evaluator who is not a practitioner")
    cited = () if isinstance(target, str) and target.startswith("#") else (resource_ref(resource),)
    codes, why_not = _professions(ctx, obs, resource, when)
    hit = next((c for c in codes if ctx.terminology.in_set(c, value_set)), None)
    if hit is not None:
        return Evaluator(True, f"by a clinician recorded as {_display(hit)}", cited)
    if why_not:
        return Evaluator(False, why_not, cited)
    if codes:
        return Evaluator(False, f"was by a clinician recorded as {_display(codes[0])}", cited)
    return Evaluator(False, "names an evaluator whose role or specialty is not recorded", cited)


def _ref_type(ref: Any) -> str | None:
    if not isinstance(ref, dict):
        return None
    if isinstance(ref.get("type"), str):
        return str(ref["type"])
    target = ref.get("reference")
    if isinstance(target, str) and "/" in target and not target.startswith("#"):
        parts = _path(target)
        return parts[-2] if len(parts) >= 2 else None
    return None


def _path(target: str) -> list[str]:
    """A relative or absolute reference's segments, any `_history/<version>` tail dropped."""
    parts = [p for p in target.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts


def _resolve(ctx: FactContext, obs: dict[str, Any], target: str) -> dict[str, Any] | None:
    """A contained resource (`#id`), or a resource of that type and id sent with the chart."""
    if target.startswith("#"):
        for res in obs.get("contained") or ():
            if isinstance(res, dict) and res.get("id") == target[1:]:
                return res
        return None
    parts = _path(target)
    if len(parts) < 2:
        return None
    rtype, rid = parts[-2], parts[-1]
    for res in ctx.record.with_id(rtype, rid):
        if ctx.record.usable(res):
            return res
    return None


def _in_force(period: Any, when: datetime) -> bool:
    """A period covers the day (an open end runs on; an end date covers that whole day)."""
    if not isinstance(period, dict):
        return True
    start, end = parse_date(period.get("start")), last_day(period.get("end"))
    day = when.date()
    return (start is None or start <= day) and (end is None or day <= end)


def _professions(
    ctx: FactContext, obs: dict[str, Any], resource: dict[str, Any], when: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """The coded professions the performer holds on the day, and why none counts (or None)."""
    codes: list[dict[str, Any]] = []
    if resource.get("resourceType") == "PractitionerRole":
        if resource.get("active") is False or not _in_force(resource.get("period"), when):
            return [], "names a practitioner role that was not in force on the day of the evaluation"
        for key in ("specialty", "code"):
            codes += [c for c in resource.get(key) or () if isinstance(c, dict)]
        person = resource.get("practitioner")
        target = person.get("reference") if isinstance(person, dict) else None
        practitioner = _resolve(ctx, obs, target) if isinstance(target, str) else None
        if practitioner is not None and practitioner.get("resourceType") == "Practitioner":
            codes += _qualifications(practitioner, when)
        return codes, None
    return _qualifications(resource, when), None


def _qualifications(practitioner: dict[str, Any], when: datetime) -> list[dict[str, Any]]:
    """A Practitioner's qualifications in force on the day (a lapsed licence proves nothing)."""
    out: list[dict[str, Any]] = []
    for q in practitioner.get("qualification") or ():
        if isinstance(q, dict) and isinstance(q.get("code"), dict) and _in_force(q.get("period"), when):
            out.append(q["code"])
    return out


def _display(concept: dict[str, Any]) -> str:
    if isinstance(concept.get("text"), str) and concept["text"]:
        return str(concept["text"])
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("display"), str) and coding["display"]:
            return str(coding["display"])
    return "a coded profession"
