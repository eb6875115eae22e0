"""A policy diff in a reviewer's words: where a criterion sits, what it requires, how it is grouped.

The reviewer reads their own sentences side by side; these phrases say what the
service encoded from them (at least 6 months, waived by a contraindication, one of an
open list) without making them read the YAML.
"""

from __future__ import annotations

import re
from typing import Any

from .policy_model import ANY_INDICATION, INDICATION_LABEL, PHASE_LABEL, Leaf

PART_WORDS = {"documentation": "documentation asked", "contraindication": "contraindications"}
OP_WORDS = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most"}
GROUP_WORDS = {
    "all": "all of",
    "any": "any of",
    "any-open": "any of an open list (named examples, others may do)",
    "not": "none of",
}


def indication_words(key: str) -> str:
    if key == ANY_INDICATION:
        return "any indication"
    return INDICATION_LABEL.get(key, key)


def place_words(place: tuple[str, str, str]) -> str:
    indication, phase, part = place
    if part == "contraindication":
        return "Contraindications"
    words = indication_words(indication)
    words = words[:1].upper() + words[1:]
    words += " · " + (PHASE_LABEL.get(phase, phase) if phase != "*" else "every phase")
    if part in PART_WORDS:
        words += f" ({PART_WORDS[part]})"
    return words


def path_words(path: tuple[str, ...]) -> str:
    """The groups above a criterion, outermost first ("all of › any of")."""
    return " › ".join(GROUP_WORDS.get(step, step) for step in path) or "on its own"


def value_words(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_words(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {value_words(v)}" for k, v in sorted(value.items()))
    return str(value)


def requirement(leaf: Leaf) -> str:
    """The bar the criterion sets: "at least 6 months", "more than 50 %", "documented (no minimum)"."""
    op, value = str(leaf.op), leaf.value
    unit = f" {leaf.unit}" if leaf.unit else (" %" if str(leaf.fact).endswith("_percent") else "")
    if op == "documented":
        return "documented (no minimum)"
    if op in OP_WORDS:
        return f"{OP_WORDS[op]} {value_words(value)}{unit}"
    if op == "is":
        return "must be true" if value else "must be false"
    if op == "in":
        return f"one of: {value_words(value)}"
    if op == "not_in":
        return f"none of: {value_words(value)}"
    return f"{op} {value_words(value)}{unit}".strip()


def applies_if_words(leaf: Leaf | None) -> str:
    return "—" if leaf is None else f"{leaf.text} ({requirement(leaf)})"


def same_words(a: str, b: str) -> bool:
    """The same sentence but for punctuation, case and spacing."""

    def norm(s: str) -> str:
        return re.sub(r"[^0-9a-z%<>]+", " ", s.lower()).strip()

    return norm(a) == norm(b)
