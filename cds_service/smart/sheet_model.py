"""What the checklist shows, as data: a sheet per assessment, its criteria as the policy's
tree of groups and rows. smart/checklist.py builds them; smart/html.py and the templates
lay them out; the documentation form reads which rows are open."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..policy_model import Determination, Policy, Status


@dataclass
class Row:
    id: str
    text: str
    status: Status
    source: str
    note: str | None
    evidence: list[tuple[str, str]]  # (reference, description)
    link: str
    blocking: bool = False  # the service's own reading: this criterion decides the outcome
    any_of: str | None = None  # one of a group of alternatives, any of which would do


@dataclass
class Group:
    kind: str  # all | any | ref | not
    label: str
    status: Status
    children: list[Row | Group] = field(default_factory=list)


@dataclass
class Sheet:
    assessment: dict[str, Any]
    policy: Policy | None
    root: Group
    headline: str
    explanation: str
    deferred_to: str | None = None
    # "What changed in this policy": the policy diff page, for a policy with more than one version.
    diff_url: str | None = None

    @property
    def determination(self) -> Determination:
        return Determination(self.assessment["determination"])

    def rows(self) -> list[Row]:
        out: list[Row] = []

        def walk(node: Row | Group) -> None:
            if isinstance(node, Row):
                out.append(node)
            else:
                for child in node.children:
                    walk(child)

        walk(self.root)
        return out

    def rows_in_context(self) -> list[tuple[Row, bool]]:
        """(row, True when it sits in an alternative the patient already meets otherwise)."""
        out: list[tuple[Row, bool]] = []

        def walk(node: Row | Group, spare: bool) -> None:
            if isinstance(node, Row):
                out.append((node, spare))
                return
            inner = spare or (node.kind == "any" and node.status == Status.MET)
            for child in node.children:
                walk(child, inner)

        walk(self.root, False)
        return out

    def gaps(self, status: Status) -> list[Row]:
        seen: dict[str, Row] = {}
        for r in self.rows():
            if r.blocking and r.status == status:
                seen.setdefault(r.id, r)
        return list(seen.values())


@dataclass
class ComparisonSheets:
    """A comparison opened from its one card (no payer's policy applies): every policy's
    sheet, and the sentence saying why none of them is the patient's payer's verdict."""

    comparison: dict[str, Any]
    sheets: list[Sheet]

    @property
    def explanation(self) -> str:
        why = (self.comparison.get("comparison") or {}).get("note") or "no payer's policy applies"
        return (
            f"A comparison, not the patient's payer's verdict: {why}. "
            "Each encoded policy's requirements are shown below for reference."
        )
