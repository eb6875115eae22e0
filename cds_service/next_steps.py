"""What a clinician does next for an open criterion, and the orders that close a gap.

Read from mappings/next-steps.yaml (data, not Python per payer): a text per fact, or per
fact and param value (e.g. a flag's `code`), for a criterion not documented (`unknown`) and
one the record contradicts (`not_met`); optionally an order to suggest. The card layer
finds a criterion's leaf by its id (`leaf_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import mappings_schema as schema
from .mappings_schema import MAPPINGS_DIR
from .next_steps_schema import NextStepsFile, StepsByParam, StepText
from .policy_model import Leaf, Policy, Status

FILE = "next-steps.yaml"


@dataclass(frozen=True)
class OrderSuggestion:
    label: str
    service: str
    value_set: str
    codes: tuple[tuple[str, str, str], ...]  # (system alias, code, display)


@dataclass(frozen=True)
class Step:
    unknown: str
    not_met: str
    order: OrderSuggestion | None = None

    def for_status(self, status: Status) -> str | None:
        return {Status.UNKNOWN: self.unknown, Status.NOT_MET: self.not_met}.get(status)


class NextSteps:
    def __init__(
        self,
        file: NextStepsFile,
        therapy_labels: dict[str, str],
        systems: dict[str, list[str]] | None = None,
    ):
        self.systems = systems or {}
        self.steps = file.steps
        self.therapy_labels = therapy_labels
        reasons = file.override_reasons
        self.override_reasons = [
            {"system": reasons.system, "code": c.code, "display": c.display} for c in reasons.codes
        ]

    def system_uri(self, alias: str) -> str:
        """The canonical URI of a mappings/systems.yaml alias (its first listed)."""
        uris = self.systems.get(alias) or ()
        return uris[0] if uris else alias

    def _entry(self, leaf: Leaf) -> StepText | None:
        entry = self.steps.get(leaf.fact)
        if isinstance(entry, StepsByParam):
            return entry.values.get(str(leaf.params.get(entry.by)))
        return entry

    def step(self, leaf: Leaf) -> Step | None:
        entry = self._entry(leaf)
        if entry is None:
            return None
        cls = leaf.params.get("class")
        label = self.therapy_labels.get(cls) if isinstance(cls, str) else None
        therapy = label or (str(cls).replace("-", " ") if cls else "treatment")

        def fill(text: str) -> str:
            return text.replace("{therapy}", therapy)

        order = entry.order
        suggestion = None
        if order is not None:
            suggestion = OrderSuggestion(
                order.label,
                order.service or order.label,
                order.value_set,
                tuple((c.system, c.code, c.display) for c in order.codes),
            )
        return Step(fill(entry.unknown), fill(entry.not_met), suggestion)


@lru_cache(maxsize=4)
def load(directory: Path = MAPPINGS_DIR) -> NextSteps:
    therapies = schema.load("therapies.yaml", schema.Therapies, directory)
    systems = schema.load("systems.yaml", schema.Systems, directory)
    return NextSteps(schema.load(FILE, NextStepsFile, directory), therapies.labels, systems.root)


_INDEX: dict[tuple[str, str], tuple[dict[str, Leaf], frozenset[str]]] = {}


def leaf_index(policy: Policy) -> tuple[dict[str, Leaf], frozenset[str]]:
    """(leaf by id, ids of the policy's contraindication criteria), computed once per policy version."""
    key = (policy.policy, policy.version)
    found = _INDEX.get(key)
    if found is None:
        found = _INDEX[key] = (
            {leaf.id: leaf for leaf in policy.reportable_leaves()},
            frozenset(c.criterion.id for c in policy.contraindications),
        )
    return found
