"""What a person can attest, read from mappings/questionnaire.yaml and checked against the
fact catalogue, the idds CodeSystem and the observation code lists at load."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import mappings_schema as schema
from ..facts.catalogue import FACTS, FLAG_CODES
from ..mappings_schema import MAPPINGS_DIR, MappingFileError

IDDS = schema.codesystem().url  # the service's own CodeSystem (codesystem-idds.yaml)
UCUM = "http://unitsofmeasure.org"
TYPES = ("boolean", "choice", "integer", "decimal", "quantity", "reference")


@dataclass(frozen=True)
class Input:
    code: str  # the idds code (for a child: its key)
    type: str
    question: str
    answers: tuple[str, ...] = ()
    unit: str | None = None
    units: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    resource: str | None = None
    as_: str | None = None  # children: component | an Observation element
    children: tuple[Input, ...] = ()

    def child(self, key: str) -> Input | None:
        return next((c for c in self.children if c.code == key), None)


@dataclass(frozen=True)
class Spec:
    facts: dict[str, tuple[str, ...]]
    inputs: dict[str, Input]
    concepts: dict[str, dict[str, str]] = field(default_factory=dict)  # idds code → display, definition

    def codes_for(self, fact: str, params: dict[str, Any]) -> tuple[str, ...]:
        """The idds codes a leaf of this fact reads that a person can attest (none: not attestable)."""
        out = []
        for pattern in self.facts.get(fact, ()):
            if pattern.startswith("{") and pattern.endswith("}"):
                value = params.get(pattern[1:-1])
                if not isinstance(value, str):
                    continue
                pattern = value
            if pattern in self.inputs:
                out.append(pattern)
        return tuple(out)

    def display(self, code: str) -> str:
        return self.concepts.get(code, {}).get("display", code)


def _input(where: str, code: str, body: Any, concepts: dict[str, Any], child: bool = False) -> Input:
    if (
        not isinstance(body, dict)
        or body.get("type") not in TYPES
        or not isinstance(body.get("question"), str)
    ):
        raise MappingFileError(f"{where}: {code} needs a type in {TYPES} and a question")
    answers = tuple(body.get("answers") or ())
    for a in answers:
        if a not in concepts:
            raise MappingFileError(f"{where}: answer {a!r} of {code} is not in codesystem-idds.yaml")
    if body["type"] == "choice" and not answers:
        raise MappingFileError(f"{where}: choice {code} lists no answers")
    if child and body.get("as") is None:
        raise MappingFileError(f"{where}: child {code} needs `as` (component or an Observation element)")
    children = tuple(
        _input(where, key, sub, concepts, child=True) for key, sub in (body.get("children") or {}).items()
    )
    return Input(
        code=code,
        type=body["type"],
        question=body["question"],
        answers=answers,
        unit=body.get("unit"),
        units=tuple(body.get("units") or ()),
        min=body.get("min"),
        max=body.get("max"),
        resource=body.get("resource"),
        as_=body.get("as"),
        children=children,
    )


def load_spec(directory: Path = MAPPINGS_DIR) -> Spec:
    where = "mappings/questionnaire.yaml"
    raw = schema.read_yaml("questionnaire.yaml", directory)
    if not isinstance(raw, dict):
        raise MappingFileError(f"{where}: expected a mapping at the top level")
    concepts = {
        code: c.model_dump()
        for code, c in schema.load("codesystem-idds.yaml", schema.CodeSystemFile, directory).concepts.items()
    }
    observed: set[str] = set()
    for body in (schema.read_yaml("observations.yaml", directory) or {}).values():
        observed.update((body or {}).get("idds") or ())
    facts = {}
    for fact, codes in (raw.get("facts") or {}).items():
        if fact not in FACTS:
            raise MappingFileError(f"{where}: {fact!r} is not a catalogue fact")
        facts[fact] = tuple(codes)
    inputs = {}
    for code, body in (raw.get("inputs") or {}).items():
        if code not in concepts:
            raise MappingFileError(f"{where}: {code!r} is not in codesystem-idds.yaml")
        if code not in observed:
            raise MappingFileError(
                f"{where}: {code!r} is not an observation code the service reads (observations.yaml)"
            )
        inputs[code] = _input(where, code, body, concepts)
    missing = [c for c in FLAG_CODES if c not in inputs]
    if missing:
        raise MappingFileError(f"{where}: flags without a question: {missing}")
    return Spec(facts, inputs, concepts)


@lru_cache(maxsize=4)
def default_spec() -> Spec:
    return load_spec()
