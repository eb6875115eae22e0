"""The vocabulary policies may use: fact names, their parameters and value kinds.

Kept apart from the extractors so the policy loader can validate a file
without importing any FHIR code, and so a reviewer can see in one place what a
policy is allowed to ask of the record (see policies/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..vocabulary import Indication

THERAPY_CLASSES = (
    "rehab-exercise",
    "physical-therapy",
    "chiropractic",
    "conservative-active",
    "conservative-inactive",
    "conservative-any",
    "systemic-opioid",
    "analgesic",
    "oral-antispasmodic",
    "oral-baclofen",
    "spasticity-standard",
    "conservative-active-and-inactive",
    "rehab-exercise-and-analgesic",
)
WAIVER_REASONS = ("contraindication", "intolerance")


# How a clinician names the other coded values a card may show (fact notes, the card layer).
# A flag's (topic, what "yes" records, what "no" records), for its notes.
FLAG_WORDING = {
    "functional-impairment": (
        "functional impairment",
        "the condition impairs daily function",
        "the condition does not impair daily function",
    ),
    "body-habitus-adequate": (
        "whether body size can support the pump",
        "body size can support the pump",
        "body size cannot support the pump",
    ),
    "further-surgery-not-indicated": (
        "whether further surgery or treatment is indicated",
        "further surgery or treatment is not indicated",
        "further surgery or treatment is still indicated",
    ),
    "further-treatment-refused": (
        "a refusal of further treatment",
        "the patient refused further treatment",
        "the patient did not refuse further treatment",
    ),
    "underlying-cause-treatment-failed": (
        "treatment of the pain's underlying cause",
        "treatment of the underlying cause failed",
        "treatment of the underlying cause has not failed",
    ),
    "opioid-reduction-agreed": (
        "the patient's agreement to reduce systemic opioids",
        "the patient agrees to reduce systemic opioids",
        "the patient does not agree to reduce systemic opioids",
    ),
    "medication-compliance": (
        "compliance with the prescribed medication",
        "the patient took the medication as prescribed",
        "the patient did not take the medication as prescribed",
    ),
    "advanced-disease": (
        "the stage of the disease",
        "the disease is advanced",
        "the disease is not advanced",
    ),
    "limited-survival": (
        "the expected survival time",
        "survival time is limited",
        "survival time is not limited",
    ),
    "high-procedural-risk": (
        "the patient's risk for procedures",
        "the patient is at high risk for procedures",
        "the patient is not at high risk for procedures",
    ),
}
# The flags a policy may name are the ones worded here (mappings/observations.yaml `flags`
# holds their codes; tests/test_catalogue_matches_mappings.py checks the two agree).
FLAG_CODES = tuple(FLAG_WORDING)
FLAG_LABEL = {code: topic for code, (topic, _, _) in FLAG_WORDING.items()} | {
    "trial-function-improved": "function during the trial",
    "trial-side-effects-tolerable": "side effects during the trial",
}
PUMP_STATUS_LABEL = {
    "functional": "working",
    "battery-near-end": "battery nearing its end",
    "battery-depleted": "battery depleted",
    "impending-failure-alert": "alarm of impending failure",
    "malfunction": "malfunctioning",
    "non-functional-irreparable": "not working and cannot be repaired",
}
PUMP_STATUSES = tuple(PUMP_STATUS_LABEL)  # the pump-status codes (codesystem-idds.yaml)
SCALE_LABEL = {
    "pain-nrs": "pain score (NRS)",
    "ashworth": "Ashworth score",
    "modified-ashworth": "Modified Ashworth score",
    "penn-spasm-frequency": "Penn Spasm Frequency score",
    "ashworth-or-modified-ashworth": "(Modified) Ashworth score",
}


# What a param admits: one of a tuple of values, a type, or one of a tuple of types.
ParamValues = tuple[object, ...] | type


@dataclass(frozen=True)
class FactSpec:
    kind: str  # number | bool | code | duration
    params: dict[str, ParamValues] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)  # applied when a leaf leaves a param out
    lists: tuple[str, ...] = ()  # params that take a list of the allowed values


# Who may evaluate, where a policy names them (value sets in mappings/evaluators.yaml).
EVALUATOR_SETS = ("licensed-mental-health-professional", "licensed-behavioral-or-medical-provider")
# Trial drugs a policy may name (classes in mappings/drugs.yaml).
TRIAL_DRUG_CLASSES = ("opioid", "pain-injectate", "antispasmodic")
SCORE_AGGREGATES = ("latest", "average", "lowest")
# How long after a single-shot trial (performedDateTime only) a score still measures the
# trial drug, where the leaf asks for no relief duration. Policies state their own.
SCORE_PARAMS: dict[str, ParamValues] = {
    "aggregate": SCORE_AGGREGATES,
    "over_days": (int, float),
    "min_scores": int,
    "single_shot_window_hours": (int, float),
}
SCORE_DEFAULTS: dict[str, object] = {"aggregate": "latest", "min_scores": 1, "single_shot_window_hours": 24}
TRIAL_PARAMS: dict[str, ParamValues] = {
    "injectates": TRIAL_DRUG_CLASSES,
    "single_shot_window_hours": (int, float),
}
TRIAL_DEFAULTS: dict[str, object] = {"single_shot_window_hours": 24}


FACTS: dict[str, FactSpec] = {
    "age_years": FactSpec("number"),
    # value_set: a mappings/conditions.yaml set to require instead of the indication's own.
    "diagnosis_documented": FactSpec(
        "bool", {"indication": tuple(Indication), "value_set": ("nonmalignant-pain-pathology",)}
    ),
    "pain_nrs_latest": FactSpec("number", SCORE_PARAMS, (), SCORE_DEFAULTS),
    "spasticity_score_latest": FactSpec(
        "number",
        {"scale": ("ashworth", "modified-ashworth", "penn-spasm-frequency"), **SCORE_PARAMS},
        ("scale",),
        SCORE_DEFAULTS,
    ),
    "life_expectancy_months": FactSpec("number"),
    "flag": FactSpec("bool", {"code": FLAG_CODES}, ("code",)),
    "active_infection": FactSpec("bool", {"scope": ("systemic-or-spinal", "any")}),
    "implant_contraindication": FactSpec("bool"),
    # a mappings/conditions.yaml finding: present on the retrieved problem list (true) or not (false)
    "condition_present": FactSpec("bool", {"value_set": ("neoplasm-related-pain",)}, ("value_set",)),
    # a pain diagnosis of the indication (as diagnosis_documented finds it) began (onset, else
    # recordedDate) at least min_months calendar months before DOS; never false (facts/chronicity.py)
    "pain_chronic": FactSpec(
        "bool", {"indication": tuple(Indication), "min_months": int}, ("indication",), {"min_months": 3}
    ),
    "increased_intracranial_pressure": FactSpec("bool"),
    "thecal_sac_encroachment": FactSpec("bool"),
    "metastatic_lesions": FactSpec("bool"),
    # evaluators: a mappings/evaluators.yaml set the evaluation's performer must be proven in
    # (where the policy's sentence names who evaluates); none: any evaluation counts
    "psych_evaluation": FactSpec("code", {"evaluators": EVALUATOR_SETS}),
    "opiate_naive": FactSpec("bool"),
    "therapy_failed_duration": FactSpec(
        "duration",
        {
            "class": THERAPY_CLASSES,
            "schedule": ("fixed",),
            "require_failure": bool,
            # which documented reasons replace the duration (the policy's words); none by default
            "waived_by": WAIVER_REASONS,
            # the procedure kinds / drug ingredients whose record may waive; none by default
            "waiver_therapies": str,
            # only drugs given by these routes count (therapies.yaml `routes`); a course without a route counts
            "routes": ("oral", "transdermal"),
            # a home exercise program counts only with its prescriber and this many weeks
            # (or a medical reason for stopping) documented (facts/hep.py)
            "hep_completion_weeks": (int, float),
        },
        ("class",),
        {},
        ("waived_by", "waiver_therapies", "routes"),
    ),
    # dates_and_reasons: a course counts only with its start date and, once stopped, the
    # reason (ineffective, not tolerated, contraindicated)
    "therapy_documented": FactSpec("bool", {"class": THERAPY_CLASSES, "dates_and_reasons": bool}, ("class",)),
    "trial_pain_relief_percent": FactSpec(
        "number", {"held_for_hours": (int, float), **TRIAL_PARAMS}, (), TRIAL_DEFAULTS, ("injectates",)
    ),
    "trial_spasm_relief_percent": FactSpec("number", TRIAL_PARAMS, (), TRIAL_DEFAULTS, ("injectates",)),
    "trial_score_reduction": FactSpec(
        "number",
        {
            "scale": ("ashworth-or-modified-ashworth", "penn-spasm-frequency"),
            "held_for_hours": (int, float),
            **TRIAL_PARAMS,
        },
        ("scale",),
        TRIAL_DEFAULTS,
        ("injectates",),
    ),
    "trial_flag": FactSpec(
        "bool",
        {
            "code": ("trial-function-improved", "trial-side-effects-tolerable"),
            "injectates": TRIAL_DRUG_CLASSES,
        },
        ("code",),
        {},
        ("injectates",),
    ),
    "pump_status": FactSpec("code"),
    # the trial drug (the order's injectate, else the performed trial's usedCode) is of a
    # mappings/drugs.yaml class; unknown when the drug is not identified
    "trial_injectate": FactSpec("bool", {"class": TRIAL_DRUG_CLASSES}, ("class",)),
}

OPS_BY_KIND = {
    "number": (">", ">=", "<", "<=", "==", "!=", "documented"),
    "duration": (">", ">=", "documented"),
    "bool": ("is", "documented"),
    "code": ("==", "!=", "in", "not_in", "documented"),
}
DURATION_UNITS = ("months", "weeks", "days", "hours")
