"""The fact extractors, one rule each, on realistic charts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cds_service.facts import Duration, FactContext, compute
from cds_service.hook_models import HookRequest
from cds_service.prefetch import build_record
from cds_service.settings import Settings

from .chart import Chart, at
from .helpers import services


def context(chart: Chart, indication: str | None = None, omit: tuple[str, ...] = ()) -> FactContext:
    terminology, _ = services()
    req = HookRequest.model_validate(chart.request(omit=omit))
    record = asyncio.run(build_record(req, Settings()))
    return FactContext(record, terminology, chart.dos, None, indication)


def fact(chart: Chart, name: str, indication: str | None = None, omit=(), **params):
    return compute(context(chart, indication, omit), name, params)


# -- latest observation -------------------------------------------------------

def test_latest_nrs_is_the_last_one_on_or_before_the_date_of_service():
    c = Chart()
    c.nrs(9, c.days_before(30))
    latest = c.nrs(7, c.days_before(1))
    c.nrs(2, c.days_before(-3))  # after the date of service: ignored
    f = fact(c, "pain_nrs_latest")
    assert f.value == 7 and f.evidence == (f"Observation/{latest['id']}",)


def test_nrs_accepts_the_alternate_loinc_and_value_quantity():
    c = Chart()
    obs = c.nrs(8, c.days_before(2), loinc="38208-5")
    obs.pop("valueInteger")
    obs["valueQuantity"] = {"value": 8, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"}
    assert fact(c, "pain_nrs_latest").value == 8


def test_preliminary_and_entered_in_error_observations_do_not_count():
    c = Chart()
    c.nrs(5, c.days_before(10))
    c.nrs(9, c.days_before(2))["status"] = "preliminary"
    c.nrs(9, c.days_before(1))["status"] = "entered-in-error"
    assert fact(c, "pain_nrs_latest").value == 5


def test_nrs_during_a_trial_window_is_not_the_standing_pain_level():
    c = Chart()
    t = at(c.days_before(5), 8)
    c.trial(t)
    c.nrs(8, t - timedelta(hours=2))
    c.nrs(2, t + timedelta(hours=6))
    assert fact(c, "pain_nrs_latest").value == 8


def test_modified_ashworth_1plus_reads_as_one_and_a_half_from_code_or_string():
    c = Chart()
    c.score("modified-ashworth", "1+", c.days_before(3))
    assert fact(c, "spasticity_score_latest", scale="modified-ashworth").value == 1.5
    c2 = Chart()
    obs = c2.score("modified-ashworth", 2, c2.days_before(3))
    obs.pop("valueCodeableConcept")
    obs["valueString"] = "1+"
    assert fact(c2, "spasticity_score_latest", scale="modified-ashworth").value == 1.5


def test_life_expectancy_converts_weeks_and_years_to_months():
    c = Chart()
    c.life_expectancy(1, "a")
    assert fact(c, "life_expectancy_months").value == 12
    c2 = Chart()
    c2.life_expectancy(12, "wk")
    assert fact(c2, "life_expectancy_months").value < 3


# -- age and conditions --------------------------------------------------------

def test_age_is_whole_years_at_the_date_of_service():
    assert fact(Chart(dos="2026-09-14", birth_date="2008-09-14"), "age_years").value == 18
    assert fact(Chart(dos="2026-09-13", birth_date="2008-09-14"), "age_years").value == 17


def test_refuted_or_resolved_conditions_do_not_document_a_diagnosis():
    c = Chart()
    c.condition(icd10="G90.50", display="CRPS", verification="refuted")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome", clinical="resolved")
    assert fact(c, "diagnosis_documented", indication="nonmalignant-pain").value is None
    c.condition(snomed="128200000", display="Complex regional pain syndrome", clinical="relapse")
    assert fact(c, "diagnosis_documented", indication="nonmalignant-pain").value is True


def test_a_malignant_neoplasm_with_a_pain_condition_documents_cancer_pain():
    c = Chart()
    c.condition(icd10="C50.911", display="Malignant neoplasm of right breast")
    assert fact(c, "diagnosis_documented", indication="cancer-pain").value is None
    c.condition(icd10="G89.29", display="Other chronic pain")
    assert fact(c, "diagnosis_documented", indication="cancer-pain").value is True


def test_absent_infection_is_documented_absence_only_when_the_problem_list_was_retrieved():
    c = Chart()
    assert fact(c, "active_infection").value is False
    assert fact(c, "active_infection", omit=("conditions",)).value is None
    c.condition(icd10="M46.26", display="Osteomyelitis of vertebra, lumbar region")
    assert fact(c, "active_infection").value is True


# -- therapies -----------------------------------------------------------------

def test_therapy_duration_is_the_union_of_failed_course_periods():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", c.days_before(300), c.days_before(200))
    c.therapy("home-exercise-program", c.days_before(250), c.days_before(100))  # overlaps
    f = fact(c, "therapy_failed_duration", **{"class": "rehab-exercise"})
    assert isinstance(f.value, Duration) and f.value.days == 200


def test_six_calendar_months_from_the_first_start():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", c.dos.replace(month=1, day=1), c.dos.replace(month=7, day=1))
    d = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"}).value
    assert d.days >= d.threshold_days(6, "months")
    c2 = Chart(dos="2026-09-14")
    c2.therapy("physical-therapy", c2.dos.replace(month=1, day=1), c2.dos.replace(month=6, day=30))
    d2 = fact(c2, "therapy_failed_duration", **{"class": "physical-therapy"}).value
    assert d2.days < d2.threshold_days(6, "months")


def test_a_course_without_a_documented_failure_leaves_failure_unknown():
    c = Chart()
    c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome=None)
    f = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"})
    assert f.value is None and "failure is not" in f.note


def test_as_needed_opioids_are_not_a_fixed_schedule():
    c = Chart()
    c.medication("oxycodone", c.days_before(400), c.days_before(10), fixed=False)
    assert fact(c, "therapy_failed_duration", **{"class": "analgesic", "schedule": "fixed"}).value is None
    c.medication("tramadol", c.days_before(400), c.days_before(10), fixed=True)
    assert fact(c, "therapy_failed_duration", **{"class": "analgesic", "schedule": "fixed"}).value.days >= 390


def test_an_allergy_to_baclofen_is_a_documented_intolerance():
    c = Chart()
    c.allergy("baclofen")
    f = fact(c, "therapy_failed_duration", **{"class": "oral-antispasmodic", "waived_by_contraindication": True})
    assert f.value.waived and f.evidence[0].startswith("AllergyIntolerance/")


def test_a_drug_named_only_in_text_is_used_and_reported_as_a_fallback():
    c = Chart()
    c.medication("morphine", c.days_before(400), c.days_before(10), coded=False)
    f = fact(c, "therapy_failed_duration", **{"class": "systemic-opioid"})
    assert f.value.days >= 390 and "by name only" in f.note


def test_opiate_naive_means_no_opioid_history_at_all():
    c = Chart()
    c.medication("gabapentin", c.days_before(200), c.days_before(10))
    assert fact(c, "opiate_naive").value is True
    c.medication("hydromorphone", c.days_before(100), c.days_before(10), reason=None)
    assert fact(c, "opiate_naive").value is False
    assert fact(Chart(), "opiate_naive", omit=("medications",)).value is None


# -- trial outcomes ------------------------------------------------------------

def _trial_chart(*after: tuple[float, int], baseline: int = 8) -> Chart:
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t)
    c.nrs(baseline, t - timedelta(hours=1))
    for hours, value in after:
        c.nrs(value, t + timedelta(hours=hours))
    return c


def test_relief_held_for_8_hours_is_the_smallest_relief_up_to_the_first_score_past_8_hours():
    c = _trial_chart((2, 2), (5, 3), (8.5, 3), (20, 8))
    f = fact(c, "trial_pain_relief_percent", held_for_hours=8)
    assert f.value == 62.5 and "8.5 h" in f.note


def test_a_dip_inside_the_window_breaks_held_relief():
    c = _trial_chart((2, 2), (5, 6), (8.5, 2))
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value == 25


def test_no_score_at_8_hours_within_the_single_shot_window_leaves_held_relief_unknown():
    c = _trial_chart((2, 2), (5, 2), (72, 2))  # 72 h is past the 24 h window of a single bolus
    f = fact(c, "trial_pain_relief_percent", held_for_hours=8, single_shot_window_hours=24)
    assert f.value is None and "at or after 8 h within the 24 h after the single-shot trial" in f.note


def test_documented_relief_shorter_than_required_is_not_held():
    c = Chart()
    c.trial_relief(70, hours=6)
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value == 0
    assert fact(c, "trial_pain_relief_percent").value == 70


def test_mas_3_to_1plus_is_a_one_and_a_half_point_reduction():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t)
    c.score("modified-ashworth", 3, t - timedelta(hours=1))
    c.score("modified-ashworth", "1+", t + timedelta(hours=4))
    f = fact(c, "trial_score_reduction", scale="ashworth-or-modified-ashworth", held_for_hours=4)
    assert f.value == 1.5 and "3 before the trial, 1+ after" in f.note


def test_pump_status_reads_the_observation_or_the_device_property():
    c = Chart()
    c.pump("impending-failure-alert")
    assert fact(c, "pump_status").value == "impending-failure-alert"
    c2 = Chart()
    c2.pump("battery-depleted", via="property")
    assert fact(c2, "pump_status").value == "battery-depleted"
    c3 = Chart()
    c3.pump("battery-depleted", device_status="inactive")
    assert fact(c3, "pump_status").value is None
