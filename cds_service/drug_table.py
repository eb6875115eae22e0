"""drugs.yaml as lookups: a medication concept's ingredients, by RxNorm code, else by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import mappings_schema as schema

if TYPE_CHECKING:
    from .codes import Terminology


class DrugTable:
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


def _texts(concept: Any) -> Iterable[str]:
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str):
            yield concept["text"]
        codings = concept.get("coding")
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                yield coding["display"]
