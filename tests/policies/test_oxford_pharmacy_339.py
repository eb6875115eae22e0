"""UnitedHealthcare Oxford PHARMACY 339.7 (policies/oxford-pharmacy-339@339.7.yaml).

Non-malignant pain: explicit trial criteria (age >= 18, etiology documented,
further treatment not indicated or refused, >= 6 months of failed conservative
care, favorable psych evaluation); permanent = the trial criteria + >= 50 %
relief. Cancer-related pain and spasticity defer to InterQual (not-evaluable,
with the Documentation Requirements rows). Dystonia is not addressed;
replacement is not addressed (except where the InterQual deferral applies).
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.chart import Chart, at
from tests.helpers import assessment, criterion, status

POLICY = "oxford-pharmacy-339"
PAYER = "Oxford Health Plans (UnitedHealthcare)"
DOS = "2026-09-14"

P = "oxford-339-7-"
AGE = P + "nonmalignant-trial-age-18"
ETIOLOGY = P + "nonmalignant-trial-etiology-documented"
NOT_INDICATED = P + "nonmalignant-trial-further-treatment-not-indicated"
REFUSED = P + "nonmalignant-trial-further-treatment-refused"
CONSERVATIVE = P + "nonmalignant-trial-conservative-failure-6-months"
PSYCH = P + "nonmalignant-trial-no-untreated-psych-issues"
RELIEF = P + "nonmalignant-permanent-relief-50-percent"
NOT_CANCER = P + "nonmalignant-trial-not-cancer-related"
TRIAL_IDS = {AGE, ETIOLOGY, NOT_CANCER, NOT_INDICATED, REFUSED, CONSERVATIVE, PSYCH}

CANCER_DOCS = [
    P + "cancer-doc-condition",
    P + "cancer-doc-metastatic-lesions",
    P + "cancer-doc-intracranial-pressure",
    P + "cancer-doc-life-expectancy",
    P + "cancer-doc-treatments",
    P + "cancer-doc-trial-pain-reduction",
]
SPASTICITY_DOCS = [
    P + "spasticity-doc-condition",
    P + "spasticity-doc-functional-impairment",
    P + "spasticity-doc-modified-ashworth",
    P + "spasticity-doc-penn-spasm-frequency",
    P + "spasticity-doc-treatments",
    P + "spasticity-doc-psych-history",
    P + "spasticity-doc-intracranial-pressure",
    P + "spasticity-doc-trial-pain-reduction",
    P + "spasticity-doc-ashworth-reduction",
    P + "spasticity-doc-penn-reduction",
]
INTERQUAL = "InterQual® CP: Procedures, Epidural or Intrathecal Catheter Placement"


# -- charts ------------------------------------------------------------------


def nonmalignant_base(
    further_surgery: bool | None = True, psych: str | None = "favorable", conservative: bool = True, **kw
) -> Chart:
    """A non-malignant pain chart with every trial criterion met (no order yet)."""
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.nrs(8, c.days_before(10))
    if further_surgery is not None:
        c.flag("further-surgery-not-indicated", further_surgery, c.days_before(30))
    if conservative:
        c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome="ineffective")
        c.medication("oxycodone", c.days_before(300), c.days_before(20), fixed=True, reason="ineffective")
    if psych is not None:
        c.psych(psych, c.days_before(40))
    return c


def nonmalignant_trial_chart(**kw) -> Chart:
    c = nonmalignant_base(**kw)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def nonmalignant_permanent_chart(relief: float | None = 65, **kw) -> Chart:
    c = nonmalignant_base(**kw)
    c.trial(at(c.days_before(21), 8), drug="morphine")
    if relief is not None:
        c.trial_relief(relief, when=c.days_before(20))
    c.order("62362")
    return c


def oxford(c: Chart, **kw) -> dict:
    return assessment(c, POLICY, **kw)


# -- routing, codes ----------------------------------------------------------


def test_oxford_payer_routes_to_pharmacy_339_7():
    a = oxford(nonmalignant_trial_chart())
    assert a["policy"] == {
        "id": POLICY,
        "version": "339.7",
        "payer": "UnitedHealthcare Oxford",
        "title": "PHARMACY 339.7: Implanted Spinal Drug Delivery Systems",
    }
    assert a["order"]["phase"] == "trial"
    assert a["indication"] == "nonmalignant-pain"


def test_oxford_62323_trial_order_is_assessed():
    """62323 is in Applicable Codes though missing from the Documentation Requirements header."""
    c = nonmalignant_base()
    c.order("62323", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert a["order"]["code"] == "62323"
    assert a["determination"] == "criteria-met"


# -- non-malignant pain: trial -------------------------------------------------


def test_oxford_nonmalignant_trial_full_chart_is_met():
    c = nonmalignant_trial_chart()
    a = oxford(c)
    assert a["determination"] == "criteria-met"
    assert {x["id"] for x in a["criteria"]} == TRIAL_IDS
    for cid in TRIAL_IDS - {REFUSED}:
        assert status(a, cid) == "met", cid
    assert status(a, REFUSED) == "unknown"  # the other branch of the ANY
    m961 = next(r for r in c.resources["conditions"] if r["code"]["coding"][0]["code"] == "M96.1")
    assert criterion(a, ETIOLOGY)["evidence"] == [f"Condition/{m961['id']}"]
    assert criterion(a, AGE)["evidence"] == ["Patient/pat-1"]


def test_oxford_nonmalignant_trial_cites_the_policy_sentences():
    a = oxford(nonmalignant_trial_chart())
    assert criterion(a, AGE)["source"].startswith("Age ≥ 18 years")
    assert "minimum of a 6-month trial of conservative methods" in criterion(a, CONSERVATIVE)["source"]
    assert "untreated psychological or psychosocial issues" in criterion(a, PSYCH)["source"]


def test_oxford_nonmalignant_age_17_is_not_addressed():
    """'This policy does not address individuals who are younger than 18 years of age.'"""
    c = nonmalignant_trial_chart(birth_date="2008-09-15")  # turns 18 the day after the DOS
    a = oxford(c)
    assert a["determination"] == "not-applicable"
    cr = criterion(a, "oxford-pharmacy-339-age-scope")
    assert cr["source"] == "This policy does not address individuals who are younger than 18 years of age."
    assert cr["evidence"] == [f"Patient/{c.patient['id']}"]


def test_oxford_nonmalignant_age_18_on_the_birthday_is_met():
    c = nonmalignant_trial_chart(birth_date="2008-09-14")
    a = oxford(c)
    assert status(a, AGE) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_missing_birth_date_is_unknown():
    c = nonmalignant_trial_chart()
    del c.patient["birthDate"]
    a = oxford(c)
    assert status(a, AGE) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_etiology_undocumented_is_unknown():
    """Indication from the order's reason, but no active Condition documents the etiology."""
    c = Chart(payer=PAYER, dos=DOS)
    c.flag("further-surgery-not-indicated", True, c.days_before(30))
    c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome="ineffective")
    c.psych("favorable", c.days_before(40))
    c.order("62322", drug="morphine", route="intrathecal", reason_icd10="M96.1")
    a = oxford(c)
    assert a["indication"] == "nonmalignant-pain"
    assert status(a, ETIOLOGY) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_refuted_diagnosis_does_not_document_etiology():
    c = Chart(payer=PAYER, dos=DOS)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome", verification="refuted")
    c.flag("further-surgery-not-indicated", True, c.days_before(30))
    c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome="ineffective")
    c.psych("favorable", c.days_before(40))
    c.order("62322", drug="morphine", route="intrathecal", reason_icd10="M96.1")
    a = oxford(c)
    assert status(a, ETIOLOGY) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_further_treatment_refused_is_met():
    c = nonmalignant_base(further_surgery=None)
    c.flag("further-treatment-refused", True, c.days_before(15))
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, REFUSED) == "met"
    assert status(a, NOT_INDICATED) == "unknown"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_surgery_indicated_and_not_refused_is_not_met():
    c = nonmalignant_base(further_surgery=False)
    c.flag("further-treatment-refused", False, c.days_before(15))
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, NOT_INDICATED) == "not-met"
    assert status(a, REFUSED) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_surgery_indicated_refusal_undocumented_is_unknown():
    c = nonmalignant_trial_chart(further_surgery=False)
    a = oxford(c)
    assert status(a, NOT_INDICATED) == "not-met"
    assert status(a, REFUSED) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_further_treatment_undocumented_is_unknown():
    c = nonmalignant_trial_chart(further_surgery=None)
    a = oxford(c)
    assert status(a, NOT_INDICATED) == "unknown"
    assert status(a, REFUSED) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def _conservative_only(
    start: date, end: date, kind: str = "physical-therapy", outcome: str = "ineffective"
) -> Chart:
    c = nonmalignant_base(conservative=False)
    c.therapy(kind, start, end, outcome=outcome)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def test_oxford_nonmalignant_conservative_exactly_6_months_is_met():
    # Period.end is inclusive: 2026-01-01 to 2026-06-30 covers six calendar months.
    a = oxford(_conservative_only(date(2026, 1, 1), date(2026, 6, 30)))
    assert status(a, CONSERVATIVE) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_conservative_6_months_minus_a_day_is_not_met():
    c = _conservative_only(date(2026, 1, 1), date(2026, 6, 29))
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "not-met"
    assert a["determination"] == "criteria-not-met"
    pt = c.resources["procedures"][-1]
    assert criterion(a, CONSERVATIVE)["evidence"] == [f"Procedure/{pt['id']}"]


def test_oxford_nonmalignant_consecutive_conservative_courses_add_up_to_6_months():
    c = nonmalignant_base(conservative=False)
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 4, 1), outcome="ineffective")
    c.medication("gabapentin", date(2026, 4, 1), date(2026, 7, 1), reason="ineffective")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "met"


def test_oxford_nonmalignant_back_to_back_courses_join_without_losing_a_day():
    c = nonmalignant_base(conservative=False)
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 3, 31), outcome="ineffective")
    c.medication("gabapentin", date(2026, 4, 1), date(2026, 6, 30), reason="ineffective")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_a_gap_between_courses_is_not_conservative_treatment():
    # Span 2026-01-01..2026-07-01 is over six months, but the two days 04-01/04-02 are
    # not covered: 180 covered days are one short of six calendar months (181).
    c = nonmalignant_base(conservative=False)
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 3, 31), outcome="ineffective")
    c.medication("gabapentin", date(2026, 4, 3), date(2026, 7, 1), reason="ineffective")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "not-met"


def test_oxford_nonmalignant_physical_therapy_not_tolerated_after_3_weeks_does_not_waive_6_months():
    c = nonmalignant_base(conservative=False)
    c.therapy("physical-therapy", date(2026, 6, 1), date(2026, 6, 21), outcome="not-tolerated")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_intolerable_side_effects_are_a_failure():
    c = nonmalignant_base(conservative=False)
    c.medication("gabapentin", date(2025, 10, 1), date(2026, 4, 15), reason="intolerable-side-effects")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_behavioral_health_treatment_counts_as_conservative():
    a = oxford(_conservative_only(date(2025, 9, 1), date(2026, 3, 1), kind="behavioral-health-treatment"))
    assert status(a, CONSERVATIVE) == "met"


def test_oxford_nonmalignant_contraindication_does_not_waive_6_months():
    c = nonmalignant_base(conservative=False)
    c.therapy("physical-therapy", date(2026, 5, 1), date(2026, 7, 1), outcome="ineffective")  # 2 months
    c.allergy("gabapentin")  # an intolerance is not a 6-month trial
    c.medication("tramadol", date(2026, 7, 1), date(2026, 7, 10), reason="contraindicated")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_conservative_without_documented_failure_is_unknown():
    a = oxford(_conservative_only(date(2025, 1, 1), date(2026, 1, 1), outcome=None))
    assert status(a, CONSERVATIVE) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_no_conservative_history_is_unknown():
    c = nonmalignant_base(conservative=False)
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, CONSERVATIVE) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_unfavorable_psych_evaluation_is_not_met():
    c = nonmalignant_trial_chart(psych="unfavorable")
    a = oxford(c)
    assert status(a, PSYCH) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_no_psych_evaluation_is_unknown():
    a = oxford(nonmalignant_trial_chart(psych=None))
    assert status(a, PSYCH) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_latest_psych_evaluation_decides():
    c = nonmalignant_base(psych="unfavorable")
    ev = c.psych("favorable", c.days_before(5))
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, PSYCH) == "met"
    assert f"Observation/{ev['id']}" in criterion(a, PSYCH)["evidence"]


def test_oxford_nonmalignant_depression_alone_does_not_decide_psych():
    c = nonmalignant_base(psych=None)
    c.condition(icd10="F33.1", display="Major depressive disorder, recurrent, moderate")
    c.order("62322", drug="morphine", route="intrathecal")
    a = oxford(c)
    assert status(a, PSYCH) == "unknown"


# -- non-malignant pain: permanent ----------------------------------------------


def test_oxford_nonmalignant_permanent_full_chart_is_met():
    a = oxford(nonmalignant_permanent_chart())
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "criteria-met"
    assert {x["id"] for x in a["criteria"]} == TRIAL_IDS | {RELIEF}


def test_oxford_nonmalignant_permanent_relief_exactly_50_percent_is_met():
    a = oxford(nonmalignant_permanent_chart(relief=50))
    assert status(a, RELIEF) == "met"
    assert a["determination"] == "criteria-met"


def test_oxford_nonmalignant_permanent_relief_49_percent_is_not_met():
    a = oxford(nonmalignant_permanent_chart(relief=49))
    assert status(a, RELIEF) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_permanent_relief_undocumented_is_unknown():
    a = oxford(nonmalignant_permanent_chart(relief=None))
    assert status(a, RELIEF) == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_oxford_nonmalignant_permanent_relief_computed_from_nrs_50_percent_is_met():
    c = nonmalignant_base()
    t = at(c.days_before(20), 8)
    c.trial(t, drug="morphine")
    c.nrs(8, t - timedelta(hours=1))
    after = c.nrs(4, t + timedelta(hours=4))
    c.order("62362")
    a = oxford(c)
    assert status(a, RELIEF) == "met"
    assert f"Observation/{after['id']}" in criterion(a, RELIEF)["evidence"]


def test_oxford_nonmalignant_permanent_relief_computed_below_50_percent_is_not_met():
    c = nonmalignant_base()
    t = at(c.days_before(20), 8)
    c.trial(t, drug="morphine")
    c.nrs(10, t - timedelta(hours=1))
    c.nrs(6, t + timedelta(hours=4))  # 40 %
    c.order("62362")
    a = oxford(c)
    assert status(a, RELIEF) == "not-met"


def test_oxford_nonmalignant_permanent_age_17_is_not_addressed():
    a = oxford(nonmalignant_permanent_chart(relief=80, birth_date="2008-09-15"))
    assert a["determination"] == "not-applicable"


def test_oxford_nonmalignant_permanent_needs_the_trial_criteria_psych_missing_is_unknown():
    a = oxford(nonmalignant_permanent_chart(relief=80, psych=None))
    assert status(a, PSYCH) == "unknown"
    assert a["determination"] == "documentation-incomplete"


# -- non-malignant pain: replacement, dystonia ----------------------------------


def test_oxford_nonmalignant_replacement_is_not_addressed():
    c = nonmalignant_base()
    c.pump("battery-near-end")
    c.order("62362")
    a = oxford(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-applicable"
    assert a["criteria"] == []


def test_oxford_dystonia_is_not_addressed():
    c = Chart(payer=PAYER, dos=DOS)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.order("62322", drug="baclofen", route="intrathecal")
    a = oxford(c)
    assert a["indication"] == "dystonia"
    assert a["determination"] == "not-applicable"


# -- cancer-related pain: deferred to InterQual ---------------------------------


def cancer_chart(order: str = "62322", documented: bool = True, **kw) -> Chart:
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10="C50.9", display="Malignant neoplasm of breast, unspecified")
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    c.nrs(9, c.days_before(5))
    if documented:
        c.condition(icd10="C79.51", display="Secondary malignant neoplasm of bone")
        c.life_expectancy(8, "mo", c.days_before(10))
        c.medication(
            "morphine", c.days_before(120), c.days_before(5), fixed=True, reason="intolerable-side-effects"
        )
    if order == "62322":
        c.order(order, drug="morphine", route="intrathecal")
    else:
        c.order(order)
    return c


def test_oxford_cancer_pain_is_not_evaluable_and_lists_documentation():
    c = cancer_chart()
    a = oxford(c)
    assert a["indication"] == "cancer-pain"
    assert a["determination"] == "not-evaluable"
    # a trial is asked only the "For trial" rows: the implantation row is not asked before a trial
    assert [x["id"] for x in a["criteria"]] == CANCER_DOCS[:-1]
    for cid in CANCER_DOCS[:-1]:
        assert status(a, cid) == "met", cid
    assert all(not x.get("blocking") for x in a["criteria"])
    mets = next(r for r in c.resources["conditions"] if r["code"]["coding"][0]["code"] == "C79.51")
    assert criterion(a, P + "cancer-doc-metastatic-lesions")["evidence"] == [f"Condition/{mets['id']}"]
    assert (
        criterion(a, P + "cancer-doc-metastatic-lesions")["source"]
        == "Presence and location of metastatic lesions"
    )


def test_oxford_cancer_pain_undocumented_rows_are_unknown_but_still_not_evaluable():
    a = oxford(cancer_chart(documented=False))
    assert a["determination"] == "not-evaluable"
    assert status(a, P + "cancer-doc-metastatic-lesions") == "unknown"
    assert status(a, P + "cancer-doc-life-expectancy") == "unknown"
    assert status(a, P + "cancer-doc-treatments") == "unknown"
    assert status(a, P + "cancer-doc-condition") == "met"
    # no ICP condition on a retrieved problem list documents its absence
    assert status(a, P + "cancer-doc-intracranial-pressure") == "met"


def test_oxford_cancer_pain_increased_intracranial_pressure_is_documented():
    c = cancer_chart()
    icp = c.condition(icd10="G93.2", display="Benign intracranial hypertension")
    a = oxford(c)
    assert status(a, P + "cancer-doc-intracranial-pressure") == "met"
    assert f"Condition/{icp['id']}" in criterion(a, P + "cancer-doc-intracranial-pressure")["evidence"]
    assert a["determination"] == "not-evaluable"


def test_oxford_cancer_pain_permanent_lists_trial_pain_reduction():
    c = cancer_chart(order="62362")
    c.trial(at(c.days_before(21), 8), drug="morphine")
    c.trial_relief(70, when=c.days_before(20))
    a = oxford(c)
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "not-evaluable"
    assert all(status(a, cid) == "met" for cid in CANCER_DOCS)


def test_oxford_cancer_pain_age_17_is_not_addressed():
    """The footnote speaks of "this policy": minors are outside it for every indication."""
    a = oxford(cancer_chart(birth_date="2008-09-15"))
    assert a["determination"] == "not-applicable"


def test_oxford_cancer_pain_age_18_on_the_birthday_is_still_not_evaluable():
    a = oxford(cancer_chart(birth_date="2008-09-14"))
    assert a["determination"] == "not-evaluable"


def test_oxford_cancer_pain_replacement_is_deferred_too():
    c = cancer_chart(order="62362")
    c.pump("battery-depleted")
    a = oxford(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-evaluable"


# -- spasticity: deferred to InterQual -------------------------------------------


def spasticity_chart(order: str = "62322", **kw) -> Chart:
    c = Chart(payer=PAYER, dos=DOS, **kw)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.flag("functional-impairment", True, c.days_before(12))
    c.score("modified-ashworth", 3, c.days_before(12))
    c.medication("baclofen", c.days_before(300), c.days_before(30), reason="ineffective")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(100), outcome="ineffective")
    c.psych("favorable", c.days_before(40))
    if order == "62322":
        c.order(order, drug="baclofen", route="intrathecal")
    else:
        c.order(order)
    return c


def test_oxford_spasticity_trial_is_not_evaluable_and_lists_documentation():
    a = oxford(spasticity_chart())
    assert a["indication"] == "spasticity"
    assert a["determination"] == "not-evaluable"
    trial_rows = [
        x
        for x in SPASTICITY_DOCS
        if not x.endswith(("trial-pain-reduction", "ashworth-reduction", "penn-reduction"))
    ]
    assert [x["id"] for x in a["criteria"]] == trial_rows
    for cid in (
        "condition",
        "functional-impairment",
        "modified-ashworth",
        "treatments",
        "psych-history",
        "intracranial-pressure",
    ):
        assert status(a, P + "spasticity-doc-" + cid) == "met", cid
    # "Results of Modified Ashworth Scale or Penn Spasm Frequency Scale": either scale is
    # enough, so the other is not asked for (not blocking)
    assert status(a, P + "spasticity-doc-penn-spasm-frequency") == "unknown"
    assert not criterion(a, P + "spasticity-doc-penn-spasm-frequency").get("blocking")
    assert criterion(a, P + "spasticity-doc-modified-ashworth")["source"] == (
        "Results of <i>Modified Ashworth Scale</i> or <i>Penn Spasm Frequency Scale</i>"
    )


def test_oxford_spasticity_penn_spasm_frequency_documents_the_scale_row():
    c = Chart(payer=PAYER, dos=DOS)
    c.condition(icd10="G82.20", display="Paraplegia, unspecified")
    c.score("penn-spasm-frequency", 3, c.days_before(12))
    c.order("62322", drug="baclofen", route="intrathecal")
    a = oxford(c)
    assert a["determination"] == "not-evaluable"
    assert status(a, P + "spasticity-doc-penn-spasm-frequency") == "met"
    assert status(a, P + "spasticity-doc-modified-ashworth") == "unknown"
    assert status(a, P + "spasticity-doc-functional-impairment") == "unknown"
    assert status(a, P + "spasticity-doc-treatments") == "unknown"
    assert status(a, P + "spasticity-doc-psych-history") == "unknown"


def test_oxford_spasticity_permanent_lists_score_reduction():
    c = spasticity_chart(order="62362")
    t = at(c.days_before(21), 8)
    c.trial(t, drug="baclofen")
    c.score("modified-ashworth", 3, t - timedelta(hours=1))
    c.score("modified-ashworth", 1, t + timedelta(hours=4))
    a = oxford(c)
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "not-evaluable"
    assert status(a, P + "spasticity-doc-ashworth-reduction") == "met"
    assert status(a, P + "spasticity-doc-penn-reduction") == "unknown"


def test_oxford_spasticity_age_17_is_not_addressed():
    a = oxford(spasticity_chart(birth_date="2008-09-15"))
    assert a["determination"] == "not-applicable"


def test_oxford_spasticity_replacement_is_deferred_too():
    c = spasticity_chart(order="62362")
    c.pump("malfunction")
    a = oxford(c)
    assert a["order"]["phase"] == "replacement"
    assert a["determination"] == "not-evaluable"


# -- the trial and its window (issue 9) ----------------------------------------------


def test_oxford_nonmalignant_permanent_relief_during_a_catheter_infusion_trial_is_met():
    """'Documentation of a ≥ 50% reduction in pain during trial': inside the infusion's performedPeriod."""
    c = nonmalignant_base()
    t = at(c.days_before(20), 8)
    c.trial(t, end=t + timedelta(days=4), drug="hydromorphone", marker=False)  # 62324 catheter infusion
    c.nrs(8, t - timedelta(hours=1))
    during = c.nrs(4, t + timedelta(days=3))
    c.order("62362")
    a = oxford(c)
    assert status(a, RELIEF) == "met"
    assert f"Observation/{during['id']}" in criterion(a, RELIEF)["evidence"]


def test_oxford_nonmalignant_permanent_pain_drop_after_the_catheter_came_out_is_not_during_trial():
    c = nonmalignant_base()
    t = at(c.days_before(20), 8)
    c.trial(t, end=t + timedelta(days=4), drug="hydromorphone", marker=False)
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(7, t + timedelta(days=2))  # 12.5 % during the infusion
    c.nrs(3, t + timedelta(days=6))  # two days after it ended: not the trial
    c.order("62362")
    a = oxford(c)
    assert status(a, RELIEF) == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_oxford_nonmalignant_permanent_a_62322_epidural_steroid_injection_is_not_the_infusion_trial():
    c = nonmalignant_base()
    t = at(c.days_before(20), 8)
    c.epidural_steroid_injection(t, code="62322")
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(3, t + timedelta(hours=4))
    c.order("62362")
    a = oxford(c)
    assert status(a, RELIEF) == "unknown"
