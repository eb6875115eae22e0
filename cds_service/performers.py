"""The practitioners a chart's evaluations name, fetched when the chart does not carry them.

Molina and Cigna name who must evaluate (facts/evaluator.py), NIA who must prescribe a home
exercise program (facts/hep.py): those criteria are met only when the performer's
PractitionerRole / Practitioner is in the record. EHRs usually reference the performer rather
than contain it, and a patient search never returns it, so after the chart is gathered the
PractitionerRoles and Practitioners that a psych-evaluation Observation, a home exercise
program Procedure or a documentation answer references, and that the chart lacks, are read
from the same allowed FHIR server (relative references with valid ids only, at most
MAX_READS, then the roles' practitioners). What cannot be read stays unresolved: the criterion
is then documentation-incomplete, never met.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import urls
from .deferred import Deferred
from .fhir_client import FhirFetcher
from .record import PatientRecord

IDDS = "http://idds-cds.org/fhir/CodeSystem/idds"
TYPES = ("PractitionerRole", "Practitioner")
MAX_READS = 20  # references read per request: a chart names a handful of evaluators
EVALUATION_CODES = frozenset({"psych-evaluation"})
PROGRAMME_CODES = frozenset({"home-exercise-program"})


def _coded(resource: dict[str, Any] | Deferred, codes: frozenset[str]) -> bool:
    """An idds-coded resource of one of the codes (a code that is not a string matches nothing)."""
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(resource, Deferred):  # its head keeps the codings (deferred.py)
        pairs = resource.codings
    else:
        concept = resource.get("code")
        codings = concept.get("coding") if isinstance(concept, dict) else None
        pairs = (
            (c.get("system"), c.get("code"))
            for c in (codings if isinstance(codings, list) else ())
            if isinstance(c, dict)
        )
    return any(system == IDDS and isinstance(code, str) and code in codes for system, code in pairs)


def _answer_references(items: Any) -> list[Any]:
    """valueReference answers of `<question>.performer` items, however deeply nested."""
    out: list[Any] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        given = item.get("answer")
        answers: list[Any] = given if isinstance(given, list) else []
        link = item.get("linkId")
        if isinstance(link, str) and link.endswith(".performer"):
            out += [a.get("valueReference") for a in answers if isinstance(a, dict)]
        out += _answer_references(item.get("item"))
        for a in answers:
            if isinstance(a, dict):
                out += _answer_references(a.get("item"))
    return out


def named(record: PatientRecord) -> list[Any]:
    """Every performer reference the evaluator and HEP facts may need to resolve."""
    refs: list[Any] = []
    for i, held in enumerate(record.held("Observation")):
        if _coded(held, EVALUATION_CODES):  # only an evaluation is built
            obs = record.build("Observation", i)
            if isinstance(obs.get("performer"), list):
                refs += obs["performer"]
    for proc in record.resources("Procedure"):
        if _coded(proc, PROGRAMME_CODES) and isinstance(proc.get("performer"), list):
            refs += [p.get("actor") for p in proc["performer"] if isinstance(p, dict)]
    for qr in record.resources("QuestionnaireResponse"):
        refs += _answer_references(qr.get("item"))
    return refs


def missing(record: PatientRecord, refs: list[Any]) -> list[str]:
    """Relative `PractitionerRole/<id>` / `Practitioner/<id>` references the chart lacks."""
    have = {f"{t}/{r.get('id')}" for t in TYPES for r in record.resources(t)}
    out: list[str] = []
    for ref in refs:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(target, str) or target.count("/") != 1:
            continue  # contained (#id), absolute (another server) or versioned: not read
        rtype, rid = target.split("/")
        if rtype in TYPES and urls.fhir_id_ok(rid) and target not in have and target not in out:
            out.append(target)
    return out[:MAX_READS]


async def fetch(fetcher: FhirFetcher, record: PatientRecord) -> None:
    """Read the missing performers, then the practitioners their roles name; what fails is
    simply not added (the facts say the evaluator could not be resolved)."""
    wanted = missing(record, named(record))
    for _ in range(2):  # the roles, then their practitioners
        if not wanted:
            return
        results = await fetcher.fetch_all({ref: ref for ref in wanted})
        found: list[dict[str, Any]] = []
        for ref, result in results.items():
            rtype, _, rid = ref.partition("/")
            found += [
                r
                for r in result.resources
                if isinstance(r, dict) and r.get("resourceType") == rtype and r.get("id") == rid
            ]
        record.add(found, "the FHIR server's practitioner reads")
        wanted = missing(record, [r.get("practitioner") for r in found if isinstance(r, dict)])
