"""Fact name → extractor, with per-request caching keyed by name and params."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import chronicity, clinical, device, evaluator, injectate, therapy, trial
from .base import Fact, FactContext
from .catalogue import FACTS

EXTRACTORS: dict[str, Callable[..., Fact]] = {
    "age_years": clinical.age_years,
    "diagnosis_documented": clinical.diagnosis_documented,
    "pain_nrs_latest": clinical.pain_nrs_latest,
    "spasticity_score_latest": clinical.spasticity_score_latest,
    "life_expectancy_months": clinical.life_expectancy_months,
    "flag": clinical.flag,
    "active_infection": clinical.active_infection,
    "implant_contraindication": clinical.implant_contraindication,
    "condition_present": clinical.condition_present,
    "pain_chronic": chronicity.pain_chronic,
    "increased_intracranial_pressure": clinical.increased_intracranial_pressure,
    "thecal_sac_encroachment": clinical.thecal_sac_encroachment,
    "metastatic_lesions": clinical.metastatic_lesions,
    "psych_evaluation": evaluator.psych_evaluation,  # clinical's, with the evaluator proven
    "opiate_naive": device.opiate_naive,
    "therapy_failed_duration": therapy.therapy_failed_duration,
    "therapy_documented": therapy.therapy_documented,
    "trial_pain_relief_percent": trial.trial_pain_relief_percent,
    "trial_spasm_relief_percent": trial.trial_spasm_relief_percent,
    "trial_score_reduction": trial.trial_score_reduction,
    "trial_flag": trial.trial_flag,
    "pump_status": device.pump_status,
    "trial_injectate": injectate.trial_injectate,
}
# Facts that read the assessed indication or the order itself: cached per (indication, order).
INDICATION_DEPENDENT = frozenset({"diagnosis_documented", "trial_injectate"})

assert set(EXTRACTORS) == set(FACTS), "every catalogued fact needs an extractor"


def compute(ctx: FactContext, name: str, params: dict[str, Any]) -> Fact:
    scoped = (
        (ctx.indication, ctx.order.reference if ctx.order else None) if name in INDICATION_DEPENDENT else None
    )
    # Defaults from the catalogue; lists (e.g. trial injectates) as tuples so the key hashes.
    params = {
        k: tuple(v) if isinstance(v, list) else v for k, v in {**FACTS[name].defaults, **params}.items()
    }
    key = (name, tuple(sorted(params.items())), scoped)
    return ctx.cached(key, lambda: EXTRACTORS[name](ctx, **params))
