"""The value a criterion compares, and the per-request context that computes it.

A Fact carries its evidence (resource references) and a note on how it was
read, so every criterion result can say which resources decided it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from ..codes import Terminology
from ..deferred import Deferred
from ..fhirtime import effective, end_of_day
from ..record import PatientRecord, resource_ref
from .trials import PERFORMED_STATUSES, TRIAL_OUTCOME_SETS, TrialQueries
from .values import Duration, Fact, OrderFacts, Trial

__all__ = [
    "PERFORMED_STATUSES",
    "TRIAL_OUTCOME_SETS",
    "Duration",
    "Fact",
    "FactContext",
    "OrderFacts",
    "Trial",
    "is_active_condition",
    "refs",
    "status_code",
]

FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
# Still an active problem, but not a documented diagnosis (FHIR condition-ver-status).
UNCONFIRMED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})
T = TypeVar("T")
FactKey = tuple[Any, ...]  # (fact name, sorted params, indication scope): facts/registry.py


@dataclass
class FactContext(TrialQueries):
    record: PatientRecord
    terminology: Terminology
    date_of_service: date
    order: OrderFacts | None = None
    indication: str | None = None
    fact_cache: dict[FactKey, Fact] = field(default_factory=dict, repr=False)
    indexes: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cutoff(self) -> datetime:
        """Observations count up to the end of the date of service."""
        return end_of_day(self.date_of_service)

    def cached(self, key: FactKey, make: Callable[[], Fact]) -> Fact:
        hit = self.fact_cache.get(key)
        if hit is None:
            hit = self.fact_cache[key] = make()
        return hit

    def as_of(self, day: date) -> FactContext:
        """The same order and indication with the record as it stood at the end of `day` (the
        criteria a policy asks "as of the trial"). Contexts of one day share their fact cache
        and dated indexes across the request, so every policy asking the same question as of
        the same trial computes it once."""
        shared: dict[date, tuple[dict[FactKey, Fact], dict[str, Any]]] = self.memo("as-of", dict)
        caches = shared.setdefault(day, ({}, {}))
        return FactContext(self.record, self.terminology, day, self.order, self.indication, *caches)

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """Per-request memo for indexes of the chart that do not depend on the date of service:
        kept on the record, so every context of the request (each date, order, indication and
        policy, and each "as of the trial" context) builds them once."""
        derived = self.record.derived
        if key not in derived:
            derived[key] = make()
        return cast(T, derived[key])

    def dated_memo(self, key: str, make: Callable[[], T]) -> T:
        """Per-request memo for indexes that depend on the date of service (the trials before it)."""
        if key not in self.indexes:
            self.indexes[key] = make()
        return cast(T, self.indexes[key])

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
        return self.memo(
            f"usable-obs:{value_set}",
            lambda: [(when, obs) for when, obs in self.candidates(value_set) if self.record.usable(obs)],
        )

    def observations_by_set(self) -> dict[str, list[dict[str, Any]]]:
        """One pass over all observations, bucketing them by every value set they belong to;
        those in no value set are left unbuilt."""

        def build() -> dict[str, list[dict[str, Any]]]:
            t, record = self.terminology, self.record
            buckets: dict[str, list[dict[str, Any]]] = {}
            for i, held in enumerate(record.held("Observation")):
                names = (
                    t.observation_sets_of_pairs(held.codings)
                    if isinstance(held, Deferred)
                    else t.observation_sets_of(held.get("code"))
                )
                if names:  # only an Observation some fact reads is built (deferred.py)
                    obs = record.build("Observation", i)
                    for name in names:
                        buckets.setdefault(name, []).append(obs)
            return buckets

        return self.memo("obs-buckets", build)

    def latest(self, value_set: str) -> tuple[datetime, dict[str, Any]] | None:
        """Latest usable observation on or before the date of service."""
        cutoff = self.cutoff
        for when, obs in reversed(self.candidates(value_set)):
            if when <= cutoff and self.record.usable(obs):
                return when, obs
        return None

    # -- the trial ---------------------------------------------------------

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
            return [
                c
                for c in self.memo("cond:active-unvalidated", self._active_unvalidated)
                if self.record.usable(c)
            ]

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
