"""NIA_CG_310 (Magellan / National Imaging Associates), implemented January 2023.

policies/nia-cg-310@2023-01.yaml encodes the redline as it reads after the
edits. One test per rule; each chart is complete and met, and the test changes
one thing. Date of service 2026-09-14; 12 weeks = 84 days covered by failed
courses (Period.end inclusive: a course from day 1 to day 84 covers 84 days).
"""

from __future__ import annotations

from datetime import timedelta

from tests.chart import Chart, at
from tests.helpers import assessment, assessments, criterion, status

NIA = "nia-cg-310"
PAYER = "Magellan Healthcare (National Imaging Associates)"


def ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


# -- charts ---------------------------------------------------------------------


def pain_history(c: Chart) -> None:
    """Severity, conservative care, opioids and prognosis: every pain-trial item met."""
    c.nrs(7, c.days_before(45))  # "persistent" pain: two standing scores within the 90 days
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    # Opioids taken for a year; their failure is not needed (and not recorded) so the
    # inactive-component duration is decided by the inactive-care course alone.
    c.medication("oxycodone", c.days_before(400), c.days_before(20), fixed=True, reason=None)
    c.life_expectancy(24)


def nia_pain_trial_chart(**kw) -> Chart:
    c = Chart(payer=PAYER, **kw)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    pain_history(c)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def permanent_extras(c: Chart, relief: float | None = 60) -> dict:
    """A performed trial with its documented outcome, a psych evaluation and the device checks."""
    trial = c.trial(at(c.days_before(30), 8), drug="morphine")
    if relief is not None:
        c.trial_relief(relief, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    return trial


def nia_pain_permanent_chart(relief: float | None = 60, **kw) -> Chart:
    c = Chart(payer=PAYER, **kw)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    pain_history(c)
    permanent_extras(c, relief)
    c.order("62362")
    return c


def nia_cancer_pain_chart(phase: str = "trial") -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="C50.9", display="Malignant neoplasm of breast, unspecified")
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    pain_history(c)
    if phase == "trial":
        c.order("62322", drug="morphine", route="intrathecal")
    else:
        permanent_extras(c)
        c.order("62362")
    return c


def spasticity_history(c: Chart) -> None:
    c.flag("functional-impairment", True)
    c.medication("baclofen", c.days_before(300), c.days_before(100), fixed=True, reason="ineffective")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(100), outcome="ineffective")
    c.life_expectancy(120)


def nia_spasticity_trial_chart(diagnosis: str | None = "G35", **kw) -> Chart:
    c = Chart(payer=PAYER, **kw)
    if diagnosis:
        c.condition(icd10=diagnosis, display=diagnosis)
    spasticity_history(c)
    c.order("62322", drug="baclofen", route="intrathecal")
    return c


def nia_spasticity_permanent_chart(relief: float | None = 70) -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="G35", display="Multiple sclerosis")
    spasticity_history(c)
    c.trial(at(c.days_before(30), 8), drug="baclofen")
    if relief is not None:
        c.spasm_relief(relief, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    return c


def nia_replacement_chart(pump_status: str | None = "malfunction", via: str = "observation") -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.flag("body-habitus-adequate", True)
    c.pump(pump_status, via=via)
    c.order("62362")
    return c


def nia(c: Chart, indication: str | None = "any", **kw) -> dict:
    return assessment(c, NIA, indication, **kw)


# -- routing and scope ------------------------------------------------------------


def test_nia_magellan_coverage_routes_to_nia_only():
    found = assessments(nia_pain_trial_chart())
    assert [a["policy"]["id"] for a in found] == [NIA]
    a = found[0]
    assert a["policy"]["version"] == "2023-01"
    assert a["policy"]["payer"] == "National Imaging Associates (Magellan Healthcare)"
    assert a["order"]["phase"] == "trial"
    assert a["indication"] == "nonmalignant-pain"


def test_nia_pump_removal_62355_gets_no_assessment():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.pump("functional")
    c.order("62355")
    assert assessments(c) == []


# -- chronic intractable pain: trial --------------------------------------------------

PAIN_TRIAL_IDS = {
    "nia-310-pain-trial-diagnosis",
    "nia-310-pain-trial-functional-disability",
    "nia-310-pain-trial-nrs-6",
    "nia-310-pain-trial-conservative-12-weeks",
    "nia-310-pain-trial-conservative-active-failed",
    "nia-310-pain-trial-conservative-inactive-failed",
    "nia-310-pain-trial-life-expectancy-3-months",
    "nia-310-pain-trial-not-opiate-naive",
}


def test_nia_pain_trial_full_chart_is_met():
    a = nia(nia_pain_trial_chart())
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == PAIN_TRIAL_IDS
    assert all(c["status"] == "met" for c in a["criteria"])


def test_nia_pain_trial_has_no_implant_contraindications():
    """The contraindications are 'for implanted infusion pump': not applied to the drug trial."""
    c = nia_pain_trial_chart()
    c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    a = nia(c)
    assert a["determination"] == "criteria-met"
    ids = {x["id"] for x in a["criteria"]}
    assert "nia-310-contraindication-no-active-infection" not in ids
    assert "nia-310-contraindication-body-habitus" not in ids


def test_nia_pain_trial_nrs_exactly_6_is_met():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    earlier = c.nrs(7, c.days_before(30))
    nrs = c.nrs(6, c.days_before(2))
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "met"
    assert criterion(a, "nia-310-pain-trial-nrs-6")["evidence"] == [ref(nrs), ref(earlier)]
    assert status(a, "nia-310-pain-trial-functional-disability") == "unknown"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_nrs_5_without_functional_disability_is_not_met():
    c = nia_pain_trial_chart()
    c.flag("functional-impairment", False, c.days_before(2))
    nrs = c.nrs(5, c.days_before(2))  # one standing score below 6: the pain is not persistently >= 6
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "not-met"
    assert ref(nrs) in criterion(a, "nia-310-pain-trial-nrs-6")["evidence"]
    assert status(a, "nia-310-pain-trial-functional-disability") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_nrs_5_with_functional_disability_is_met():
    c = nia_pain_trial_chart()
    c.nrs(5, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "not-met"
    assert status(a, "nia-310-pain-trial-functional-disability") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_nrs_5_with_functional_disability_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    c.nrs(7, c.days_before(20))
    c.nrs(5, c.days_before(2))
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "not-met"
    assert status(a, "nia-310-pain-trial-functional-disability") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_trial_pain_severity_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "unknown"
    assert status(a, "nia-310-pain-trial-functional-disability") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def _pain_trial_with_courses(
    active_days: int | None, inactive_days: int | None, inactive_outcome: str | None = "ineffective"
) -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    start = c.days_before(300)
    if active_days is not None:
        c.therapy("physical-therapy", start, start + timedelta(days=active_days - 1), outcome="ineffective")
    if inactive_days is not None:
        c.therapy(
            "inactive-conservative-care",
            start,
            start + timedelta(days=inactive_days - 1),
            outcome=inactive_outcome,
        )
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def test_nia_pain_trial_12_weeks_conservative_therapy_is_met():
    a = nia(_pain_trial_with_courses(84, 84))
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "met"
    assert status(a, "nia-310-pain-trial-conservative-active-failed") == "met"
    assert status(a, "nia-310-pain-trial-conservative-inactive-failed") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_11_weeks_conservative_therapy_is_not_met():
    a = nia(_pain_trial_with_courses(77, 77))
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_conservative_therapy_12_weeks_minus_a_day_is_not_met():
    a = nia(_pain_trial_with_courses(83, 83))
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def _pain_trial_in_sequence(active_days: int, gap_days: int, inactive_days: int) -> Chart:
    c = _pain_trial_with_courses(None, None)
    start = c.days_before(300)
    c.therapy("physical-therapy", start, start + timedelta(days=active_days - 1), outcome="ineffective")
    second = start + timedelta(days=active_days + gap_days)
    c.medication("gabapentin", second, second + timedelta(days=inactive_days - 1), reason="ineffective")
    return c


def test_nia_pain_trial_six_weeks_active_then_six_weeks_inactive_is_12_weeks_of_conservative_therapy():
    """'a minimum of 12 weeks, including a combination of both': the programme as a whole."""
    a = nia(_pain_trial_in_sequence(42, 0, 42))
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_a_gap_between_components_is_not_conservative_therapy():
    a = nia(_pain_trial_in_sequence(42, 1, 41))  # span 84 days, 83 covered
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_physical_therapy_not_tolerated_counts_for_its_own_weeks_only():
    c = _pain_trial_with_courses(None, 84)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(280), outcome="not-tolerated")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-conservative-active-failed") == "met"
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "met"  # the 84 days of inactive care
    c2 = _pain_trial_with_courses(None, 30)
    c2.therapy(
        "physical-therapy",
        c2.days_before(300),
        c2.days_before(280),
        outcome="contraindicated",
        status="not-done",
    )
    assert (
        status(nia(c2), "nia-310-pain-trial-conservative-12-weeks") == "not-met"
    )  # no waiver in NIA's words


def test_nia_pain_trial_active_components_only_is_unknown():
    """'a combination of both active and inactive components': inactive care undocumented."""
    a = nia(_pain_trial_with_courses(200, None))
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "met"
    assert status(a, "nia-310-pain-trial-conservative-active-failed") == "met"
    assert status(a, "nia-310-pain-trial-conservative-inactive-failed") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_trial_conservative_therapy_without_documented_failure_is_unknown():
    a = nia(_pain_trial_with_courses(200, 200, inactive_outcome=None))
    assert status(a, "nia-310-pain-trial-conservative-inactive-failed") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_trial_home_exercise_and_chiropractic_are_active_components():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("home-exercise-program", c.days_before(300), c.days_before(250), outcome="ineffective")
    c.therapy(
        "chiropractic", c.days_before(250), c.days_before(200), outcome="ineffective"
    )  # 100 days together
    c.medication(
        "gabapentin", c.days_before(300), c.days_before(150), reason="ineffective"
    )  # a medication: inactive
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-conservative-12-weeks") == "met"
    assert status(a, "nia-310-pain-trial-conservative-active-failed") == "met"
    assert status(a, "nia-310-pain-trial-conservative-inactive-failed") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_life_expectancy_3_months_is_met():
    c = nia_pain_trial_chart()
    le = c.life_expectancy(3, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-trial-life-expectancy-3-months") == "met"
    assert criterion(a, "nia-310-pain-trial-life-expectancy-3-months")["evidence"] == [ref(le)]
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_life_expectancy_2_9_months_is_not_met():
    c = nia_pain_trial_chart()
    c.life_expectancy(2.9, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-trial-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_life_expectancy_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-life-expectancy-3-months") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_trial_opiate_naive_is_not_met():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("gabapentin", c.days_before(300), c.days_before(100), reason="ineffective")  # no opioid ever
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "not-met"
    assert a["determination"] == "criteria-not-met"


def _opiate_naive_chart() -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("gabapentin", c.days_before(300), c.days_before(100), reason="ineffective")
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def test_nia_pain_trial_an_opioid_not_taken_is_still_opiate_naive():
    """'not indicated in opiate-naïve individuals': a not-taken opioid is no opioid exposure."""
    c = _opiate_naive_chart()
    c.medication("oxycodone", c.days_before(200), c.days_before(100), status="not-taken", reason=None)
    a = nia(c)
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_an_intended_or_entered_in_error_opioid_is_still_opiate_naive():
    c = _opiate_naive_chart()
    c.medication("oxycodone", c.days_before(200), c.days_before(100), status="intended", reason=None)
    c.medication("morphine", c.days_before(200), c.days_before(100), reason=None)["status"] = (
        "entered-in-error"
    )
    a = nia(c)
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "not-met"


def test_nia_pain_trial_an_opioid_stopped_for_side_effects_is_not_opiate_naive():
    c = _opiate_naive_chart()
    med = c.medication(
        "tramadol",
        c.days_before(200),
        c.days_before(190),
        status="stopped",
        reason="intolerable-side-effects",
    )
    a = nia(c)
    cr = criterion(a, "nia-310-pain-trial-not-opiate-naive")
    assert cr["status"] == "met" and cr["evidence"] == [f"MedicationStatement/{med['id']}"]
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_as_needed_opioid_history_is_not_opiate_naive():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("tramadol", c.days_before(200), c.days_before(150), fixed=False, reason=None)
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_medication_history_not_retrievable_opiate_naive_is_unknown():
    a = nia(nia_pain_trial_chart(), omit=("medications",))
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# -- chronic intractable pain: permanent ---------------------------------------------

PAIN_PERMANENT_IDS = {
    "nia-310-pain-permanent-diagnosis",
    "nia-310-pain-permanent-functional-disability",
    "nia-310-pain-permanent-nrs-6",
    "nia-310-pain-permanent-conservative-12-weeks",
    "nia-310-pain-permanent-conservative-active-failed",
    "nia-310-pain-permanent-conservative-inactive-failed",
    "nia-310-pain-permanent-opioids-12-weeks",
    "nia-310-pain-permanent-life-expectancy-3-months",
    "nia-310-pain-permanent-trial-relief-50",
    "nia-310-pain-permanent-trial-side-effects-tolerable",
    "nia-310-pain-permanent-psych-assessment",
    "nia-310-contraindication-no-active-infection",
    "nia-310-contraindication-body-habitus",
}


def test_nia_pain_permanent_full_chart_is_met():
    a = nia(nia_pain_permanent_chart())
    assert a["order"]["phase"] == "permanent"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == PAIN_PERMANENT_IDS
    assert all(c["status"] == "met" for c in a["criteria"])


def test_nia_pain_permanent_nrs_exactly_6_is_met():
    c = nia_pain_permanent_chart()
    c.flag("functional-impairment", False, c.days_before(2))
    c.nrs(6, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-nrs-6") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_permanent_nrs_5_without_functional_disability_is_not_met():
    c = nia_pain_permanent_chart()
    c.flag("functional-impairment", False, c.days_before(2))
    c.nrs(5, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-nrs-6") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_conservative_therapy_12_weeks_minus_a_day_is_not_met():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy(
        "physical-therapy", c.days_before(300), c.days_before(300) + timedelta(days=82), outcome="ineffective"
    )
    c.therapy(
        "inactive-conservative-care",
        c.days_before(300),
        c.days_before(300) + timedelta(days=82),
        outcome="ineffective",
    )
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    permanent_extras(c)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-conservative-12-weeks") == "not-met"
    assert status(a, "nia-310-pain-permanent-conservative-active-failed") == "met"
    assert status(a, "nia-310-pain-permanent-conservative-inactive-failed") == "met"
    assert a["determination"] == "criteria-not-met"


def _pain_permanent_with_opioid_days(days: int | None, reason: str | None = None) -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    if days is not None:
        c.medication("morphine", c.days_before(20 + days - 1), c.days_before(20), fixed=True, reason=reason)
    c.life_expectancy(24)
    permanent_extras(c)
    c.order("62362")
    return c


def test_nia_pain_permanent_12_weeks_of_opioids_is_met_without_failure():
    c = _pain_permanent_with_opioid_days(84)
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "met"
    assert criterion(a, "nia-310-pain-permanent-opioids-12-weeks")["evidence"] == [
        f"MedicationStatement/{c.resources['medications'][0]['id']}"
    ]
    assert a["determination"] == "criteria-met"


def test_nia_pain_permanent_12_weeks_of_intravenous_opioids_are_not_oral_or_transdermal():
    """'At least 12 weeks of oral or transdermal opiate pain medications'."""
    c = _pain_permanent_with_opioid_days(84)
    c.resources["medications"][0]["dosage"][0]["route"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "47625008", "display": "Intravenous route"}]
    }
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_12_weeks_of_transdermal_fentanyl_is_met():
    c = _pain_permanent_with_opioid_days(None)
    med = c.medication("morphine", c.days_before(103), c.days_before(20), fixed=True, reason=None)
    med["dosage"][0]["route"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "45890007", "display": "Transdermal route"}]
    }
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "met"


def test_nia_pain_permanent_12_weeks_of_opioids_recorded_as_not_taken_is_unknown():
    c = _pain_permanent_with_opioid_days(84)
    c.resources["medications"][0]["status"] = "not-taken"
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "unknown"


def test_nia_pain_permanent_opioids_12_weeks_minus_a_day_is_not_met():
    a = nia(_pain_permanent_with_opioid_days(83))
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_no_opioid_history_is_unknown():
    a = nia(_pain_permanent_with_opioid_days(None))
    assert status(a, "nia-310-pain-permanent-opioids-12-weeks") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_life_expectancy_3_months_is_met():
    c = nia_pain_permanent_chart()
    c.life_expectancy(3, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-life-expectancy-3-months") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_permanent_life_expectancy_2_9_months_is_not_met():
    c = nia_pain_permanent_chart()
    c.life_expectancy(2.9, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_trial_relief_exactly_50_percent_is_met():
    c = nia_pain_permanent_chart(relief=50)
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_permanent_trial_relief_49_percent_is_not_met():
    c = nia_pain_permanent_chart(relief=49)
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_trial_relief_computed_from_nrs_50_percent_is_met():
    c = nia_pain_permanent_chart(relief=None)
    trial = next(p for p in c.resources["procedures"] if p["id"].startswith("trial"))
    t = at(c.days_before(30), 8)
    base = c.nrs(8, t - timedelta(hours=1))
    after = c.nrs(4, t + timedelta(hours=6))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "met"
    assert set(criterion(a, "nia-310-pain-permanent-trial-relief-50")["evidence"]) == {
        ref(trial),
        ref(base),
        ref(after),
    }
    assert a["determination"] == "criteria-met"


def test_nia_pain_permanent_trial_relief_computed_from_nrs_below_50_percent_is_not_met():
    c = nia_pain_permanent_chart(relief=None)
    t = at(c.days_before(30), 8)
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(5, t + timedelta(hours=6))  # 37.5 %
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_trial_outcome_undocumented_is_unknown():
    a = nia(nia_pain_permanent_chart(relief=None))
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_intolerable_trial_side_effects_is_not_met():
    c = nia_pain_permanent_chart()
    c.trial_flag("trial-side-effects-tolerable", False, c.days_before(27))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-side-effects-tolerable") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_unfavorable_psych_assessment_is_not_met():
    c = nia_pain_permanent_chart()
    psych = c.psych("unfavorable", c.days_before(5))
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-psych-assessment") == "not-met"
    assert ref(psych) in criterion(a, "nia-310-pain-permanent-psych-assessment")["evidence"]
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_psych_assessment_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    pain_history(c)
    c.trial(at(c.days_before(30), 8), drug="morphine")
    c.trial_relief(60, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-psych-assessment") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_does_not_repeat_opiate_naive_note():
    ids = {x["id"] for x in nia(nia_pain_permanent_chart())["criteria"]}
    assert "nia-310-pain-trial-not-opiate-naive" not in ids


def test_nia_pain_permanent_active_infection_is_not_met():
    c = nia_pain_permanent_chart()
    sepsis = c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    a = nia(c)
    assert status(a, "nia-310-contraindication-no-active-infection") == "not-met"
    assert criterion(a, "nia-310-contraindication-no-active-infection")["evidence"] == [ref(sepsis)]
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_spinal_infection_is_not_met():
    c = nia_pain_permanent_chart()
    c.condition(icd10="M46.25", display="Osteomyelitis of vertebra, thoracolumbar region")
    a = nia(c)
    assert status(a, "nia-310-contraindication-no-active-infection") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_problem_list_not_retrievable_infection_is_unknown():
    c = Chart(payer=PAYER)
    pain_history(c)
    permanent_extras(c)
    c.order("62362", reason_icd10="M96.1")  # the indication comes from the order reason
    a = nia(c, omit=("conditions",))
    assert a["indication"] == "nonmalignant-pain"
    assert status(a, "nia-310-contraindication-no-active-infection") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_insufficient_body_habitus_is_not_met():
    c = nia_pain_permanent_chart()
    c.flag("body-habitus-adequate", False, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-contraindication-body-habitus") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_permanent_body_habitus_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    pain_history(c)
    c.trial(at(c.days_before(30), 8), drug="morphine")
    c.trial_relief(60, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-contraindication-body-habitus") == "unknown"
    assert a["determination"] == "documentation-incomplete"


# -- cancer pain: the same "chronic intractable pain" criteria ---------------------------


def test_nia_cancer_pain_trial_uses_chronic_intractable_pain_criteria():
    a = nia(nia_cancer_pain_chart("trial"))
    assert a["indication"] == "cancer-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == PAIN_TRIAL_IDS


def test_nia_cancer_pain_trial_opiate_naive_is_not_met():
    c = Chart(payer=PAYER)
    c.condition(icd10="C50.9", display="Malignant neoplasm of breast, unspecified")
    c.condition(icd10="G89.3", display="Neoplasm related pain")
    c.nrs(8, c.days_before(10))
    c.flag("functional-impairment", True)
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.life_expectancy(24)
    c.order("62322", drug="morphine", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-pain-trial-not-opiate-naive") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_cancer_pain_trial_life_expectancy_2_9_months_is_not_met():
    c = nia_cancer_pain_chart("trial")
    c.life_expectancy(2.9, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-pain-trial-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_cancer_pain_permanent_full_chart_is_met():
    a = nia(nia_cancer_pain_chart("permanent"))
    assert a["indication"] == "cancer-pain"
    assert a["determination"] == "criteria-met"
    assert {c["id"] for c in a["criteria"]} == PAIN_PERMANENT_IDS


# -- spasticity: trial ------------------------------------------------------------------

SPASTICITY_TRIAL_IDS = {
    "nia-310-spasticity-trial-functional-impairment",
    "nia-310-spasticity-trial-diagnosis",
    "nia-310-spasticity-trial-standard-therapy-12-weeks",
    "nia-310-spasticity-trial-life-expectancy-3-months",
}


def test_nia_spasticity_trial_multiple_sclerosis_full_chart_is_met():
    c = nia_spasticity_trial_chart("G35")
    a = nia(c)
    assert a["indication"] == "spasticity"
    assert a["determination"] == "criteria-met"
    assert {x["id"] for x in a["criteria"]} == SPASTICITY_TRIAL_IDS
    ms = next(x for x in c.resources["conditions"] if x["code"]["coding"][0]["code"] == "G35")
    assert criterion(a, "nia-310-spasticity-trial-diagnosis")["evidence"] == [ref(ms)]


def test_nia_spasticity_trial_spinal_cord_injury_is_met():
    a = nia(nia_spasticity_trial_chart("S14.109A"))
    assert status(a, "nia-310-spasticity-trial-diagnosis") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_stiff_person_syndrome_is_met():
    a = nia(nia_spasticity_trial_chart("G25.82"))
    assert status(a, "nia-310-spasticity-trial-diagnosis") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_other_condition_causing_spasms_is_met():
    a = nia(nia_spasticity_trial_chart("G80.9"))  # cerebral palsy
    assert status(a, "nia-310-spasticity-trial-diagnosis") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_without_spasticity_diagnosis_is_unknown():
    a = nia(nia_spasticity_trial_chart(None), indication="spasticity")
    assert status(a, "nia-310-spasticity-trial-diagnosis") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_spasticity_trial_no_functional_impairment_is_not_met():
    c = nia_spasticity_trial_chart()
    flag = c.flag("functional-impairment", False, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-spasticity-trial-functional-impairment") == "not-met"
    assert criterion(a, "nia-310-spasticity-trial-functional-impairment")["evidence"] == [ref(flag)]
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_trial_functional_impairment_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.medication("baclofen", c.days_before(300), c.days_before(100), reason="ineffective")
    c.life_expectancy(120)
    c.order("62322", drug="baclofen", route="intrathecal")
    a = nia(c)
    assert status(a, "nia-310-spasticity-trial-functional-impairment") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def _spasticity_trial_with_standard_therapy(
    kind: str, days: int, reason: str | None = "ineffective"
) -> Chart:
    c = Chart(payer=PAYER)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.flag("functional-impairment", True)
    start = c.days_before(300)
    if kind == "physical-therapy":
        c.therapy("physical-therapy", start, start + timedelta(days=days - 1), outcome=reason)
    else:
        c.medication(kind, start, start + timedelta(days=days - 1), reason=reason)
    c.life_expectancy(120)
    c.order("62322", drug="baclofen", route="intrathecal")
    return c


def test_nia_spasticity_trial_12_weeks_of_oral_antispasmodic_is_met():
    a = nia(_spasticity_trial_with_standard_therapy("tizanidine", 84))
    assert status(a, "nia-310-spasticity-trial-standard-therapy-12-weeks") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_standard_therapy_12_weeks_minus_a_day_is_not_met():
    a = nia(_spasticity_trial_with_standard_therapy("baclofen", 83))
    assert status(a, "nia-310-spasticity-trial-standard-therapy-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_trial_12_weeks_of_physical_therapy_is_met():
    a = nia(_spasticity_trial_with_standard_therapy("physical-therapy", 84))
    assert status(a, "nia-310-spasticity-trial-standard-therapy-12-weeks") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_standard_therapy_failure_undocumented_is_unknown():
    a = nia(_spasticity_trial_with_standard_therapy("baclofen", 200, reason=None))
    assert status(a, "nia-310-spasticity-trial-standard-therapy-12-weeks") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_spasticity_trial_life_expectancy_3_months_is_met():
    c = nia_spasticity_trial_chart()
    c.life_expectancy(3, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-spasticity-trial-life-expectancy-3-months") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_trial_life_expectancy_2_9_months_is_not_met():
    c = nia_spasticity_trial_chart()
    c.life_expectancy(2.9, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-spasticity-trial-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_trial_opiate_naive_is_not_a_criterion():
    """The opiate-naive NOTE belongs to the pain section; a baclofen trial in an opiate-naive patient is met."""
    a = nia(nia_spasticity_trial_chart())
    assert "nia-310-pain-trial-not-opiate-naive" not in {x["id"] for x in a["criteria"]}
    assert a["determination"] == "criteria-met"


# -- spasticity: permanent -----------------------------------------------------------

SPASTICITY_PERMANENT_IDS = {
    "nia-310-spasticity-permanent-functional-impairment",
    "nia-310-spasticity-permanent-diagnosis",
    "nia-310-spasticity-permanent-standard-therapy-12-weeks",
    "nia-310-spasticity-permanent-life-expectancy-3-months",
    "nia-310-spasticity-permanent-trial-relief-50",
    "nia-310-spasticity-permanent-trial-side-effects-tolerable",
    "nia-310-spasticity-permanent-psych-assessment",
    "nia-310-contraindication-no-active-infection",
    "nia-310-contraindication-body-habitus",
}


def test_nia_spasticity_permanent_full_chart_is_met():
    a = nia(nia_spasticity_permanent_chart())
    assert a["order"]["phase"] == "permanent"
    assert a["indication"] == "spasticity"
    assert a["determination"] == "criteria-met"
    assert {x["id"] for x in a["criteria"]} == SPASTICITY_PERMANENT_IDS


def test_nia_spasticity_permanent_spasm_relief_exactly_50_percent_is_met():
    a = nia(nia_spasticity_permanent_chart(relief=50))
    assert status(a, "nia-310-spasticity-permanent-trial-relief-50") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_permanent_spasm_relief_49_percent_is_not_met():
    a = nia(nia_spasticity_permanent_chart(relief=49))
    assert status(a, "nia-310-spasticity-permanent-trial-relief-50") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_spasm_relief_computed_from_penn_scale_is_met():
    c = nia_spasticity_permanent_chart(relief=None)
    t = at(c.days_before(30), 8)
    c.score("penn-spasm-frequency", 4, t - timedelta(hours=1))
    c.score("penn-spasm-frequency", 2, t + timedelta(hours=6))  # 50 %
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-trial-relief-50") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_permanent_spasm_relief_undocumented_is_unknown():
    a = nia(nia_spasticity_permanent_chart(relief=None))
    assert status(a, "nia-310-spasticity-permanent-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_spasticity_permanent_intolerable_trial_side_effects_is_not_met():
    c = nia_spasticity_permanent_chart()
    c.trial_flag("trial-side-effects-tolerable", False, c.days_before(27))
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-trial-side-effects-tolerable") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_standard_therapy_12_weeks_minus_a_day_is_not_met():
    c = Chart(payer=PAYER)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.flag("functional-impairment", True)
    c.medication(
        "baclofen", c.days_before(300), c.days_before(300) + timedelta(days=82), reason="ineffective"
    )
    c.life_expectancy(120)
    c.trial(at(c.days_before(30), 8), drug="baclofen")
    c.spasm_relief(70, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-standard-therapy-12-weeks") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_life_expectancy_2_9_months_is_not_met():
    c = nia_spasticity_permanent_chart()
    c.life_expectancy(2.9, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-life-expectancy-3-months") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_life_expectancy_3_months_is_met():
    c = nia_spasticity_permanent_chart()
    c.life_expectancy(3, when=c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-life-expectancy-3-months") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_permanent_unfavorable_psych_assessment_is_not_met():
    c = nia_spasticity_permanent_chart()
    c.psych("unfavorable", c.days_before(5))
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-psych-assessment") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_active_infection_is_not_met():
    c = nia_spasticity_permanent_chart()
    c.flag("active-infection", True, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-contraindication-no-active-infection") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_spasticity_permanent_insufficient_body_habitus_is_not_met():
    c = nia_spasticity_permanent_chart()
    c.flag("body-habitus-adequate", False, c.days_before(2))
    a = nia(c)
    assert status(a, "nia-310-contraindication-body-habitus") == "not-met"
    assert a["determination"] == "criteria-not-met"


# -- dystonia: not an indication ----------------------------------------------------------


def _assert_dystonia_not_covered(a: dict) -> None:
    assert a["indication"] == "dystonia"
    assert a["determination"] == "criteria-not-met"
    assert [x["id"] for x in a["criteria"]] == ["nia-cg-310-not-covered"]
    assert status(a, "nia-cg-310-not-covered") == "not-met"
    assert criterion(a, "nia-cg-310-not-covered")["source"] == (
        "NOTE: There are no other medical indications for other intrathecal treatments "
        "except chronic pain and intractable spasticity."
    )


def test_nia_dystonia_is_not_covered():
    c = Chart(payer=PAYER)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.flag("functional-impairment", True)
    c.life_expectancy(120)
    c.psych("favorable")
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    _assert_dystonia_not_covered(nia(c))


def test_nia_dystonia_trial_is_not_covered():
    c = Chart(payer=PAYER)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.order("62322", drug="baclofen", route="intrathecal", reason_icd10="G24.1")
    _assert_dystonia_not_covered(nia(c))


def test_nia_dystonia_pump_replacement_is_not_covered():
    c = Chart(payer=PAYER)
    c.condition(icd10="G24.1", display="Genetic torsion dystonia")
    c.flag("body-habitus-adequate", True)
    c.pump("malfunction")
    c.order("62362")
    a = nia(c)
    assert a["order"]["phase"] == "replacement"
    _assert_dystonia_not_covered(a)


# -- replacement (any indication) ---------------------------------------------------------


def test_nia_replacement_pump_malfunction_is_met():
    c = nia_replacement_chart("malfunction")
    a = nia(c)
    assert a["order"]["phase"] == "replacement"
    assert status(a, "nia-310-replacement-malfunction") == "met"
    assert a["determination"] == "criteria-met"
    assert {x["id"] for x in a["criteria"]} == {
        "nia-310-replacement-indication-nonmalignant-pain",
        "nia-310-replacement-indication-cancer-pain",
        "nia-310-replacement-indication-spasticity",
        "nia-310-replacement-malfunction",
        "nia-310-replacement-battery-depleted",
        "nia-310-contraindication-no-active-infection",
        "nia-310-contraindication-body-habitus",
    }


def test_nia_replacement_pump_malfunction_on_device_property_is_met():
    a = nia(nia_replacement_chart("malfunction", via="property"))
    assert status(a, "nia-310-replacement-malfunction") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_non_functional_irreparable_pump_is_met():
    a = nia(nia_replacement_chart("non-functional-irreparable"))
    assert status(a, "nia-310-replacement-malfunction") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_battery_depletion_is_met():
    a = nia(nia_replacement_chart("battery-depleted"))
    assert status(a, "nia-310-replacement-battery-depleted") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_battery_near_end_is_not_met():
    """Strict reading: 'Battery depletion' means depleted, not the elective replacement indicator."""
    a = nia(nia_replacement_chart("battery-near-end"))
    assert status(a, "nia-310-replacement-battery-depleted") == "not-met"
    assert status(a, "nia-310-replacement-malfunction") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_replacement_impending_failure_alert_is_not_met():
    a = nia(nia_replacement_chart("impending-failure-alert"))
    assert status(a, "nia-310-replacement-malfunction") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_replacement_functional_pump_is_not_met():
    a = nia(nia_replacement_chart("functional"))
    assert status(a, "nia-310-replacement-malfunction") == "not-met"
    assert status(a, "nia-310-replacement-battery-depleted") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_replacement_pump_status_undocumented_is_unknown():
    a = nia(nia_replacement_chart(None))
    assert status(a, "nia-310-replacement-malfunction") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_replacement_for_spasticity_uses_the_same_criteria():
    c = Chart(payer=PAYER)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.flag("body-habitus-adequate", True)
    c.pump("battery-depleted")
    c.order("62362")
    a = nia(c)
    assert a["indication"] == "spasticity"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_without_any_documented_indication_is_undocumented():
    """'There are no other medical indications … except chronic pain and intractable spasticity.'"""
    c = Chart(payer=PAYER)
    c.flag("body-habitus-adequate", True)
    c.pump("malfunction")
    c.order("62362")
    a = nia(c)
    assert a["indication"] is None
    assert status(a, "nia-310-replacement-malfunction") == "met"
    assert status(a, "nia-310-replacement-indication-spasticity") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_replacement_of_a_spasticity_pump_is_met():
    c = Chart(payer=PAYER)
    c.condition(
        icd10="S14.109S", display="Unspecified injury at unspecified level of cervical spinal cord, sequela"
    )
    c.flag("body-habitus-adequate", True)
    c.pump("malfunction")
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-replacement-indication-spasticity") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_replacement_active_infection_is_not_met():
    c = nia_replacement_chart("malfunction")
    c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    a = nia(c)
    assert status(a, "nia-310-contraindication-no-active-infection") == "not-met"
    assert a["determination"] == "criteria-not-met"


def test_nia_replacement_body_habitus_undocumented_is_unknown():
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.pump("malfunction")
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-contraindication-body-habitus") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_replacement_has_no_pump_analysis_report_criterion():
    """'the pump analysis report should accompany the request' is a documentation note, not a criterion."""
    ids = {x["id"] for x in nia(nia_replacement_chart("malfunction"))["criteria"]}
    assert not any("analysis" in i for i in ids)


# -- the trial, its window, persistent pain (issue 9) ----------------------------


def _severity_only_chart() -> Chart:
    """Every other pain-trial item met; functional disability documented absent, so the NRS decides."""
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.therapy("inactive-conservative-care", c.days_before(300), c.days_before(150), outcome="ineffective")
    c.medication("oxycodone", c.days_before(400), c.days_before(20), reason=None)
    c.life_expectancy(24)
    c.flag("functional-impairment", False, c.days_before(2))
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def test_nia_pain_trial_one_nrs_cannot_show_persistent_pain_is_unknown():
    """'persistent pain levels of ≥ 6': one score is one level, not a persistent one."""
    c = _severity_only_chart()
    c.nrs(8, c.days_before(3))
    a = nia(c)
    cr = criterion(a, "nia-310-pain-trial-nrs-6")
    assert cr["status"] == "unknown" and "only 1" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_trial_nrs_below_6_within_90_days_is_not_met_even_when_the_latest_is_8():
    c = _severity_only_chart()
    low = c.nrs(4, c.days_before(60))
    c.nrs(8, c.days_before(3))
    a = nia(c)
    cr = criterion(a, "nia-310-pain-trial-nrs-6")
    assert cr["status"] == "not-met" and ref(low) in cr["evidence"]
    assert a["determination"] == "criteria-not-met"


def test_nia_pain_trial_nrs_below_6_older_than_90_days_does_not_count():
    c = _severity_only_chart()
    c.nrs(4, c.days_before(120))
    c.nrs(7, c.days_before(60))
    c.nrs(6, c.days_before(3))
    a = nia(c)
    assert status(a, "nia-310-pain-trial-nrs-6") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_pain_trial_nrs_during_an_earlier_bolus_is_not_a_persistent_level():
    c = _severity_only_chart()
    t = at(c.days_before(40), 8)
    c.trial(t, drug="morphine")
    c.nrs(7, t - timedelta(hours=1))
    bolus = c.nrs(2, t + timedelta(hours=4))  # the trial drug, not the patient's standing pain
    c.nrs(8, c.days_before(3))
    a = nia(c)
    cr = criterion(a, "nia-310-pain-trial-nrs-6")
    assert cr["status"] == "met" and ref(bolus) not in cr["evidence"]


def test_nia_pain_permanent_a_ziconotide_trial_is_not_an_opioid_trial():
    """'a successful trial of intraspinal (intrathecal or epidural) opioid medication'"""
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    pain_history(c)
    c.trial(at(c.days_before(30), 8), drug="ziconotide")
    c.trial_relief(60, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "unknown"
    assert status(a, "nia-310-pain-permanent-trial-side-effects-tolerable") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_a_continuous_morphine_infusion_trial_is_met():
    """'administered as a bolus or by continuous infusion': relief inside the infusion's period."""
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    pain_history(c)
    t = at(c.days_before(30), 8)
    c.trial(t, end=t + timedelta(days=3), drug="morphine", via="administration")
    c.nrs(8, t - timedelta(hours=2))
    c.nrs(3, t + timedelta(days=2))
    c.trial_flag("trial-side-effects-tolerable", True, t + timedelta(days=3))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "met"
    assert a["determination"] == "criteria-met"


def test_nia_spasticity_permanent_a_morphine_trial_is_not_an_antispasmodic_trial():
    """'a successful trial of intraspinal (intrathecal or epidural) antispasmodic medication'"""
    c = nia_spasticity_permanent_chart()
    trial = next(p for p in c.resources["procedures"] if p["id"].startswith("trial"))
    trial["usedCode"] = [
        {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "7052",
                    "display": "morphine",
                }
            ]
        }
    ]
    a = nia(c)
    assert status(a, "nia-310-spasticity-permanent-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_nia_pain_permanent_documented_relief_with_no_trial_procedure_is_unknown():
    """'Documentation of a successful trial of intraspinal ... opioid medication': the drug is not shown."""
    c = Chart(payer=PAYER)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    pain_history(c)
    c.trial_relief(60, when=c.days_before(28))
    c.trial_flag("trial-side-effects-tolerable", True, c.days_before(28))
    c.psych("favorable", c.days_before(40))
    c.flag("body-habitus-adequate", True)
    c.order("62362")
    a = nia(c)
    assert status(a, "nia-310-pain-permanent-trial-relief-50") == "unknown"
    assert a["determination"] == "documentation-incomplete"
