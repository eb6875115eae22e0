"""The value a criterion compares, and the per-request context that computes it.

A Fact carries its evidence (resource references) and a note on how it was
read, so every criterion result can say which resources decided it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..codes import Terminology
from ..fhirtime import effective, end_of_day, months_in_days, parse
from ..record import PatientRecord, resource_ref

FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
# Still an active problem, but not a documented diagnosis (FHIR condition-ver-status).
UNCONFIRMED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})
PERFORMED_STATUSES = ("completed", "in-progress")
# Observations that document a trial's outcome (they may name the trial Procedure).
TRIAL_OUTCOME_SETS = (
    "trial-pain-relief",
    "trial-spasm-relief",
    "flag:trial-function-improved",
    "flag:trial-side-effects-tolerable",
)


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

    def as_of(self, day: date) -> FactContext:
        """The same order and indication with the record as it stood at the end of `day` (the
        criteria a policy asks "as of the trial"). Contexts of one day share their fact cache
        and dated indexes across the request, so every policy asking the same question as of
        the same trial computes it once."""
        shared: dict[date, tuple[dict[tuple, Fact], dict[str, Any]]] = self.memo("as-of", dict)
        caches = shared.setdefault(day, ({}, {}))
        return FactContext(self.record, self.terminology, day, self.order, self.indication, *caches)

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """Per-request memo for indexes of the chart that do not depend on the date of service:
        kept on the record, so every context of the request (each date, order, indication and
        policy, and each "as of the trial" context) builds them once."""
        derived = self.record.derived
        if key not in derived:
            derived[key] = make()
        return derived[key]

    def dated_memo(self, key: str, make: Callable[[], Any]) -> Any:
        """Per-request memo for indexes that depend on the date of service (the trials before it)."""
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
        return self.memo(
            f"usable-obs:{value_set}",
            lambda: [(when, obs) for when, obs in self.candidates(value_set) if self.record.usable(obs)],
        )

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

    def latest(self, value_set: str) -> tuple[datetime, dict[str, Any]] | None:
        """Latest usable observation on or before the date of service."""
        cutoff = self.cutoff
        for when, obs in reversed(self.candidates(value_set)):
            if when <= cutoff and self.record.usable(obs):
                return when, obs
        return None

    # -- the trial ---------------------------------------------------------

    def trials(self) -> list[Trial]:
        """Every performed drug trial on or before the date of service, newest first, undated last.

        The trial is a drug trial, not any procedure sharing its CPT codes: a
        Procedure coded idds#intrathecal-trial, or CPT 62320-62327 with a trial
        injectate (usedCode, a MedicationAdministration partOf it) or a trial
        outcome observation that names it. An epidural steroid injection is none.
        """

        def build() -> list[Trial]:
            t = self.terminology
            administered = self.memo("trial-administrations", self._administrations_by_procedure)
            outcome_refs = self.memo("trial-outcome-refs", self._outcome_references)
            found: list[Trial] = []
            for proc in self.record.resources("Procedure"):
                if proc.get("status") not in PERFORMED_STATUSES:
                    continue
                code = proc.get("code")
                marked = t.in_set(code, "trial-procedure-marker")
                if not marked and not t.in_set(code, "trial-procedure-cpt"):
                    continue
                ref = resource_ref(proc)
                used = self._ingredients(proc.get("usedCode")) | administered.get(ref, set())
                if not marked and any(t.drugs.classes(i) & t.drugs.epidural_steroid_classes for i in used):
                    continue  # an epidural steroid injection, even with a local anaesthetic in it
                drugs = {i for i in used if t.drugs.classes(i) & t.drugs.trial_injectate_classes}
                if not (marked or drugs or ref in outcome_refs):
                    continue  # a 62320-62327 without a trial drug
                start = effective(proc)
                if start is not None and start > self.cutoff:
                    continue
                if not self.record.usable(proc):
                    continue
                period = proc.get("performedPeriod") if isinstance(proc.get("performedPeriod"), dict) else {}
                end = _period_end(period.get("end")) if "performedDateTime" not in proc else None
                ongoing = proc.get("status") == "in-progress" and end is None and bool(period)
                classes = frozenset(c for d in drugs for c in t.drugs.classes(d))
                found.append(Trial(proc, start, end, frozenset(drugs), classes, ongoing))
            timed = sorted((x for x in found if x.start is not None), key=lambda x: x.start, reverse=True)
            return timed + [x for x in found if x.start is None]

        return self.dated_memo("trials", build)

    def trial(self, injectates: tuple[str, ...] | list[str] | None = None) -> tuple[Trial | None, str | None]:
        """The latest trial of one of the injectate classes (any trial drug when None), or why none.

        A trial documented with another drug (a baclofen trial for a pain pump)
        is not this trial. When a drug is asked for, a trial whose drug is not
        documented could be it or not: the record does not prove which, so the
        trial is unknown (the record must prove the drug the policy names). An
        undated trial makes "the latest" unknowable.
        """
        wanted = frozenset(injectates or ())
        skipped: list[Trial] = []
        for trial in self.trials():
            if wanted and trial.drug_classes and not (trial.drug_classes & wanted):
                skipped.append(trial)
                continue
            if trial.start is None:
                return None, f"the trial {trial.ref} has no date, so the latest trial cannot be told"
            if wanted and not trial.drugs:
                return None, (
                    f"the {trial.describe().replace(' (drug not documented)', '')} does not document its drug "
                    f"(a coded drug on the procedure or its medication administration), and the policy asks "
                    f"for a trial of {self._drug_words(wanted)}"
                )
            return trial, None
        if skipped:
            other = skipped[0]
            return (
                None,
                f"the only trial on record is a {other.describe()}, not a trial of {self._drug_words(wanted)}",
            )
        return None, "no intrathecal or epidural drug trial is documented"

    def belongs_to(self, obs: dict[str, Any], when: datetime, trial: Trial) -> bool:
        """A trial outcome observation is the trial's when it names it, or, naming no
        other procedure, is dated at or after its start and before the next trial."""
        named = self.procedure_references(obs) & self._trial_refs()
        if named:
            return trial.ref in named
        if trial.start is None or when < trial.start:
            return False
        later = [x.start for x in self.trials() if x.start is not None and x.start > trial.start]
        return not later or when < min(later)

    def in_window(self, obs: dict[str, Any], when: datetime, trial: Trial, single_shot_hours: float) -> bool:
        """Inside the trial's window: names the trial, or is dated after its start up to the window end."""
        named = self.procedure_references(obs) & self._trial_refs()
        if named:
            return trial.ref in named
        end = trial.window_end(single_shot_hours, self.cutoff)
        return trial.start is not None and end is not None and trial.start < when <= end

    def standing(
        self, value_set: str, single_shot_hours: float
    ) -> tuple[list[tuple[datetime, dict[str, Any]]], str | None]:
        """Scores on or before the date of service outside every trial window, newest first, not validated.

        Scores a trial measured (naming a trial Procedure, inside a catheter
        trial's period, or within `single_shot_hours` of a single-shot trial)
        are not the patient's standing pain or tone. An undated trial leaves
        which scores it measured unknown.
        """
        trials = self.trials()
        undated = [x for x in trials if x.start is None]
        if undated:
            return [], f"the trial {undated[0].ref} has no date, so which scores it measured cannot be told"
        trial_refs = self._trial_refs()
        windows = [(x.start, x.window_end(single_shot_hours, self.cutoff)) for x in trials]
        out = []
        for when, obs in reversed(self.candidates(value_set)):
            if when > self.cutoff:
                continue
            if self.procedure_references(obs) & trial_refs:
                continue
            if any(start <= when <= end for start, end in windows):
                continue
            out.append((when, obs))
        return out, None

    def _trial_refs(self) -> set[str]:
        return self.dated_memo("trial-refs", lambda: {x.ref for x in self.trials()})

    def procedure_references(self, resource: dict[str, Any]) -> set[str]:
        """`Procedure/<id>` named in partOf / focus / derivedFrom (relative or absolute references)."""
        out = set()
        for key in ("partOf", "focus", "derivedFrom"):
            items = resource.get(key)
            for item in items if isinstance(items, list) else ():
                ref = item.get("reference") if isinstance(item, dict) else None
                if isinstance(ref, str) and "Procedure/" in ref:
                    out.add("Procedure/" + ref.rsplit("Procedure/", 1)[1].split("/_history")[0])
        return out

    def _drug_words(self, classes: frozenset[str]) -> str:
        """'an opioid or ziconotide, bupivacaine, clonidine' from the classes in mappings/drugs.yaml."""
        drugs = self.terminology.drugs
        words = []
        for cls in sorted(classes):
            members = sorted(i for i in drugs.ingredients if cls in drugs.classes(i))
            words.append("an opioid" if cls == "opioid" else ", ".join(members) or cls)
        return " or ".join(words)

    def _ingredients(self, concept: Any) -> set[str]:
        """Ingredients a medication concept (or a list of them) names (mappings/drugs.yaml)."""
        if not isinstance(concept, (dict, list)):
            return set()
        ingredients: set[str] = set()
        for c in concept if isinstance(concept, list) else [concept]:
            ingredients |= self.terminology.drugs.identify(c)[0]
        return ingredients

    def _administrations_by_procedure(self) -> dict[str, set[str]]:
        """Ingredients given by MedicationAdministrations `partOf` each Procedure."""
        out: dict[str, set[str]] = {}
        for adm in self.record.resources("MedicationAdministration"):
            if adm.get("status") not in PERFORMED_STATUSES:
                continue
            drugs = self._ingredients(adm.get("medicationCodeableConcept"))
            if not drugs:
                continue
            named = self.procedure_references(adm)
            if named and self.record.usable(adm):
                for ref in named:
                    out.setdefault(ref, set()).update(drugs)
        return out

    def _outcome_references(self) -> set[str]:
        out: set[str] = set()
        for value_set in TRIAL_OUTCOME_SETS:
            for _, obs in self.candidates(value_set):
                named = self.procedure_references(obs)
                if named and self.record.usable(obs):
                    out |= named
        return out

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


def _period_end(value: Any) -> datetime | None:
    """A Period.end is inclusive: a bare date covers that whole day."""
    when = parse(value)
    if when is not None and isinstance(value, str) and len(value) <= 10:
        return end_of_day(when.date())
    return when


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
