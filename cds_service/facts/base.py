"""The value a criterion compares, and the per-request context that computes it.

A Fact carries its evidence (resource references) and a note on how it was
read, so every criterion result can say which resources decided it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from ..codes import Terminology
from ..fhirtime import effective, end_of_day, months_in_days
from ..record import PatientRecord, resource_ref

TRIAL_WINDOW = timedelta(days=14)  # scores this long after a trial start belong to the trial
FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
# Still an active problem, but not a documented diagnosis (FHIR condition-ver-status).
UNCONFIRMED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})


@dataclass(frozen=True)
class Fact:
    value: Any  # None means unknown
    evidence: tuple[str, ...] = ()
    note: str | None = None

    @classmethod
    def unknown(cls, note: str, evidence: tuple[str, ...] = ()) -> "Fact":
        return cls(None, evidence, note)


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

    @classmethod
    def covering(cls, ranges: list[tuple[date, date]]) -> "Duration":
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


@dataclass
class FactContext:
    record: PatientRecord
    terminology: Terminology
    date_of_service: date
    order: OrderFacts | None = None
    indication: str | None = None
    fact_cache: dict[tuple, Fact] = field(default_factory=dict, repr=False)
    indexes: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cutoff(self) -> datetime:
        """Observations count up to the end of the date of service."""
        return end_of_day(self.date_of_service)

    def cached(self, key: tuple, make: Callable[[], Fact]) -> Fact:
        hit = self.fact_cache.get(key)
        if hit is None:
            hit = self.fact_cache[key] = make()
        return hit

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """Per-request memo for intermediate indexes shared by several facts."""
        if key not in self.indexes:
            self.indexes[key] = make()
        return self.indexes[key]

    # -- shared selections -------------------------------------------------

    def candidates(self, value_set: str) -> list[tuple[datetime, dict[str, Any]]]:
        """Final observations of a value set with their time, oldest first, not yet validated.

        A long history holds hundreds of scores and validating each costs more
        than the rest of the request; callers validate only those they use
        (`latest` walks back from the newest), so a malformed one that would
        have decided is reported and the one before it is used.
        """

        def build() -> list[tuple[datetime, dict[str, Any]]]:
            out = []
            for obs in self.observations_by_set().get(value_set, ()):
                status = obs.get("status")
                if not isinstance(status, str) or status not in FINAL_STATUSES:
                    continue
                when = effective(obs)
                if when is not None:
                    out.append((when, obs))
            out.sort(key=lambda t: t[0])
            return out

        return self.memo(f"obs:{value_set}", build)

    def observations(self, value_set: str) -> list[tuple[datetime, dict[str, Any]]]:
        """Usable final observations of a value set, oldest first: validates every one."""
        return self.memo(f"usable-obs:{value_set}", lambda: [
            (when, obs) for when, obs in self.candidates(value_set) if self.record.usable(obs)
        ])

    def observations_by_set(self) -> dict[str, list[dict[str, Any]]]:
        """One pass over all observations, bucketing them by every value set they belong to."""

        def build() -> dict[str, list[dict[str, Any]]]:
            t = self.terminology
            buckets: dict[str, list[dict[str, Any]]] = {}
            for obs in self.record.resources("Observation"):
                for name in t.observation_sets_of(obs.get("code")):
                    buckets.setdefault(name, []).append(obs)
            return buckets

        return self.memo("obs-buckets", build)

    def latest(self, value_set: str, outside_trial: bool = False) -> tuple[datetime, dict[str, Any]] | None:
        """Latest observation on or before the date of service.

        With `outside_trial`, scores taken during a trial window are skipped:
        they measure the trial drug, not the patient's standing pain or tone.
        """
        cutoff = self.cutoff
        trial = self.trial() if outside_trial else None
        for when, obs in reversed(self.candidates(value_set)):
            if when > cutoff:
                continue
            if trial is not None and trial[0] <= when <= trial[0] + TRIAL_WINDOW:
                continue
            if self.record.usable(obs):
                return when, obs
        return None

    def trial(self) -> tuple[datetime, dict[str, Any]] | None:
        """The latest intrathecal/epidural trial Procedure performed on or before the date of service."""

        def find():
            found = []
            for proc in self.record.resources("Procedure"):
                if proc.get("status") not in ("completed", "in-progress"):
                    continue
                if not self.terminology.in_set(proc.get("code"), "trial-procedure"):
                    continue
                when = effective(proc)
                if when is not None and when <= self.cutoff:
                    found.append((when, proc))
            found.sort(key=lambda t: t[0], reverse=True)  # stable: the first listed wins a tie
            return next(((when, proc) for when, proc in found if self.record.usable(proc)), None)

        return self.memo("trial-procedure", find)

    def conditions(self, value_set: str) -> list[dict[str, Any]]:
        """Active, not refuted, usable Conditions in a value set (only those are validated)."""

        def build() -> list[dict[str, Any]]:
            return [
                c
                for c in self.memo("cond:active-unvalidated", self._active_unvalidated)
                if self.terminology.in_set(c.get("code"), value_set) and self.record.usable(c)
            ]

        return self.memo(f"cond:{value_set}", build)

    def active_conditions(self) -> list[dict[str, Any]]:
        """Every active, usable Condition: validates each one."""

        def build() -> list[dict[str, Any]]:
            return [c for c in self.memo("cond:active-unvalidated", self._active_unvalidated) if self.record.usable(c)]

        return self.memo("cond:active", build)

    def _active_unvalidated(self) -> list[dict[str, Any]]:
        return [c for c in self.record.resources("Condition") if is_active_condition(c)]


def is_active_condition(condition: dict[str, Any]) -> bool:
    clinical = status_code(condition.get("clinicalStatus"))
    verification = status_code(condition.get("verificationStatus"))
    if verification in EXCLUDED_VERIFICATION:
        return False
    if clinical is None:
        return "abatementDateTime" not in condition and "abatementPeriod" not in condition
    return clinical in ACTIVE_CLINICAL


def status_code(concept: Any) -> str | None:
    """The first coding's code; runs before validation, so anything but a string is no code."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else ():
        if isinstance(coding, dict) and coding.get("code"):
            code = coding["code"]
            return code if isinstance(code, str) else None
    return None


def refs(resources: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(resource_ref(r) for r in resources)
