"""What evaluating a policy says: each criterion's result and the determination.

Its own module because everything after the engine reads it (assessments, cards, the
checklist, the packet) and none of them evaluates anything; the engine (engine.py)
is the only writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .policy_model import Determination, Status


@dataclass
class CriterionResult:
    id: str
    text: str
    source: str
    status: Status
    evidence: list[str] = field(default_factory=list)
    note: str | None = None
    blocking: bool = False  # decides the outcome (unmet or undocumented where it matters)
    any_of: str | None = None  # blocking alternatives sharing this label: any one of them would do

    @classmethod
    def from_contract(cls, c: dict[str, Any]) -> CriterionResult:
        """A criterion as the contract carries it (an assessment recalled from the store)."""
        return cls(
            str(c["id"]),
            str(c.get("text", "")),
            str(c.get("source", "")),
            Status(c["status"]),
            [str(e) for e in c.get("evidence") or ()],
            c.get("note"),
            bool(c.get("blocking")),
            c.get("anyOf"),
        )

    @property
    def requirement(self) -> str:
        """What a clinician counts as one requirement: a leaf, or a group of alternatives."""
        return self.any_of or self.id

    def as_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "status": str(self.status),  # the contract's string, not the enum member
            "evidence": self.evidence,
            "source": self.source,
        }
        if self.note:
            out["note"] = self.note
        if self.blocking:
            out["blocking"] = True
            if self.any_of:
                out["anyOf"] = self.any_of
        return out


@dataclass
class Outcome:
    determination: Determination
    criteria: list[CriterionResult]
    reason: str  # one line for the card and the audit record
    deferred_to: str | None = None


def count_requirements(criteria: list[CriterionResult], status: Status) -> int:
    """Blocking requirements with this status; a group of alternatives counts once."""
    return len({c.requirement for c in criteria if c.blocking and c.status == status})
