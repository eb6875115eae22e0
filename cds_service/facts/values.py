"""The values facts are made of: a Fact with its evidence, a trial, a covered duration, what
the order itself says. Plain frozen data, no chart access (the context computes them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..fhirtime import months_in_days
from ..record import resource_ref


@dataclass(frozen=True)
class Fact:
    value: Any  # None means unknown
    evidence: tuple[str, ...] = ()
    note: str | None = None

    @classmethod
    def unknown(cls, note: str, evidence: tuple[str, ...] = ()) -> Fact:
        return cls(None, evidence, note)


@dataclass(frozen=True)
class Trial:
    """A performed intrathecal/epidural drug trial and what the record says about it.

    `start` is None when the Procedure carries no time at all; `end` is the
    performedPeriod end of a catheter / continuous trial (None for a single shot).
    `drugs` are the trial injectate ingredients documented on it (usedCode or a
    MedicationAdministration partOf it); empty when the drug is not documented.
    """

    procedure: dict[str, Any]
    start: datetime | None
    end: datetime | None
    drugs: frozenset[str]
    drug_classes: frozenset[str]
    ongoing: bool = False  # in-progress: the window runs to the date of service

    @property
    def ref(self) -> str:
        return resource_ref(self.procedure)

    @property
    def single_shot(self) -> bool:
        return self.end is None and not self.ongoing

    def window_end(self, single_shot_hours: float, cutoff: datetime) -> datetime | None:
        """Last instant of the trial window: the period end, or start + the single-shot hours."""
        if self.start is None:
            return None
        if self.ongoing:
            return cutoff
        if self.end is not None:
            return self.end
        return self.start + timedelta(hours=single_shot_hours)

    def describe(self) -> str:
        when = self.start.date().isoformat() if self.start else "undated"
        drug = ", ".join(sorted(self.drugs)) if self.drugs else "drug not documented"
        return f"trial of {when} ({drug})"


@dataclass(frozen=True)
class Duration:
    """Time covered by therapy courses, as inclusive day ranges (FHIR `Period.end` is inclusive).

    `intervals` are already joined: ranges that overlap or touch (the next
    starts on or the day after the previous ends) are one range, so a chain of
    back-to-back courses loses no day at its joints. `days` counts the days
    covered (gaps between ranges are not therapy). A threshold in months is
    calendar months from the first covered day.
    """

    intervals: tuple[tuple[date, date], ...] = ()
    waived: str | None = None  # why the policy's words need no duration here
    # The time covered if the courses left out for missing documentation counted (an
    # unproven home exercise program): a shortfall they would make up is undocumented, not
    # contradicted (engine.compare).
    if_documented: Duration | None = None

    @classmethod
    def covering(cls, ranges: list[tuple[date, date]]) -> Duration:
        """The union of inclusive day ranges, touching or overlapping ones joined."""
        joined: list[list[date]] = []
        for start, end in sorted((s, max(s, e)) for s, e in ranges):
            if joined and start <= joined[-1][1] + timedelta(days=1):
                joined[-1][1] = max(joined[-1][1], end)
            else:
                joined.append([start, end])
        return cls(tuple((s, e) for s, e in joined))

    @property
    def days(self) -> int:
        return sum((end - start).days + 1 for start, end in self.intervals)

    def threshold_days(self, amount: float, unit: str) -> float:
        if unit == "months":
            if not self.intervals:
                return float("inf") if amount > 0 else 0.0
            return months_in_days(self.intervals[0][0], amount)
        return amount * {"weeks": 7, "days": 1, "hours": 1 / 24}[unit]

    def describe(self) -> str:
        if self.waived:
            return self.waived
        if not self.intervals:
            return "no time covered"
        first, last = self.intervals[0][0], self.intervals[-1][1]
        span = f"{self.days} days between {first.isoformat()} and {last.isoformat()}"
        if len(self.intervals) > 1:
            span += f", in {len(self.intervals)} separate periods (the gaps are not counted)"
        return span


@dataclass
class OrderFacts:
    """What the draft order itself contributes (injectate, reason)."""

    reference: str
    injectate_ingredients: frozenset[str] = frozenset()
    injectate_classes: frozenset[str] = frozenset()
