"""Every value set of mappings/*.yaml by name, and which sets a coding is in, remembered.

Mappings are data so a site can add its local codes without touching Python; their
shape is mappings_schema.py, one set's matching rules value_sets.py, drugs drug_table.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from . import mappings_schema as schema
from .drug_table import DrugTable
from .mappings_schema import MAPPINGS_DIR, CodeList, MappingFileError
from .value_sets import ValueSet, norm_code, value_set

MEMO_LIMIT = 50_000  # distinct (system, code) pairs remembered; then the memo starts over
_EMPTY: frozenset[str] = frozenset()


class Terminology:
    """Maps system URIs to aliases and holds every named value set."""

    def __init__(self, directory: Path = MAPPINGS_DIR):
        self.directory = directory
        systems = schema.load("systems.yaml", schema.Systems, directory).root
        self.alias_by_uri: dict[str, str] = {}
        for alias, uris in systems.items():
            for uri in uris:
                self.alias_by_uri[uri.rstrip("/")] = alias
        self._aliases = frozenset(self.alias_by_uri.values())
        self.value_sets: dict[str, ValueSet] = {}
        self.devices = schema.load("devices.yaml", schema.Devices, directory)
        self.value_sets["implanted-pump"] = self._value_set(
            "devices.yaml", "implanted-pump", self.devices.implanted_pump
        )
        conditions = schema.load("conditions.yaml", schema.Conditions, directory)
        observations = schema.load("observations.yaml", schema.ValueSets, directory).root
        procedures = schema.load("procedures.yaml", schema.ValueSets, directory).root
        for name, lists in (
            ("conditions.yaml", conditions.value_sets),
            ("observations.yaml", observations),
            ("procedures.yaml", procedures),
            (
                "evaluators.yaml",
                schema.load("evaluators.yaml", schema.ValueSets, directory).root,
            ),  # who may evaluate
        ):
            for vs_name, body in lists.items():
                self.value_sets[vs_name] = self._value_set(name, vs_name, body)
        # Observation codes are exact, so one dict answers "which sets is this code in".
        self._observation_index: dict[tuple[str, str], set[str]] = {}
        for vs_name in observations:
            vs = self.value_sets[vs_name]
            for alias, codes in vs.exact.items():
                for code in codes:
                    key = (alias, code)
                    if vs_name == "flags":
                        self._observation_index.setdefault(key, set()).add(f"flag:{code.lower()}")
                    else:
                        self._observation_index.setdefault(key, set()).add(vs_name)
        self.indication_combinations: dict[str, list[list[str]]] = self._combinations(conditions)
        self.therapies = schema.load("therapies.yaml", schema.Therapies, directory)
        for kind, body in self.therapies.procedure_kinds.items():
            self.value_sets[f"therapy:{kind}"] = self._value_set("therapies.yaml", kind, body)
        self.therapy_outcome_failure = self._value_set(
            "therapies.yaml", "failure_outcomes", self.therapies.failure_outcomes
        )
        self.therapy_outcome_contraindication = self._value_set(
            "therapies.yaml", "contraindication_outcomes", self.therapies.contraindication_outcomes
        )
        for name, body in self.therapies.routes.items():
            self.value_sets[f"route:{name}"] = self._value_set("therapies.yaml", f"routes.{name}", body)
        self.therapy_outcome_intolerance = self._value_set(
            "therapies.yaml", "intolerance_outcomes", self.therapies.intolerance_outcomes
        )
        self.drugs = DrugTable(schema.load("drugs.yaml", schema.Drugs, directory), self)
        # (system, code) as sent → names of the value sets holding it. A chart repeats a
        # few dozen codings thousands of times, so each is tested against every set once.
        self._sets_of: dict[tuple[str, str], frozenset[str]] = {}
        self._observation_sets_of: dict[tuple[str, str], frozenset[str]] = {}
        self._observation_sets_of_pairs: dict[Any, frozenset[str]] = {}

    def _combinations(self, conditions: schema.Conditions) -> dict[str, list[list[str]]]:
        for indication, groups in conditions.indication_combinations.items():
            for group in groups:
                for vs in group:
                    if vs not in self.value_sets:
                        raise MappingFileError(
                            f"conditions.yaml: indication_combinations.{indication}: unknown value set {vs!r}"
                        )
        return {str(indication): groups for indication, groups in conditions.indication_combinations.items()}

    def _value_set(self, file: str, name: str, body: CodeList) -> ValueSet:
        return value_set(file, name, body, self._aliases)

    def alias(self, system: str | None) -> str | None:
        return self.alias_by_uri.get((system or "").rstrip("/"))

    def codings(self, concept: Any) -> Iterable[tuple[str | None, str | None]]:
        """(alias, code) of every coding in a CodeableConcept-like dict (or a list of them)."""
        if isinstance(concept, list):
            for c in concept:
                yield from self.codings(c)
            return
        if not isinstance(concept, dict):
            return
        codings = concept.get("coding")
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict):
                system = coding.get("system")
                yield self.alias(system if isinstance(system, str) else None), coding.get("code")

    def observation_sets_of(self, concept: Any) -> frozenset[str]:
        """Names of the observation value sets (and `flag:<code>`) a code belongs to.

        Called for every Observation of the chart, so a coding seen before costs
        one dict lookup; anything that is not a string system and code matches nothing.
        """
        if not isinstance(concept, dict):
            return (
                frozenset().union(*(self.observation_sets_of(c) for c in concept))
                if isinstance(concept, list)
                else _EMPTY
            )
        codings = concept.get("coding")
        if not isinstance(codings, list):
            return _EMPTY
        return self.observation_sets_of_codings(
            (c.get("system"), c.get("code")) for c in codings if isinstance(c, dict)
        )

    def observation_sets_of_pairs(self, pairs: tuple[tuple[Any, Any], ...]) -> frozenset[str]:
        """The same for a deferred Observation's codings (deferred.py), remembered by the whole
        tuple: a chart's vital signs repeat a handful of codes hundreds of times."""
        try:
            hit = self._observation_sets_of_pairs.get(pairs)
        except TypeError:  # a code that is not hashable (not a string): matches nothing
            return self.observation_sets_of_codings(pairs)
        if hit is None:
            hit = self.observation_sets_of_codings(pairs)
            _remember(self._observation_sets_of_pairs, pairs, hit)
        return hit

    def observation_sets_of_codings(self, codings: Iterable[tuple[Any, Any]]) -> frozenset[str]:
        """The same for (system, code) pairs, as sent (anything but a string system and a
        non-empty string code matches nothing)."""
        found = _EMPTY
        memo = self._observation_sets_of
        for system, code in codings:
            if not (isinstance(system, str) and isinstance(code, str) and code):
                continue
            hit = memo.get((system, code))
            if hit is None:
                alias = self.alias(system)
                hit = (
                    frozenset(self._observation_index.get((alias, norm_code(code)), ())) if alias else _EMPTY
                )
                _remember(memo, (system, code), hit)
            if hit:
                found = found | hit if found else hit
        return found

    def sets_of(self, system: str, code: str) -> frozenset[str]:
        """Every value set holding this coding, computed once per distinct (system, code)."""
        key = (system, code)
        hit = self._sets_of.get(key)
        if hit is None:
            alias = self.alias(system)
            hit = (
                frozenset(n for n, vs in self.value_sets.items() if vs.has(alias, code)) if alias else _EMPTY
            )
            _remember(self._sets_of, key, hit)
        return hit

    def in_set(self, concept: Any, value_set: str) -> bool:
        """Whether a coding of the concept (or of a list of them) is in the value set. Called
        for most resources a fact reads: one memo lookup per coding, no list built (a concept's
        one coding's sets are the memo's own frozenset)."""
        if value_set not in self.value_sets:
            raise KeyError(value_set)
        return value_set in self.sets_of_concept(concept)

    def sets_of_concept(self, concept: Any) -> frozenset[str]:
        """Every value set holding a coding of the concept (or of a list of them): `name in
        sets_of_concept(c)` is `in_set(c, name)`, for asking about many sets at once."""
        if isinstance(concept, list):
            return frozenset().union(*(self.sets_of_concept(c) for c in concept))
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(codings, list):
            return _EMPTY
        found = _EMPTY
        memo = self._sets_of
        for c in codings:
            if not isinstance(c, dict):
                continue
            system, code = c.get("system"), c.get("code")
            if isinstance(system, str) and isinstance(code, str) and code:
                hit = memo.get((system, code))
                if hit is None:
                    hit = self.sets_of(system, code)
                if hit:
                    found = found | hit if found else hit
        return found

    def idds_code(self, concept: Any) -> str | None:
        for alias, code in self.codings(concept):
            if alias == "idds" and code:
                return code
        return None

    @cached_property
    def _kind_by_drug_class(self) -> dict[str, str]:
        return {cls: kind for kind, classes in self.therapies.medication_kinds.items() for cls in classes}

    def medication_kinds(self, ingredients: set[str]) -> set[str]:
        """Therapy kinds (systemic-opioid, oral-antispasmodic, …) the ingredients belong to."""
        by_class = self._kind_by_drug_class
        return {by_class[c] for i in ingredients for c in self.drugs.classes(i) if c in by_class}

    @cached_property
    def pump_text_patterns(self) -> tuple[str, ...]:
        return tuple(p.lower() for p in self.devices.implanted_pump_text.patterns)


def _remember(memo: dict[Any, frozenset[str]], key: Any, value: frozenset[str]) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
