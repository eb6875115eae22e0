"""The patient's chart as the assessment sees it: raw resources, what could be
retrieved, and what was malformed.

Resources stay plain dicts (an Observation from prefetch is held as its bytes
until something reads it: deferred.py); a resource is validated against its
fhir.resources R4B model only when an extractor is about to rely on it
(`usable`). That keeps a 3,000-resource chart cheap while guaranteeing that
nothing decides a criterion without being valid FHIR, and a malformed resource
is reported on the card instead of being dropped unnoticed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
import orjson
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from .deferred import Deferred
from .hook_body import Unreadable

# Resource types the assessment reads, and the prefetch key that carries each.
CATEGORIES: dict[str, str] = {
    "Patient": "patient",
    "Coverage": "coverage",
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationStatement": "medications",
    "Procedure": "procedures",
    "Device": "devices",
    "AllergyIntolerance": "allergies",
    "QuestionnaireResponse": "questionnaireResponses",
}
ENTERED_IN_ERROR = "entered-in-error"


_MODELS: dict[str, Any] = {}


def _model(resource_type: str) -> Any:
    """The R4B model class; fhir.resources' own lookup costs microseconds per call, a dict does not."""
    model = _MODELS.get(resource_type)
    if model is None:
        model = _MODELS[resource_type] = get_fhir_model_class(resource_type)
    return model


# fhir.resources' verdict (valid?, the note when not) by the resource's content: a content
# digest, so two resources share a verdict only when every field is the same.
_VERDICTS: dict[bytes, tuple[bool, str | None]] = {}
VERDICT_MEMO_LIMIT = 50_000  # distinct resources remembered; the memo starts afresh past it


def _content_key(resource: dict[str, Any]) -> bytes | None:
    try:
        canonical = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON content (built in code, not received): validated every time
        return None
    return hashlib.blake2b(canonical, digest_size=20).digest()


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
    return f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")


def resource_ref(resource: dict[str, Any]) -> str:
    cited = getattr(resource, "cited_as", None)  # an answer read as an Observation cites its response item
    if isinstance(cited, str) and cited:
        return cited
    return f"{resource.get('resourceType', 'Resource')}/{resource.get('id', '?')}"


@dataclass
class PatientRecord:
    patient_id: str
    # Each type's resources in the record's order; a Deferred is built in place when read.
    by_type: dict[str, list[dict[str, Any] | Deferred]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # resourceType → why
    issues: list[str] = field(default_factory=list)
    _validity: dict[int, bool] = field(default_factory=dict, repr=False)
    # Indexes of the chart that do not depend on the date of service (observation buckets,
    # therapy courses, active conditions): built once per request and shared by every order,
    # policy and "as of the trial" context (FactContext.memo), so assessing every policy
    # walks the chart once, as one policy does.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)
    _deferred: set[str] = field(default_factory=set, repr=False)  # types still holding a Deferred
    # Per type: (the list indexed, its length then, id → first position, id → later positions):
    # `with_id` answers from it.
    _ids: dict[str, tuple[list[Any], int, dict[str, int], dict[str, list[int]]]] = field(
        default_factory=dict, repr=False
    )

    def add(self, resources: Iterable[Any], source: str) -> None:
        """Index resources by type; anything that is not a resource object is reported."""
        kind, into = "", None  # a Bundle's entries are mostly of one type: its list looked up once
        for res in resources:
            if type(res) is Deferred:
                if res.resource_type != kind or into is None:
                    kind, into = res.resource_type, self.by_type.setdefault(res.resource_type, [])
                    self._deferred.add(kind)
                into.append(res)
                continue
            if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
                self.issues.append(f"An entry in {source} was not a FHIR resource and was ignored.")
                continue
            self.by_type.setdefault(res["resourceType"], []).append(res)

    def mark_unavailable(self, resource_type: str, why: str) -> None:
        self.unavailable[resource_type] = why

    def available(self, resource_type: str) -> bool:
        return resource_type not in self.unavailable

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        """Every resource of the type, built: whatever was deferred is built now, in place."""
        items = self.by_type.get(resource_type)
        if items is None:
            return []
        if resource_type in self._deferred:
            for i in range(len(items)):
                self.build(resource_type, i)
            self._deferred.discard(resource_type)
        return cast("list[dict[str, Any]]", items)

    def held(self, resource_type: str) -> list[dict[str, Any] | Deferred]:
        """The type's resources as held (built or Deferred), for a scan by code or id that
        builds only what it keeps (`build`)."""
        return self.by_type.get(resource_type, [])

    def build(self, resource_type: str, position: int) -> dict[str, Any]:
        """The resource at that position of `held(resource_type)`, built in place if deferred
        (so every later reader gets the same dict, and its validation verdict)."""
        items = self.by_type[resource_type]
        item = items[position]
        if isinstance(item, Deferred):
            item = items[position] = self._built(item)
        return item

    def _built(self, item: Deferred) -> dict[str, Any]:
        """The deferred resource built; bytes orjson refuses (the scan let them through: a
        number out of range) are reported and stand as a stub no criterion can use."""
        try:
            built = item.build()
        except Unreadable as exc:
            built = None
            why = str(exc)
        else:
            why = "not a JSON object"
        if isinstance(built, dict):
            return built
        stub: dict[str, Any] = {"resourceType": item.resource_type}
        if item.id is not msgspec.UNSET:
            stub["id"] = item.id
        self._validity[id(stub)] = False
        self.issues.append(f"{item.ref} could not be read ({why[:120]}) and was ignored.")
        return stub

    def with_id(self, resource_type: str, resource_id: Any) -> list[dict[str, Any]]:
        """The type's resources with that id, in the record's order, building only those.

        Every evidence reference of every assessment's packet, and every performer, is looked
        up here: an index of the type's ids (rebuilt when its list changes) keeps that one
        dict lookup each, not a walk of thousands of Observations."""
        items = self.by_type.get(resource_type)
        if not items:
            return []
        indexed = self._ids.get(resource_type)
        if indexed is None or indexed[0] is not items or indexed[1] != len(items):
            first: dict[str, int] = {}
            more: dict[str, list[int]] = {}  # ids sent more than once: rare, kept apart
            for i, item in enumerate(items):
                rid = item.id if isinstance(item, Deferred) else item.get("id")
                if isinstance(rid, str):  # an id that is not a string is no reference's
                    if rid in first:
                        more.setdefault(rid, []).append(i)
                    else:
                        first[rid] = i
            indexed = self._ids[resource_type] = (items, len(items), first, more)
        if not isinstance(resource_id, str) or resource_id not in indexed[2]:
            return []
        positions = [indexed[2][resource_id], *indexed[3].get(resource_id, ())]
        return [self.build(resource_type, i) for i in positions]

    @property
    def patient(self) -> dict[str, Any] | None:
        for p in self.resources("Patient"):
            if self.usable(p):
                return p
        return None

    def usable(self, resource: dict[str, Any]) -> bool:
        """Validate once; report and refuse a malformed or entered-in-error resource."""
        key = id(resource)
        known = self._validity.get(key)
        if known is not None:
            return known
        ok = self._validate(resource)
        if ok and resource.get("status") == ENTERED_IN_ERROR:
            ok = False
        self._validity[key] = ok
        return ok

    def _validate(self, resource: dict[str, Any]) -> bool:
        """fhir.resources' verdict on this content: computed once per distinct content in the
        process (the same chart comes with every order-select of a visit), its note repeated."""
        key = _content_key(resource)
        known = _VERDICTS.get(key) if key is not None else None
        if known is None:
            before = len(self.issues)
            ok = self._validate_now(resource)
            known = (ok, self.issues[before] if len(self.issues) > before else None)
            if key is not None:
                if len(_VERDICTS) >= VERDICT_MEMO_LIMIT:
                    _VERDICTS.clear()
                _VERDICTS[key] = known
            return ok
        ok, note = known
        if note is not None:
            self.issues.append(note)
        return ok

    def _validate_now(self, resource: dict[str, Any]) -> bool:
        rtype = resource.get("resourceType")
        try:
            if not isinstance(rtype, str):
                raise KeyError(rtype)
            model = _model(rtype)
        except (KeyError, ValueError):
            self.issues.append(f"{resource_ref(resource)} has an unknown resourceType and was ignored.")
            return False
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            self.issues.append(
                f"{resource_ref(resource)} was not valid FHIR and was ignored: {describe_validation_error(exc)}"
            )
            return False
        except Exception as exc:  # fhir.resources raises plain errors for some shapes
            self.issues.append(f"{resource_ref(resource)} was not valid FHIR and was ignored: {exc}")
            return False
        return True
