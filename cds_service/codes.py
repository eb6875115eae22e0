"""Value sets from mappings/*.yaml, indexed once so a coding test is a set lookup.

Mappings are data so a site can add its local codes without touching Python.
Matching rules: ICD-10 by prefix (dots ignored, case-insensitive), ranges
"A-B" compare codes of the same width, everything else exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import mappings_schema as schema
from .mappings_schema import MAPPINGS_DIR, CodeList, MappingFileError

PREFIX_SYSTEMS = {"icd10"}
RANGE_SYSTEMS = {"icd10", "cpt", "hcpcs"}
MEMO_LIMIT = 50_000  # distinct (system, code) pairs remembered; then the memo starts over
_EMPTY: frozenset[str] = frozenset()


def _norm_code(code: str) -> str:
    return code.replace(".", "").strip().upper()


@dataclass
class ValueSet:
    name: str
    exact: dict[str, frozenset[str]] = field(default_factory=dict)  # alias → codes
    prefixes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def has(self, alias: str, code: str | None) -> bool:
        if not code:
            return False
        c = _norm_code(code)
        if c in self.exact.get(alias, ()):
            return True
        if any(c.startswith(p) for p in self.prefixes.get(alias, ())):
            return True
        return any(lo <= c[: len(lo)] <= hi for lo, hi in self.ranges.get(alias, ()))


class Terminology:
    """Maps system URIs to aliases and holds every named value set."""

    def __init__(self, directory: Path = MAPPINGS_DIR):
        self.directory = directory
        systems = schema.load("systems.yaml", schema.Systems, directory).root
        self.alias_by_uri: dict[str, str] = {}
        for alias, uris in systems.items():
            for uri in uris:
                self.alias_by_uri[uri.rstrip("/")] = alias
        self.value_sets: dict[str, ValueSet] = {}
        self.devices = schema.load("devices.yaml", schema.Devices, directory)
        self.value_sets["implanted-pump"] = self._value_set(
            "devices.yaml", "implanted-pump", self.devices.implanted_pump
        )
        conditions = self._code_lists("conditions.yaml", skip=("indication_combinations",))
        observations = self._code_lists("observations.yaml")
        for name, lists in (
            ("conditions.yaml", conditions),
            ("observations.yaml", observations),
            ("procedures.yaml", self._code_lists("procedures.yaml")),
            ("evaluators.yaml", self._code_lists("evaluators.yaml")),  # who may evaluate
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
        self.indication_combinations: dict[str, list[list[str]]] = self._combinations()
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
        self.drugs = _DrugTable(schema.load("drugs.yaml", schema.Drugs, directory), self)
        # (system, code) as sent → names of the value sets holding it. A chart repeats a
        # few dozen codings thousands of times, so each is tested against every set once.
        self._sets_of: dict[tuple[str, str], frozenset[str]] = {}
        self._observation_sets_of: dict[tuple[str, str], frozenset[str]] = {}

    def _code_lists(self, name: str, skip: tuple[str, ...] = ()) -> dict[str, CodeList]:
        """A file of named value sets: each entry a mapping of code system alias → codes."""
        raw = schema.read_yaml(name, self.directory)
        if not isinstance(raw, dict):
            raise MappingFileError(f"{name}: expected a mapping at the top level")
        out: dict[str, CodeList] = {}
        for vs_name, body in raw.items():
            if vs_name in skip:
                continue
            if not isinstance(body, dict):
                raise MappingFileError(f"{name}: {vs_name}: expected a mapping of code system alias to codes")
            out[str(vs_name)] = body
        return out

    def _combinations(self) -> dict[str, list[list[str]]]:
        raw = schema.read_yaml("conditions.yaml", self.directory).get("indication_combinations") or {}
        for indication, groups in raw.items():
            for group in groups:
                for vs in group:
                    if vs not in self.value_sets:
                        raise MappingFileError(
                            f"conditions.yaml: indication_combinations.{indication}: unknown value set {vs!r}"
                        )
        return dict(raw)

    def _value_set(self, file: str, name: str, body: Mapping[str, Any]) -> ValueSet:
        vs = ValueSet(name)
        known_aliases = set(self.alias_by_uri.values())
        for alias, codes in body.items():
            if alias == "description":
                continue
            if alias not in known_aliases:
                raise MappingFileError(f"{file}: {name}.{alias}: unknown code system alias")
            if not isinstance(codes, list):
                raise MappingFileError(f"{file}: {name}.{alias}: expected a list of codes")
            exact, prefixes, ranges = set(), [], []
            for raw in codes:
                code = str(raw)
                if "-" in code and alias in RANGE_SYSTEMS:
                    lo, _, hi = code.partition("-")
                    lo, hi = _norm_code(lo), _norm_code(hi)
                    if len(lo) != len(hi):
                        raise MappingFileError(f"{file}: {name}.{alias}: range {code!r} ends differ in width")
                    ranges.append((lo, hi))
                elif alias in PREFIX_SYSTEMS:
                    prefixes.append(_norm_code(code))
                else:
                    exact.add(_norm_code(code))
            vs.exact[alias] = frozenset(exact)
            vs.prefixes[alias] = tuple(prefixes)
            vs.ranges[alias] = tuple(ranges)
        return vs

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
        found = _EMPTY
        memo = self._observation_sets_of
        for coding in codings:
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if not (isinstance(system, str) and isinstance(code, str) and code):
                continue
            hit = memo.get((system, code))
            if hit is None:
                alias = self.alias(system)
                hit = (
                    frozenset(self._observation_index.get((alias, _norm_code(code)), ())) if alias else _EMPTY
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
        for most resources a fact reads: one memo lookup per coding, no list built."""
        if value_set not in self.value_sets:
            raise KeyError(value_set)
        if isinstance(concept, list):
            return any(self.in_set(c, value_set) for c in concept)
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(codings, list):
            return False
        memo = self._sets_of
        for c in codings:
            if not isinstance(c, dict):
                continue
            system, code = c.get("system"), c.get("code")
            if isinstance(system, str) and isinstance(code, str) and code:
                hit = memo.get((system, code))
                if value_set in (hit if hit is not None else self.sets_of(system, code)):
                    return True
        return False

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


class _DrugTable:
    """Ingredient lookup by RxNorm ingredient or clinical-drug code, then by name."""

    def __init__(self, drugs: schema.Drugs, terminology: Terminology):
        self.ingredients: dict[str, schema.Ingredient] = drugs.ingredients
        self.by_code: dict[str, set[str]] = {}
        for name, body in self.ingredients.items():
            for code in body.rxnorm:
                self.by_code.setdefault(code, set()).add(name)
        for code, names in drugs.clinical_drugs.items():
            for name in names:
                self.by_code.setdefault(code, set()).add(name)
        self.names = sorted(
            ((n.lower(), ing) for ing, body in self.ingredients.items() for n in body.names),
            key=lambda t: -len(t[0]),
        )
        self.trial_injectate_classes = frozenset(drugs.trial_injectate_classes)
        self.epidural_steroid_classes = frozenset(drugs.epidural_steroid_classes)
        self.indication_by_injectate: dict[str, list[str]] = {
            cls: [str(i) for i in indications] for cls, indications in drugs.indication_by_injectate.items()
        }
        self._terminology = terminology

    def classes(self, ingredient: str) -> set[str]:
        return set(self.ingredients[ingredient].classes)

    def identify(self, concept: Any) -> tuple[set[str], bool]:
        """Ingredients named by a medication concept, and whether only by name (fallback)."""
        found: set[str] = set()
        for alias, code in self._terminology.codings(concept):
            if alias == "rxnorm" and code:
                found |= self.by_code.get(str(code), set())
        if found:
            return found, False
        text = " ".join(_texts(concept)).lower()
        for name, ingredient in self.names:
            if name in text:
                found.add(ingredient)
        return found, bool(found)


def _remember(
    memo: dict[tuple[str, str], frozenset[str]], key: tuple[str, str], value: frozenset[str]
) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _texts(concept: Any) -> Iterable[str]:
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str):
            yield concept["text"]
        codings = concept.get("coding")
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                yield coding["display"]
