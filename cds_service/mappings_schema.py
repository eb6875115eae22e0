"""Typed shape of the mappings/*.yaml files (their comments are the prose version).

Like the policy files (policy_model.py), a mapping file is validated once, when
the service starts: a file that does not parse or does not fit its model stops
start-up with the file and the field named (MappingFileError), instead of a
KeyError in the middle of a request. The code lists themselves stay data; only
their shape is fixed here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    model_validator,
)

from .vocabulary import Indication

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"


class MappingFileError(Exception):
    """A mapping file is unusable; the message names the file and the entry."""


def _code(value: Any) -> Any:
    """YAML reads an unquoted CPT or RxNorm code (62321) as a number; a code is a string."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Code = Annotated[str, BeforeValidator(_code)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeList(BaseModel):
    """A value set: code system alias → codes, and an optional description for the reader.

    The aliases are the entry's other keys (systems.yaml names them; Terminology checks
    each against it, a check across two files)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    description: str | None = None
    __pydantic_extra__: dict[str, list[Code]] = Field(init=False)

    @property
    def codes(self) -> dict[str, list[str]]:
        """Code system alias → its codes, in the file's order."""
        return dict(self.__pydantic_extra__ or {})


class ValueSets(RootModel[dict[str, CodeList]]):
    """observations.yaml, procedures.yaml: named value sets."""


class Conditions(BaseModel):
    """conditions.yaml: named value sets, and the sets a diagnosis is also documented by together."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # indication → lists of value sets, each list documenting it when a Condition of every set is active
    indication_combinations: dict[Indication, list[list[str]]] = Field(default_factory=dict)
    __pydantic_extra__: dict[str, CodeList] = Field(init=False)

    @property
    def value_sets(self) -> dict[str, CodeList]:
        return dict(self.__pydantic_extra__ or {})


class Systems(RootModel[dict[str, list[str]]]):
    """systems.yaml: code system alias → the URIs that mean it (the first is canonical)."""


class Patterns(Strict):
    patterns: list[str] = Field(min_length=1)


class Devices(Strict):
    """devices.yaml: the implanted pump as a code list, and as text when a Device is uncoded."""

    implanted_pump: CodeList = Field(alias="implanted-pump")
    implanted_pump_text: Patterns = Field(alias="implanted-pump-text")


class Therapies(Strict):
    """therapies.yaml: what counts as a course of each therapy class a policy may name."""

    procedure_kinds: dict[str, CodeList]
    medication_kinds: dict[str, list[str]]  # kind → drug classes (drugs.yaml)
    classes: dict[str, list[str]]  # class → kinds it is the union of
    routes: dict[str, CodeList]
    neuraxial_routes: list[str] = Field(default_factory=list)
    labels: dict[str, str]
    failure_outcomes: CodeList
    contraindication_outcomes: CodeList
    intolerance_outcomes: CodeList
    allergy_reasons: dict[str, list[str]]

    @model_validator(mode="after")
    def _consistent(self) -> Therapies:
        kinds = set(self.procedure_kinds) | set(self.medication_kinds)
        for cls, members in self.classes.items():
            unknown = sorted(set(members) - kinds)
            if unknown:
                raise ValueError(f"classes.{cls}: {unknown} are neither procedure_kinds nor medication_kinds")
        unlabelled = sorted(set(self.classes) - set(self.labels))
        if unlabelled:
            raise ValueError(f"labels: no clinician label for {unlabelled}")
        unrouted = sorted(set(self.neuraxial_routes) - set(self.routes))
        if unrouted:
            raise ValueError(f"neuraxial_routes: {unrouted} are not in routes")
        return self


class Ingredient(Strict):
    rxnorm: list[Code] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)


class Drugs(Strict):
    """drugs.yaml: ingredients by code and name, and what their classes mean to an order."""

    ingredients: dict[str, Ingredient]
    clinical_drugs: dict[Code, list[str]] = Field(default_factory=dict)
    trial_injectate_classes: list[str]
    epidural_steroid_classes: list[str] = Field(default_factory=list)
    indication_by_injectate: dict[str, list[Indication]]

    @model_validator(mode="after")
    def _known_ingredients(self) -> Drugs:
        for code, names in self.clinical_drugs.items():
            for name in names:
                if name not in self.ingredients:
                    raise ValueError(f"clinical_drugs.{code}: unknown ingredient {name!r}")
        return self


class CoverageType(Strict):
    systems: list[str] = Field(min_length=1)  # Coverage.type code system URIs
    code_prefixes: list[str] = Field(min_length=1)  # a code matches when it starts with one


class Exclusion(Strict):
    """Members a policy says it does not apply to (payers.yaml `not_for`)."""

    members: str = Field(min_length=1)  # who, in a clinician's words
    source: str = Field(min_length=1)  # the policy's own sentence, verbatim from `seed`
    seed: str = Field(min_length=1)
    type: CoverageType | None = None
    plan_contains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _marks_someone(self) -> Exclusion:
        if self.type is None and not self.plan_contains:
            raise ValueError("marks no member: give `type` or `plan_contains`")
        return self

    @property
    def type_systems(self) -> frozenset[str]:
        return frozenset(self.type.systems) if self.type else frozenset()

    @property
    def type_prefixes(self) -> tuple[str, ...]:
        return tuple(self.type.code_prefixes) if self.type else ()

    @property
    def plan_words(self) -> tuple[str, ...]:
        return tuple(p.lower() for p in self.plan_contains)


class Route(Strict):
    """A Coverage whose payer names contain one of `match` (case-insensitive) is routed to `policy`."""

    policy: str
    match: list[str] = Field(min_length=1)
    not_for: list[Exclusion] = Field(default_factory=list)

    @property
    def match_words(self) -> tuple[str, ...]:
        return tuple(m.lower() for m in self.match)

    def names(self, text: str) -> bool:
        """Whether a payer name (lower-cased) contains one of `match` as whole words: "Cigna
        Healthcare of Texas" is Cigna's, "Cignature Health" is not (a payer routed to another
        payer's policy would be told that policy's requirements as its own)."""
        return any(re.search(rf"(?<![a-z0-9]){re.escape(m)}(?![a-z0-9])", text) for m in self.match_words)


class Payers(Strict):
    """payers.yaml: how a Coverage is recognised as a payer's (routing is payers.py)."""

    routes: list[Route]


class Concept(Strict):
    display: str
    definition: str


class CodeSystemFile(Strict):
    """codesystem-idds.yaml: the service's own concepts, served as a FHIR CodeSystem."""

    url: str
    name: str
    title: str
    concepts: dict[str, Concept]


M = TypeVar("M", bound=BaseModel)


def read_yaml(name: str, directory: Path = MAPPINGS_DIR) -> Any:
    """A mapping file as YAML data; unreadable or not YAML is a MappingFileError naming it."""
    try:
        return yaml.safe_load((directory / name).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingFileError(f"{name}: {exc}") from exc


def load(name: str, model: type[M], directory: Path = MAPPINGS_DIR) -> M:
    """Read and validate one mapping file; the error names the file and the field."""
    try:
        return model.model_validate(read_yaml(name, directory))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise MappingFileError(f"{name}: {where}: {first['msg']}") from exc


@lru_cache(maxsize=8)
def payers(directory: Path = MAPPINGS_DIR) -> Payers:
    """payers.yaml, read once per directory."""
    return load("payers.yaml", Payers, directory)


@lru_cache(maxsize=8)
def codesystem(directory: Path = MAPPINGS_DIR) -> CodeSystemFile:
    """codesystem-idds.yaml, read once per directory."""
    return load("codesystem-idds.yaml", CodeSystemFile, directory)
