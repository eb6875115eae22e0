"""The context's trial queries: which drug trials the record shows, which one the policy means,
and which observations it measured (its window). A mixin of FactContext (facts/base.py), kept
apart because the trial alone is half of what the context knows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..codes import Terminology
from ..fhirtime import effective, end_of_day, parse
from ..record import PatientRecord, resource_ref
from .values import Trial

T = TypeVar("T")

PERFORMED_STATUSES = ("completed", "in-progress")
# Observations that document a trial's outcome (they may name the trial Procedure).
TRIAL_OUTCOME_SETS = (
    "trial-pain-relief",
    "trial-spasm-relief",
    "flag:trial-function-improved",
    "flag:trial-side-effects-tolerable",
)


class TrialQueries:
    """Trial lookups over the record; FactContext supplies the record, the cutoff and the memos."""

    record: PatientRecord
    terminology: Terminology

    if TYPE_CHECKING:

        @property
        def cutoff(self) -> datetime: ...

        def memo(self, key: str, make: Callable[[], T]) -> T: ...

        def dated_memo(self, key: str, make: Callable[[], T]) -> T: ...

        def candidates(self, value_set: str) -> list[tuple[datetime, dict[str, Any]]]: ...

    def trials(self) -> list[Trial]:
        """Every performed drug trial on or before the date of service, newest first, undated last.

        The trial is a drug trial, not any procedure sharing its CPT codes: a
        Procedure coded idds#intrathecal-trial, or CPT 62320-62327 with a trial
        injectate (usedCode, a MedicationAdministration partOf it) or a trial
        outcome observation that names it. An epidural steroid injection is none.
        """

        def build() -> list[Trial]:
            cutoff, usable = self.cutoff, self.record.usable
            found = [
                x
                for x in self.memo("trial-procedures", self._trial_procedures)
                if not (x.start is not None and x.start > cutoff) and usable(x.procedure)
            ]
            dated = [(x.start, x) for x in found if x.start is not None]
            dated.sort(key=lambda pair: pair[0], reverse=True)  # stable: ties keep the record's order
            return [x for _, x in dated] + [x for x in found if x.start is None]

        return self.dated_memo("trials", build)

    def _trial_procedures(self) -> list[Trial]:
        """Every performed drug-trial Procedure, whatever its date, not yet validated: what does
        not depend on the date of service, read once per request (each policy asks as of the
        date of service and as of its trial); `trials` keeps those on or before its date and
        validates only those, as it always did."""
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
            performed = proc.get("performedPeriod")
            period: dict[str, Any] = performed if isinstance(performed, dict) else {}
            end = _period_end(period.get("end")) if "performedDateTime" not in proc else None
            ongoing = proc.get("status") == "in-progress" and end is None and bool(period)
            classes = frozenset(c for d in drugs for c in t.drugs.classes(d))
            found.append(Trial(proc, start, end, frozenset(drugs), classes, ongoing))
        return found

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


def _period_end(value: Any) -> datetime | None:
    """A Period.end is inclusive: a bare date covers that whole day."""
    when = parse(value)
    if when is not None and isinstance(value, str) and len(value) <= 10:
        return end_of_day(when.date())
    return when
