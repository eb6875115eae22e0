"""One value set of mappings/*.yaml, indexed so that a coding test is a set lookup.

Matching rules: ICD-10 by prefix (dots ignored, case-insensitive), ranges "A-B"
compare codes of the same width, everything else exactly. Terminology (codes.py)
holds every set by name and remembers which sets a coding is in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .mappings_schema import CodeList, MappingFileError

PREFIX_SYSTEMS = {"icd10"}
RANGE_SYSTEMS = {"icd10", "cpt", "hcpcs"}


def norm_code(code: str) -> str:
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
        c = norm_code(code)
        if c in self.exact.get(alias, ()):
            return True
        if any(c.startswith(p) for p in self.prefixes.get(alias, ())):
            return True
        return any(lo <= c[: len(lo)] <= hi for lo, hi in self.ranges.get(alias, ()))


def value_set(file: str, name: str, body: CodeList, known_aliases: Collection[str]) -> ValueSet:
    """The value set `name` of `file`; an alias systems.yaml does not know, or a range whose
    ends differ in width, is a MappingFileError naming the file and the entry."""
    vs = ValueSet(name)
    for alias, codes in body.codes.items():
        if alias not in known_aliases:
            raise MappingFileError(f"{file}: {name}.{alias}: unknown code system alias")
        exact, prefixes, ranges = set(), [], []
        for code in codes:
            if "-" in code and alias in RANGE_SYSTEMS:
                lo, _, hi = code.partition("-")
                lo, hi = norm_code(lo), norm_code(hi)
                if len(lo) != len(hi):
                    raise MappingFileError(f"{file}: {name}.{alias}: range {code!r} ends differ in width")
                ranges.append((lo, hi))
            elif alias in PREFIX_SYSTEMS:
                prefixes.append(norm_code(code))
            else:
                exact.add(norm_code(code))
        vs.exact[alias] = frozenset(exact)
        vs.prefixes[alias] = tuple(prefixes)
        vs.ranges[alias] = tuple(ranges)
    return vs
