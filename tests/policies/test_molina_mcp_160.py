"""Molina MCP 160 "Implantable Intrathecal Pain Pump" (2024-08-14), rule by rule.

Each test builds a realistic chart (tests/chart.py), runs the real pipeline and
checks the determination and the criterion the rule is about. Base charts have
everything documented and met; each test changes one thing.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.chart import Chart, at
from tests.helpers import assessment, assessments, criterion, status

POLICY = "molina-mcp-160"
PAYER = "Molina Healthcare of Ohio"
DOS = "2026-09-14"
ADULT_BIRTH = "1968-03-02"

# Criterion ids (policies/molina-mcp-160@2024-08-14.yaml)
NM_TRIAL_IDS = {
    "molina-160-nonmalignant-a-not-cancer-origin",
    "molina-160-nonmalignant-adult-18",
    "molina-160-nonmalignant-a-diagnosis",
    "molina-160-nonmalignant-a-nrs-above-6",
    "molina-160-nonmalignant-b-underlying-cause-failed",
    "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure",
    "molina-160-nonmalignant-c-medication-compliance",
    "molina-160-nonmalignant-d-conservative-6-months",
    "molina-160-nonmalignant-e-psych-favorable",
    "molina-160-nonmalignant-f-body-size",
    "molina-160-nonmalignant-g-no-active-infection",
    "molina-160-nonmalignant-h-no-contraindication",
}
NM_TRIAL_SUCCESS_IDS = {
    "molina-160-nonmalignant-i-trial-relief-50",
    "molina-160-nonmalignant-i-trial-function-improved",
}
CA_TRIAL_IDS = {
    "molina-160-cancer-adult-18",
    "molina-160-cancer-chronic-pain",
    "molina-160-cancer-a-diagnosis",
    "molina-160-cancer-a-nrs-above-6",
    "molina-160-cancer-b-life-expectancy-3-months",
    "molina-160-cancer-c-analgesic-failure",
    "molina-160-cancer-d-body-size",
    "molina-160-cancer-e-no-active-infection",
    "molina-160-cancer-f-no-thecal-sac-encroachment",
    "molina-160-cancer-g-no-contraindication",
}
CA_TRIAL_SUCCESS_IDS = {
    "molina-160-cancer-h-trial-relief-50",
    "molina-160-cancer-h-trial-function-improved",
}


def ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


# ------------------------------------------------------------------ charts
def nonmalignant_chart(phase: str = "trial", omit: tuple[str, ...] = (), **kw) -> Chart:
    """Non-malignant pain, every Molina criterion documented and met.

    Conservative care: physical therapy 2026-01-01 → 2026-06-30 (exactly six
    calendar months, Period.end inclusive), with the fixed-schedule oxycodone course inside it.
    `omit` leaves out a named item so a test can add its own version.
    """
    kw.setdefault("birth_date", ADULT_BIRTH)
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    if "nrs" not in omit:
        c.nrs(8, c.days_before(10))
    if "underlying" not in omit:
        c.flag("underlying-cause-treatment-failed", True)
    if "analgesic" not in omit:
        c.medication("oxycodone", date(2026, 3, 1), date(2026, 5, 1), fixed=True, reason="ineffective")
    if "compliance" not in omit:
        c.flag("medication-compliance", True)
    if "conservative" not in omit:
        c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 6, 30), outcome="ineffective")
    if "psych" not in omit:
        c.psych("favorable")
    if "body" not in omit:
        c.flag("body-habitus-adequate", True)
    if phase == "trial":
        if "order" not in omit:
            c.order("62322", drug="morphine", route="intrathecal")
    else:
        _successful_trial(c, omit)
        if "order" not in omit:
            c.order("62362")
    return c


def cancer_chart(phase: str = "trial", omit: tuple[str, ...] = (), **kw) -> Chart:
    """Pain of cancer origin, every Molina criterion a–g (and h for permanent) met."""
    kw.setdefault("birth_date", ADULT_BIRTH)
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10="C50.911", display="Malignant neoplasm of unspecified site of right female breast")
    if "pain" not in omit:
        # the cancer pain began in the spring: chronic (3 months or more) by the DOS
        c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)", onset=date(2026, 3, 2))
    if "nrs" not in omit:
        c.nrs(8, c.days_before(10))
    if "life" not in omit:
        c.life_expectancy(6, "mo")
    if "analgesic" not in omit:
        c.medication(
            "morphine", c.days_before(120), c.days_before(40), fixed=True, reason="intolerable-side-effects"
        )
    if "body" not in omit:
        c.flag("body-habitus-adequate", True)
    if "thecal" not in omit:
        c.flag("thecal-sac-encroachment", False)
    if phase == "trial":
        if "order" not in omit:
            c.order("62322", drug="morphine", route="intrathecal")
    else:
        _successful_trial(c, omit)
        if "order" not in omit:
            c.order("62362")
    return c


def _successful_trial(c: Chart, omit: tuple[str, ...]):
    """A trial 30 days before the DOS, documented 60 % relief and improved function."""
    t = at(c.days_before(30), 8)
    c.trial(t, drug="morphine")
    if "relief" not in omit:
        c.trial_relief(60, when=t + timedelta(hours=6))
    if "function" not in omit:
        c.trial_flag("trial-function-improved", True, t + timedelta(hours=6))
    return t


def molina(c: Chart, **kw) -> dict:
    return assessment(c, POLICY, **kw)


# ============================================================ policy identity
def test_molina_card_names_policy_version_and_payer():
    a = molina(nonmalignant_chart())
    assert a["policy"] == {
        "id": "molina-mcp-160",
        "version": "2024-08-14",
        "payer": "Molina Healthcare",
        "title": "MCP 160: Implantable Intrathecal Pain Pump",
    }
    assert a["dateOfService"] == DOS


def test_molina_coverage_routes_only_to_molina():
    found = assessments(nonmalignant_chart())
    assert {x["policy"]["id"] for x in found} == {POLICY}


def test_molina_criteria_cite_policy_sentences():
    a = molina(nonmalignant_chart())
    src = criterion(a, "molina-160-nonmalignant-a-nrs-above-6")["source"]
    assert "(>6 on the NRS Pain Rating Scale" in src
    assert "non-cancer origin" in src
    assert (
        "in adults with severe, chronic, intractable pain"
        in criterion(a, "molina-160-nonmalignant-adult-18")["source"]
    )


# ============================================== non-malignant pain: trial (a–h)
def test_molina_nonmalignant_trial_all_documented_is_met():
    a = molina(nonmalignant_chart())
    assert a["order"]["phase"] == "trial"
    assert a["indication"] == "nonmalignant-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == NM_TRIAL_IDS
    assert all(c["status"] == "met" for c in a["criteria"])


def test_molina_nonmalignant_trial_does_not_require_a_successful_trial():
    a = molina(nonmalignant_chart())
    assert not NM_TRIAL_SUCCESS_IDS & {c["id"] for c in a["criteria"]}


# ---- adults only
def test_molina_age_17_is_not_met():
    a = molina(nonmalignant_chart(birth_date="2008-09-15"))  # 18th birthday the day after the DOS
    assert status(a, "molina-160-nonmalignant-adult-18") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_age_18_is_met():
    a = molina(nonmalignant_chart(birth_date="2008-09-14"))  # 18th birthday on the DOS
    assert status(a, "molina-160-nonmalignant-adult-18") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_age_17_is_not_met_not_out_of_scope():
    # Adults only is a criterion, not a scope exclusion: the minor is assessed and not met.
    a = molina(nonmalignant_chart(birth_date="2010-01-01"))
    assert a["determination"] == "criteria-not-met"


# ---- a. diagnosis and NRS > 6
def test_molina_nonmalignant_nrs_exactly_6_is_not_met():
    c = nonmalignant_chart()
    obs = c.nrs(6, c.days_before(2))  # latest NRS before the DOS wins
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "not-met"
    assert criterion(a, "molina-160-nonmalignant-a-nrs-above-6")["evidence"] == [ref(obs)]
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_nrs_7_is_met():
    c = nonmalignant_chart(omit=("nrs",))
    obs = c.nrs(7, c.days_before(2))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "met"
    assert criterion(a, "molina-160-nonmalignant-a-nrs-above-6")["evidence"] == [ref(obs)]
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_nrs_missing_is_unknown():
    a = molina(nonmalignant_chart(omit=("nrs",)))
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_nrs_after_dos_is_ignored():
    c = nonmalignant_chart()
    c.nrs(5, c.dos + timedelta(days=2))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "met"


def test_molina_nonmalignant_diagnosis_only_on_order_is_unknown():
    # The order names M96.1 but no active Condition documents it.
    c = Chart(payer=PAYER, dos=DOS, birth_date=ADULT_BIRTH)
    c.nrs(8, c.days_before(10))
    c.flag("underlying-cause-treatment-failed", True)
    c.medication("oxycodone", date(2026, 3, 1), date(2026, 5, 1), fixed=True, reason="ineffective")
    c.flag("medication-compliance", True)
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 7, 1), outcome="ineffective")
    c.psych("favorable")
    c.flag("body-habitus-adequate", True)
    c.order("62322", drug="morphine", route="intrathecal", reason_icd10="M96.1")
    a = molina(c)
    assert a["indication"] == "nonmalignant-pain"
    assert status(a, "molina-160-nonmalignant-a-diagnosis") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_diagnosis_cites_active_condition():
    c = nonmalignant_chart()
    a = molina(c)
    cond = next(r for r in c.resources["conditions"] if r["code"]["coding"][0]["code"] == "M96.1")
    assert ref(cond) in criterion(a, "molina-160-nonmalignant-a-diagnosis")["evidence"]


# ---- b. failure of interventions for the underlying cause
def test_molina_nonmalignant_underlying_cause_not_failed_is_not_met():
    c = nonmalignant_chart(omit=("underlying",))
    c.flag("underlying-cause-treatment-failed", False)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-b-underlying-cause-failed") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_underlying_cause_undocumented_is_unknown():
    a = molina(nonmalignant_chart(omit=("underlying",)))
    assert status(a, "molina-160-nonmalignant-b-underlying-cause-failed") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- c. analgesics on a fixed schedule failed, with compliance
def test_molina_nonmalignant_fixed_schedule_analgesic_failure_is_met():
    c = nonmalignant_chart(omit=("analgesic",))
    med = c.medication("oxycodone", date(2026, 3, 1), date(2026, 5, 1), fixed=True, reason="ineffective")
    a = molina(c)
    crit = criterion(a, "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure")
    assert crit["status"] == "met"
    assert ref(med) in crit["evidence"]


def test_molina_nonmalignant_other_analgesic_side_effects_is_met():
    c = nonmalignant_chart(omit=("analgesic",))
    c.medication(
        "gabapentin", date(2026, 3, 1), date(2026, 5, 1), fixed=True, reason="intolerable-side-effects"
    )
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure") == "met"


def test_molina_nonmalignant_as_needed_analgesic_only_is_unknown():
    c = nonmalignant_chart(omit=("analgesic",))
    c.medication("oxycodone", date(2026, 3, 1), date(2026, 5, 1), fixed=False, reason="ineffective")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_analgesic_failure_undocumented_is_unknown():
    c = nonmalignant_chart(omit=("analgesic",))
    c.medication("oxycodone", date(2026, 3, 1), date(2026, 5, 1), fixed=True, reason=None)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_no_analgesic_history_is_unknown():
    a = molina(nonmalignant_chart(omit=("analgesic",)))
    assert status(a, "molina-160-nonmalignant-c-fixed-schedule-analgesic-failure") == "unknown"


def test_molina_nonmalignant_medication_noncompliance_is_not_met():
    c = nonmalignant_chart(omit=("compliance",))
    c.flag("medication-compliance", False)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-c-medication-compliance") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_medication_compliance_undocumented_is_unknown():
    a = molina(nonmalignant_chart(omit=("compliance",)))
    assert status(a, "molina-160-nonmalignant-c-medication-compliance") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- d. conservative treatment failed for at least six months
def test_molina_nonmalignant_conservative_exactly_6_months_is_met():
    # Period.end is inclusive: 2026-01-01 to 2026-06-30 is six calendar months.
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 6, 30), outcome="ineffective")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_conservative_6_months_minus_a_day_is_not_met():
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 6, 29), outcome="ineffective")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_conservative_union_of_pt_and_behavioral_health_is_met():
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 4, 1), outcome="ineffective")
    c.therapy("behavioral-health-treatment", date(2026, 4, 1), date(2026, 7, 1), outcome="ineffective")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "met"


def test_molina_nonmalignant_conservative_not_failed_does_not_count():
    # PT that helped is not a failure; only the 2-month failed oxycodone course counts.
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 7, 1), outcome=None)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "not-met"


def test_molina_nonmalignant_physical_therapy_contraindicated_does_not_waive_6_months_of_conservative_treatment():
    # "if appropriate and not contraindicated" qualifies conservative treatment as a whole:
    # physical therapy contraindicated leaves medications and psychological therapy.
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 2, 1), date(2026, 2, 10), outcome="contraindicated")
    a = molina(c)
    cr = criterion(a, "molina-160-nonmalignant-d-conservative-6-months")
    assert cr["status"] == "not-met"  # the two months of failed oxycodone are all there is
    assert "Physical therapy documented as contraindicated" in cr["note"]
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_codeine_allergy_does_not_waive_6_months_of_conservative_treatment():
    c = nonmalignant_chart(omit=("conservative",))
    c.allergy("codeine")["type"] = "allergy"
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_physical_therapy_not_tolerated_after_3_weeks_is_3_weeks_of_failure():
    c = nonmalignant_chart(omit=("conservative",))
    c.therapy("physical-therapy", date(2026, 6, 1), date(2026, 6, 21), outcome="not-tolerated")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-d-conservative-6-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


# ---- e. psychological evaluation
def test_molina_nonmalignant_psych_unfavorable_is_not_met():
    c = nonmalignant_chart(omit=("psych",))
    obs = c.psych("unfavorable")
    a = molina(c)
    crit = criterion(a, "molina-160-nonmalignant-e-psych-favorable")
    assert crit["status"] == "not-met"
    assert ref(obs) in crit["evidence"]
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_psych_missing_is_unknown():
    a = molina(nonmalignant_chart(omit=("psych",)))
    assert status(a, "molina-160-nonmalignant-e-psych-favorable") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_psych_latest_outcome_wins():
    c = nonmalignant_chart(omit=("psych",))
    c.psych("unfavorable", c.days_before(200))
    c.psych("favorable", c.days_before(20))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-e-psych-favorable") == "met"


def test_molina_nonmalignant_depression_with_favorable_psych_is_met():
    # Mental-health conditions are named, never a verdict on their own.
    c = nonmalignant_chart()
    c.condition(icd10="F33.1", display="Major depressive disorder, recurrent, moderate")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-e-psych-favorable") == "met"
    assert a["determination"] == "criteria-met"


# ---- f. body size
def test_molina_nonmalignant_body_size_inadequate_is_not_met():
    c = nonmalignant_chart(omit=("body",))
    c.flag("body-habitus-adequate", False)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-f-body-size") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_body_size_undocumented_is_unknown():
    a = molina(nonmalignant_chart(omit=("body",)))
    assert status(a, "molina-160-nonmalignant-f-body-size") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- g. no active infection
def test_molina_nonmalignant_active_infection_is_not_met():
    c = nonmalignant_chart()
    sepsis = c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    a = molina(c)
    crit = criterion(a, "molina-160-nonmalignant-g-no-active-infection")
    assert crit["status"] == "not-met"
    assert crit["evidence"] == [ref(sepsis)]
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_active_infection_flag_is_not_met():
    c = nonmalignant_chart()
    c.flag("active-infection", True)
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-g-no-active-infection") == "not-met"


def test_molina_nonmalignant_resolved_infection_is_met():
    c = nonmalignant_chart()
    c.condition(
        icd10="M46.25", display="Osteomyelitis of vertebra, thoracolumbar region", clinical="resolved"
    )
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-g-no-active-infection") == "met"


def test_molina_nonmalignant_problem_list_unavailable_is_unknown():
    c = nonmalignant_chart(omit=("order",))
    c.order("62322", drug="morphine", route="intrathecal", reason_icd10="M96.1")
    a = molina(c, omit=("conditions",))
    assert status(a, "molina-160-nonmalignant-g-no-active-infection") == "unknown"
    assert status(a, "molina-160-nonmalignant-h-no-contraindication") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- h. no contraindication to implantation
def test_molina_nonmalignant_coagulopathy_is_not_met():
    c = nonmalignant_chart()
    c.condition(icd10="D68.9", display="Coagulation defect, unspecified")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-h-no-contraindication") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_increased_intracranial_pressure_is_not_met():
    c = nonmalignant_chart()
    c.condition(icd10="G93.2", display="Benign intracranial hypertension")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-h-no-contraindication") == "not-met"


def test_molina_nonmalignant_refuted_coagulopathy_is_met():
    c = nonmalignant_chart()
    c.condition(icd10="D68.9", display="Coagulation defect, unspecified", verification="refuted")
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-h-no-contraindication") == "met"


# ======================================== non-malignant pain: permanent (a–i)
def test_molina_nonmalignant_permanent_all_documented_is_met():
    a = molina(nonmalignant_chart("permanent"))
    assert a["order"]["phase"] == "permanent"
    assert a["indication"] == "nonmalignant-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == NM_TRIAL_IDS | NM_TRIAL_SUCCESS_IDS


def test_molina_nonmalignant_permanent_trial_relief_49_is_not_met():
    c = nonmalignant_chart("permanent", omit=("relief",))
    c.trial_relief(49, when=at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_permanent_trial_relief_50_is_met():
    c = nonmalignant_chart("permanent", omit=("relief",))
    obs = c.trial_relief(50, when=at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "met"
    assert criterion(a, "molina-160-nonmalignant-i-trial-relief-50")["evidence"][0] == ref(obs)
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_permanent_trial_relief_missing_is_unknown():
    a = molina(nonmalignant_chart("permanent", omit=("relief",)))
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_permanent_computed_relief_50_is_met():
    # No documented relief: NRS 8 before the trial, 4 two hours after (50 %), pain back to 8 later.
    c = nonmalignant_chart("permanent", omit=("relief", "nrs"))
    t = at(c.days_before(30), 8)
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(4, t + timedelta(hours=2))
    c.nrs(8, c.days_before(5))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "met"
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_permanent_computed_relief_below_50_is_not_met():
    c = nonmalignant_chart("permanent", omit=("relief", "nrs"))
    t = at(c.days_before(30), 8)
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(5, t + timedelta(hours=2))  # 37.5 %
    c.nrs(8, c.days_before(5))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "not-met"


def test_molina_nonmalignant_permanent_function_not_improved_is_not_met():
    c = nonmalignant_chart("permanent", omit=("function",))
    c.trial_flag("trial-function-improved", False, at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-function-improved") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_permanent_function_undocumented_is_unknown():
    a = molina(nonmalignant_chart("permanent", omit=("function",)))
    assert status(a, "molina-160-nonmalignant-i-trial-function-improved") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_permanent_requires_trial_criteria_nrs_6_is_not_met():
    c = nonmalignant_chart("permanent")
    c.nrs(6, c.days_before(2))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-a-nrs-above-6") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_permanent_requires_psych_evaluation():
    a = molina(nonmalignant_chart("permanent", omit=("psych",)))
    assert status(a, "molina-160-nonmalignant-e-psych-favorable") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_permanent_age_17_is_not_met():
    a = molina(nonmalignant_chart("permanent", birth_date="2008-09-15"))
    assert status(a, "molina-160-nonmalignant-adult-18") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_permanent_e0783_device_request_is_assessed():
    c = nonmalignant_chart("permanent", omit=("order",))
    c.order("E0783", device_request=True)
    a = molina(c)
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "criteria-met"


# ================================================== cancer pain: trial (a–g)
def test_molina_cancer_trial_all_documented_is_met():
    a = molina(cancer_chart())
    assert a["order"]["phase"] == "trial"
    assert a["indication"] == "cancer-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == CA_TRIAL_IDS
    assert all(c["status"] == "met" for c in a["criteria"])


def test_molina_cancer_needs_no_psych_conservative_or_compliance():
    # Malignant pain: no psychological evaluation, six months of conservative care,
    # underlying-cause failure, fixed schedule or compliance requirement.
    a = molina(cancer_chart())
    ids = {c["id"] for c in a["criteria"]}
    assert not any("psych" in i or "conservative" in i or "compliance" in i or "underlying" in i for i in ids)


def test_molina_cancer_age_17_is_not_met():
    a = molina(cancer_chart(birth_date="2008-09-15"))
    assert status(a, "molina-160-cancer-adult-18") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_age_18_is_met():
    a = molina(cancer_chart(birth_date="2008-09-14"))
    assert status(a, "molina-160-cancer-adult-18") == "met"
    assert a["determination"] == "criteria-met"


# ---- a. diagnosis and NRS > 6
def test_molina_cancer_nrs_exactly_6_is_not_met():
    c = cancer_chart(omit=("nrs",))
    obs = c.nrs(6, c.days_before(3))
    a = molina(c)
    crit = criterion(a, "molina-160-cancer-a-nrs-above-6")
    assert crit["status"] == "not-met"
    assert crit["evidence"] == [ref(obs)]
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_nrs_7_is_met():
    c = cancer_chart(omit=("nrs",))
    c.nrs(7, c.days_before(3))
    a = molina(c)
    assert status(a, "molina-160-cancer-a-nrs-above-6") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_nrs_missing_is_unknown():
    a = molina(cancer_chart(omit=("nrs",)))
    assert status(a, "molina-160-cancer-a-nrs-above-6") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_diagnosis_is_met_from_problem_list():
    a = molina(cancer_chart())
    assert status(a, "molina-160-cancer-a-diagnosis") == "met"
    assert criterion(a, "molina-160-cancer-a-diagnosis")["evidence"]


# ---- b. life expectancy of at least 3 months
def test_molina_cancer_life_expectancy_2_9_months_is_not_met():
    c = cancer_chart(omit=("life",))
    obs = c.life_expectancy(2.9, "mo")
    a = molina(c)
    crit = criterion(a, "molina-160-cancer-b-life-expectancy-3-months")
    assert crit["status"] == "not-met"
    assert crit["evidence"] == [ref(obs)]
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_life_expectancy_3_months_is_met():
    c = cancer_chart(omit=("life",))
    c.life_expectancy(3, "mo")
    a = molina(c)
    assert status(a, "molina-160-cancer-b-life-expectancy-3-months") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_life_expectancy_12_weeks_is_not_met():
    c = cancer_chart(omit=("life",))
    c.life_expectancy(12, "wk")
    a = molina(c)
    assert status(a, "molina-160-cancer-b-life-expectancy-3-months") == "not-met"


def test_molina_cancer_life_expectancy_1_year_is_met():
    c = cancer_chart(omit=("life",))
    c.life_expectancy(1, "a")
    a = molina(c)
    assert status(a, "molina-160-cancer-b-life-expectancy-3-months") == "met"


def test_molina_cancer_life_expectancy_missing_is_unknown():
    a = molina(cancer_chart(omit=("life",)))
    assert status(a, "molina-160-cancer-b-life-expectancy-3-months") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- c. systemic opioid / other analgesic failure or side effects
def test_molina_cancer_opioid_side_effects_is_met():
    c = cancer_chart(omit=("analgesic",))
    med = c.medication(
        "morphine", c.days_before(120), c.days_before(40), fixed=True, reason="intolerable-side-effects"
    )
    a = molina(c)
    crit = criterion(a, "molina-160-cancer-c-analgesic-failure")
    assert crit["status"] == "met"
    assert ref(med) in crit["evidence"]


def test_molina_cancer_as_needed_opioid_failure_is_met():
    # The fixed-schedule requirement is for non-malignant pain only.
    c = cancer_chart(omit=("analgesic",))
    c.medication("hydromorphone", c.days_before(90), c.days_before(30), fixed=False, reason="ineffective")
    a = molina(c)
    assert status(a, "molina-160-cancer-c-analgesic-failure") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_short_analgesic_failure_is_met():
    # No minimum duration for malignant pain.
    c = cancer_chart(omit=("analgesic",))
    c.medication("oxycodone", c.days_before(20), c.days_before(13), fixed=True, reason="ineffective")
    a = molina(c)
    assert status(a, "molina-160-cancer-c-analgesic-failure") == "met"


def test_molina_cancer_analgesic_failure_undocumented_is_unknown():
    c = cancer_chart(omit=("analgesic",))
    c.medication("morphine", c.days_before(120), None, fixed=True, reason=None, status="active")
    a = molina(c)
    assert status(a, "molina-160-cancer-c-analgesic-failure") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_no_analgesic_history_is_unknown():
    a = molina(cancer_chart(omit=("analgesic",)))
    assert status(a, "molina-160-cancer-c-analgesic-failure") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# ---- d. body size
def test_molina_cancer_body_size_inadequate_is_not_met():
    c = cancer_chart(omit=("body",))
    c.flag("body-habitus-adequate", False)
    a = molina(c)
    assert status(a, "molina-160-cancer-d-body-size") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_body_size_undocumented_is_unknown():
    a = molina(cancer_chart(omit=("body",)))
    assert status(a, "molina-160-cancer-d-body-size") == "unknown"


# ---- e. no active infection
def test_molina_cancer_active_infection_is_not_met():
    c = cancer_chart()
    c.condition(icd10="G06.1", display="Intraspinal abscess and granuloma")
    a = molina(c)
    assert status(a, "molina-160-cancer-e-no-active-infection") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_no_infection_on_retrieved_problem_list_is_met():
    a = molina(cancer_chart())
    crit = criterion(a, "molina-160-cancer-e-no-active-infection")
    assert crit["status"] == "met"


# ---- f. no thecal sac encroachment / epidural metastases
def test_molina_cancer_thecal_sac_encroachment_is_not_met():
    c = cancer_chart(omit=("thecal",))
    obs = c.flag("thecal-sac-encroachment", True)
    a = molina(c)
    crit = criterion(a, "molina-160-cancer-f-no-thecal-sac-encroachment")
    assert crit["status"] == "not-met"
    assert crit["evidence"] == [ref(obs)]
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_epidural_metastasis_condition_is_not_met():
    c = cancer_chart()  # imaging said no encroachment, but C79.49 is on the problem list
    c.condition(icd10="C79.49", display="Secondary malignant neoplasm of other parts of nervous system")
    a = molina(c)
    assert status(a, "molina-160-cancer-f-no-thecal-sac-encroachment") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_thecal_sac_not_tested_is_unknown():
    a = molina(cancer_chart(omit=("thecal",)))
    assert status(a, "molina-160-cancer-f-no-thecal-sac-encroachment") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_bone_metastases_alone_do_not_decide_thecal_sac():
    c = cancer_chart()
    c.condition(icd10="C79.51", display="Secondary malignant neoplasm of bone")
    a = molina(c)
    assert status(a, "molina-160-cancer-f-no-thecal-sac-encroachment") == "met"


# ---- g. no contraindication to implantation
def test_molina_cancer_pancytopenia_or_coagulopathy_is_not_met():
    c = cancer_chart()
    c.condition(icd10="D68.9", display="Coagulation defect, unspecified")
    a = molina(c)
    assert status(a, "molina-160-cancer-g-no-contraindication") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_increased_intracranial_pressure_is_not_met():
    c = cancer_chart()
    c.condition(icd10="G93.2", display="Benign intracranial hypertension")
    a = molina(c)
    assert status(a, "molina-160-cancer-g-no-contraindication") == "not-met"


# ============================================== cancer pain: permanent (a–h)
def test_molina_cancer_permanent_all_documented_is_met():
    a = molina(cancer_chart("permanent"))
    assert a["order"]["phase"] == "permanent"
    assert a["indication"] == "cancer-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == CA_TRIAL_IDS | CA_TRIAL_SUCCESS_IDS


def test_molina_cancer_permanent_trial_relief_49_is_not_met():
    c = cancer_chart("permanent", omit=("relief",))
    c.trial_relief(49, when=at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-cancer-h-trial-relief-50") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_permanent_trial_relief_50_is_met():
    c = cancer_chart("permanent", omit=("relief",))
    c.trial_relief(50, when=at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-cancer-h-trial-relief-50") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_permanent_trial_relief_missing_is_unknown():
    a = molina(cancer_chart("permanent", omit=("relief",)))
    assert status(a, "molina-160-cancer-h-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_permanent_function_not_improved_is_not_met():
    c = cancer_chart("permanent", omit=("function",))
    c.trial_flag("trial-function-improved", False, at(c.days_before(30), 14))
    a = molina(c)
    assert status(a, "molina-160-cancer-h-trial-function-improved") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_permanent_function_recorded_before_trial_is_unknown():
    c = cancer_chart("permanent", omit=("function",))
    c.trial_flag("trial-function-improved", True, c.days_before(60))
    a = molina(c)
    assert status(a, "molina-160-cancer-h-trial-function-improved") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_permanent_requires_trial_criteria_life_expectancy():
    c = cancer_chart("permanent", omit=("life",))
    c.life_expectancy(2.9, "mo")
    a = molina(c)
    assert status(a, "molina-160-cancer-b-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_permanent_thecal_sac_encroachment_is_not_met():
    c = cancer_chart("permanent", omit=("thecal",))
    c.flag("thecal-sac-encroachment", True)
    a = molina(c)
    assert status(a, "molina-160-cancer-f-no-thecal-sac-encroachment") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_molina_cancer_permanent_age_17_is_not_met():
    a = molina(cancer_chart("permanent", birth_date="2008-09-15"))
    assert status(a, "molina-160-cancer-adult-18") == "not-met"
    assert a["determination"] == "criteria-not-met"


# ================================== spasticity / dystonia → MCG A-0420
def _spasticity_chart(icd10: str = "G35", display: str = "Multiple sclerosis", **kw) -> Chart:
    kw.setdefault("birth_date", ADULT_BIRTH)
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10=icd10, display=display)
    c.score("modified-ashworth", 3, c.days_before(10))
    c.medication("baclofen", c.days_before(300), c.days_before(30), fixed=True, reason="ineffective")
    return c


def test_molina_spasticity_is_not_evaluable():
    c = _spasticity_chart()
    c.order("62322", drug="baclofen", route="intrathecal")
    a = molina(c)
    assert a["indication"] == "spasticity"
    assert a["order"]["phase"] == "trial"
    assert a["determination"] == "not-evaluable"
    assert a["criteria"] == []  # Molina lists no documentation of its own


def test_molina_spasticity_permanent_is_not_evaluable():
    c = _spasticity_chart()
    c.order("62362", reason_icd10="G35")
    a = molina(c)
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "not-evaluable"


def test_molina_spasticity_replacement_is_not_evaluable():
    c = _spasticity_chart()
    c.pump("battery-near-end")
    c.order("62362", reason_icd10="G35")
    a = molina(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-evaluable"


def test_molina_spasticity_child_is_not_evaluable_not_age_checked():
    # The adult restriction is Molina's pain criterion; spasticity is for MCG to decide.
    c = _spasticity_chart(icd10="G80.9", display="Cerebral palsy, unspecified", birth_date="2016-05-01")
    c.order("62322", drug="baclofen", route="intrathecal")
    a = molina(c)
    assert a["determination"] == "not-evaluable"


def test_molina_dystonia_is_not_evaluable():
    c = Chart(payer=PAYER, dos=DOS, birth_date=ADULT_BIRTH)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.order("62322", drug="baclofen", route="intrathecal")
    a = molina(c)
    assert a["indication"] == "dystonia"
    assert a["determination"] == "not-evaluable"


def test_molina_dystonia_permanent_is_not_evaluable():
    c = Chart(payer=PAYER, dos=DOS, birth_date=ADULT_BIRTH)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.order("62362", reason_icd10="G24.1")
    a = molina(c)
    assert a["indication"] == "dystonia"
    assert a["determination"] == "not-evaluable"


# ========================================================== replacement
def test_molina_nonmalignant_replacement_is_not_applicable():
    c = nonmalignant_chart("permanent", omit=("order",))
    c.pump("battery-near-end")
    c.order("62362")
    a = molina(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-applicable"
    assert a["criteria"] == []


def test_molina_cancer_replacement_is_not_applicable():
    c = cancer_chart("permanent", omit=("order",))
    c.pump("malfunction")
    c.order("E0786")
    a = molina(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-applicable"


def test_molina_replacement_of_functional_pump_is_not_applicable():
    # Molina is silent on replacement; it never says "not medically necessary" either.
    c = nonmalignant_chart("permanent", omit=("order",))
    c.pump("functional")
    c.order("62362")
    a = molina(c)
    assert a["determination"] == "not-applicable"


# ========================================================== out of scope
def test_molina_pump_refill_gets_no_assessment():
    c = nonmalignant_chart(omit=("order",))
    c.pump("functional")
    c.order("95990")
    assert [x for x in assessments(c) if x["policy"]["id"] == POLICY] == []


@pytest.mark.parametrize("birth_date, expected", [("2008-09-15", "not-met"), ("2008-09-14", "met")])
def test_molina_age_boundary_same_for_both_pain_types(birth_date, expected):
    for chart, leaf in (
        (nonmalignant_chart, "molina-160-nonmalignant-adult-18"),
        (cancer_chart, "molina-160-cancer-adult-18"),
    ):
        assert status(molina(chart(birth_date=birth_date)), leaf) == expected


# ============================================ the trial, its window, standing pain (issue 9)
def test_molina_nonmalignant_nrs_a_week_after_a_single_bolus_is_the_standing_pain():
    """'(>6 on the NRS Pain Rating Scale)': a score a week after one injection is no longer the trial drug."""
    c = nonmalignant_chart("permanent", omit=("nrs",))
    t = at(c.days_before(30), 8)
    c.nrs(8, t - timedelta(days=2))
    c.nrs(2, t + timedelta(hours=6))  # the bolus working: left out
    week = c.nrs(5, t + timedelta(days=7))
    a = molina(c)
    cr = criterion(a, "molina-160-nonmalignant-a-nrs-above-6")
    assert cr["status"] == "not-met" and cr["evidence"] == [ref(week)]
    assert a["determination"] == "criteria-not-met"


def test_molina_nonmalignant_nrs_during_the_bolus_is_not_the_standing_pain():
    c = nonmalignant_chart("permanent", omit=("nrs",))
    t = at(c.days_before(30), 8)
    before = c.nrs(8, t - timedelta(days=2))
    c.nrs(2, t + timedelta(hours=6))
    a = molina(c)
    cr = criterion(a, "molina-160-nonmalignant-a-nrs-above-6")
    assert cr["status"] == "met" and cr["evidence"] == [ref(before)]


def test_molina_nonmalignant_permanent_a_baclofen_trial_is_not_an_analgesic_trial():
    """'a temporary trial of intrathecal opiates or non-opiate analgesics'"""
    c = nonmalignant_chart("permanent", omit=("relief", "function"))
    c.resources["procedures"] = [p for p in c.resources["procedures"] if not p["id"].startswith("trial")]
    t = at(c.days_before(30), 8)
    c.trial(t, drug="baclofen")
    c.trial_relief(60, when=t + timedelta(hours=6))
    c.trial_flag("trial-function-improved", True, t + timedelta(hours=6))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "unknown"
    assert status(a, "molina-160-nonmalignant-i-trial-function-improved") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_nonmalignant_permanent_a_ziconotide_trial_is_a_non_opiate_analgesic_trial():
    c = nonmalignant_chart("permanent", omit=("relief", "function"))
    c.resources["procedures"] = [p for p in c.resources["procedures"] if not p["id"].startswith("trial")]
    t = at(c.days_before(30), 8)
    c.trial(t, marker=False, drug="ziconotide")
    c.trial_relief(60, when=t + timedelta(hours=6))
    c.trial_flag("trial-function-improved", True, t + timedelta(hours=6))
    a = molina(c)
    assert a["determination"] == "criteria-met"


def test_molina_nonmalignant_permanent_a_later_epidural_steroid_injection_does_not_void_the_trial():
    c = nonmalignant_chart("permanent")
    c.epidural_steroid_injection(at(c.days_before(3), 10))
    a = molina(c)
    assert status(a, "molina-160-nonmalignant-i-trial-relief-50") == "met"
    assert status(a, "molina-160-nonmalignant-i-trial-function-improved") == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_permanent_computed_relief_ten_days_after_a_bolus_is_not_trial_relief():
    c = cancer_chart("permanent", omit=("relief", "nrs"))
    t = at(c.days_before(30), 8)
    c.nrs(8, t - timedelta(hours=2))
    c.nrs(3, t + timedelta(days=10))  # a standing score, long after the bolus wore off
    a = molina(c)
    assert status(a, "molina-160-cancer-h-trial-relief-50") == "unknown"
    assert status(a, "molina-160-cancer-a-nrs-above-6") == "not-met"
