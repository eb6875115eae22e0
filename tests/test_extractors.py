"""The fact extractors, one rule each, on realistic charts."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cds_service.facts import Duration, FactContext, compute
from cds_service.prefetch import build_record
from cds_service.settings import Settings

from .chart import Chart, at
from .helpers import as_sent, services


def context(chart: Chart, indication: str | None = None, omit: tuple[str, ...] = ()) -> FactContext:
    terminology, _ = services()
    req = as_sent(chart.request(omit=omit))
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
    obs["valueQuantity"] = {
        "value": 8,
        "unit": "{score}",
        "system": "http://unitsofmeasure.org",
        "code": "{score}",
    }
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
    assert isinstance(f.value, Duration) and f.value.days == 201  # both ends inclusive


def test_period_end_is_inclusive_so_january_to_june_is_six_calendar_months():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 6, 30))
    d = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"}).value
    assert d.days == 181 and d.threshold_days(6, "months") == 181  # 2026-01-01 + 6 months = 2026-07-01
    c2 = Chart(dos="2026-09-14")
    c2.therapy("physical-therapy", date(2026, 1, 1), date(2026, 6, 29))
    d2 = fact(c2, "therapy_failed_duration", **{"class": "physical-therapy"}).value
    assert d2.days < d2.threshold_days(6, "months")


def test_back_to_back_courses_join_into_one_span_without_losing_a_day():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 2, 28))
    c.therapy("physical-therapy", date(2026, 3, 1), date(2026, 4, 30))  # starts the day after
    c.therapy("home-exercise-program", date(2026, 5, 1), date(2026, 6, 30))
    d = fact(c, "therapy_failed_duration", **{"class": "rehab-exercise"}).value
    assert d.intervals == ((date(2026, 1, 1), date(2026, 6, 30)),)
    assert d.days >= d.threshold_days(6, "months")


def test_a_gap_between_courses_is_not_covered_time():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", date(2026, 1, 1), date(2026, 2, 28))
    c.therapy("physical-therapy", date(2026, 3, 3), date(2026, 7, 1))  # 03-01 and 03-02 uncovered
    f = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"})
    assert len(f.value.intervals) == 2 and f.value.days == 59 + 121
    assert f.value.days < f.value.threshold_days(6, "months") and "separate periods" in f.note


def test_months_are_calendar_months_without_an_average_month_length():
    d = Duration(((date(2026, 2, 1), date(2026, 2, 1)),))
    assert d.threshold_days(1, "months") == 28  # February 2026
    assert d.threshold_days(1.5, "months") == 28 + 15.5  # half of March
    assert Duration(((date(2026, 1, 31), date(2026, 1, 31)),)).threshold_days(1, "months") == 28  # to 02-28


def test_a_finished_course_without_an_end_counts_its_first_day_only():
    c = Chart(dos="2026-09-14")
    pt = c.therapy("physical-therapy", date(2025, 1, 1), None)  # completed, end not recorded
    assert fact(c, "therapy_failed_duration", **{"class": "physical-therapy"}).value.days == 1
    pt["status"] = "in-progress"  # still running: to the date of service
    assert fact(c, "therapy_failed_duration", **{"class": "physical-therapy"}).value.days == 622


def test_a_course_starting_after_the_date_of_service_is_not_history():
    c = Chart(dos="2026-09-14")
    c.therapy("physical-therapy", c.days_before(-5), c.days_before(-100))
    f = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"})
    assert f.value is None and f.evidence == ()


def test_a_course_without_a_documented_failure_leaves_failure_unknown():
    c = Chart()
    c.therapy("physical-therapy", c.days_before(400), c.days_before(100), outcome=None)
    f = fact(c, "therapy_failed_duration", **{"class": "physical-therapy"})
    assert f.value is None and "not that it failed" in f.note


def test_as_needed_opioids_are_not_a_fixed_schedule():
    c = Chart()
    c.medication("oxycodone", c.days_before(400), c.days_before(10), fixed=False)
    assert fact(c, "therapy_failed_duration", **{"class": "analgesic", "schedule": "fixed"}).value is None
    c.medication("tramadol", c.days_before(400), c.days_before(10), fixed=True)
    assert fact(c, "therapy_failed_duration", **{"class": "analgesic", "schedule": "fixed"}).value.days == 391


def test_a_not_taken_or_intended_medication_is_no_time_on_it():
    c = Chart()
    c.medication("oxycodone", c.days_before(400), c.days_before(10), status="not-taken")
    c.medication("morphine", c.days_before(400), c.days_before(10), status="intended")
    c.medication("tramadol", c.days_before(400), c.days_before(10))["status"] = "entered-in-error"
    f = fact(c, "therapy_failed_duration", **{"class": "systemic-opioid", "require_failure": False})
    assert f.value is None


def test_a_physical_therapy_not_tolerated_counts_as_failed_for_its_own_weeks_only():
    c = Chart()
    pt = c.therapy("physical-therapy", c.days_before(100), c.days_before(80), outcome="not-tolerated")
    f = fact(
        c,
        "therapy_failed_duration",
        **{
            "class": "physical-therapy",
            "waived_by": ["contraindication"],
            "waiver_therapies": ["physical-therapy"],
        },
    )
    assert not f.value.waived and f.value.days == 21 and f.evidence == (f"Procedure/{pt['id']}",)
    assert "accepts only a contraindication" in f.note


def test_an_intolerance_waives_only_where_the_policy_names_intolerance():
    c = Chart()
    c.therapy("physical-therapy", c.days_before(100), c.days_before(80), outcome="not-tolerated")
    f = fact(
        c,
        "therapy_failed_duration",
        **{
            "class": "physical-therapy",
            "waived_by": ["contraindication", "intolerance"],
            "waiver_therapies": ["physical-therapy"],
        },
    )
    assert f.value.waived and "not tolerated" in f.note
    assert (
        fact(c, "therapy_failed_duration", **{"class": "physical-therapy"}).value.days == 21
    )  # no waiver by default


def test_an_allergy_to_baclofen_waives_only_for_baclofen():
    c = Chart()
    allergy = c.allergy("baclofen")
    f = fact(
        c,
        "therapy_failed_duration",
        **{"class": "oral-antispasmodic", "waived_by": ["intolerance"], "waiver_therapies": ["baclofen"]},
    )
    assert f.value.waived and f.evidence == (f"AllergyIntolerance/{allergy['id']}",)
    c2 = Chart()
    c2.allergy("tizanidine")["type"] = "allergy"
    f2 = fact(
        c2,
        "therapy_failed_duration",
        **{
            "class": "oral-antispasmodic",
            "waived_by": ["contraindication", "intolerance"],
            "waiver_therapies": ["baclofen"],
        },
    )
    assert f2.value is None and "concerns that drug only" in f2.note


def test_an_intolerance_type_allergy_is_not_a_contraindication():
    c = Chart()
    c.allergy("baclofen")["type"] = "intolerance"
    params = {"class": "oral-antispasmodic", "waiver_therapies": ["baclofen"]}
    assert fact(c, "therapy_failed_duration", waived_by=["contraindication"], **params).value is None
    c.resources["allergies"][0]["type"] = "allergy"
    assert fact(c, "therapy_failed_duration", waived_by=["contraindication"], **params).value.waived


def test_a_refuted_unconfirmed_or_another_patients_allergy_waives_nothing():
    params = {
        "class": "oral-antispasmodic",
        "waived_by": ["contraindication", "intolerance"],
        "waiver_therapies": ["baclofen"],
    }
    for verification in ("refuted", "unconfirmed", "entered-in-error"):
        c = Chart()
        c.allergy("baclofen")["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": verification,
                }
            ]
        }
        assert fact(c, "therapy_failed_duration", **params).value is None, verification
    c = Chart()
    c.allergy("baclofen")["patient"] = {"reference": "Patient/someone-else"}
    assert fact(c, "therapy_failed_duration", **params).value is None


def test_an_allergy_recorded_after_the_date_of_service_waives_nothing():
    c = Chart()
    c.allergy("baclofen")["recordedDate"] = c.days_before(-3).isoformat()
    params = {"class": "oral-antispasmodic", "waived_by": ["intolerance"], "waiver_therapies": ["baclofen"]}
    assert fact(c, "therapy_failed_duration", **params).value is None
    c.resources["allergies"][0]["recordedDate"] = c.days_before(3).isoformat()
    assert fact(c, "therapy_failed_duration", **params).value.waived


def _route(stmt, code, display):
    stmt["dosage"][0]["route"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]
    }
    return stmt


def test_an_intrathecal_drug_is_not_a_systemic_or_oral_therapy_course():
    c = Chart()
    _route(c.medication("morphine", c.days_before(300), c.days_before(10)), "72607000", "Intrathecal route")
    _route(c.medication("baclofen", c.days_before(300), c.days_before(10)), "404820008", "Epidural route")
    assert (
        fact(c, "therapy_failed_duration", **{"class": "systemic-opioid", "require_failure": False}).value
        is None
    )
    assert fact(c, "therapy_failed_duration", **{"class": "oral-antispasmodic"}).value is None


def test_routes_count_only_drugs_given_by_those_routes():
    params = {"class": "systemic-opioid", "require_failure": False, "routes": ["oral", "transdermal"]}
    c = Chart()
    iv = _route(
        c.medication("hydromorphone", c.days_before(300), c.days_before(10)), "47625008", "Intravenous route"
    )
    f = fact(c, "therapy_failed_duration", **params)
    assert f.value is None and "oral or transdermal" in f.note
    _route(iv, "45890007", "Transdermal route")
    assert fact(c, "therapy_failed_duration", **params).value.days == 291
    del iv["dosage"][0]["route"]  # no route documented: counted
    assert fact(c, "therapy_failed_duration", **params).value.days == 291


def test_a_drug_named_only_in_text_is_used_and_reported_as_a_fallback():
    c = Chart()
    c.medication("morphine", c.days_before(400), c.days_before(10), coded=False)
    f = fact(c, "therapy_failed_duration", **{"class": "systemic-opioid"})
    assert f.value.days == 391 and "by its name only" in f.note


def test_therapy_documented_needs_a_treatment_tried_or_a_reason_it_was_not_given():
    c = Chart()
    c.allergy("gabapentin")
    c.medication("tramadol", c.days_before(40), c.days_before(30), status="not-taken", reason=None)
    assert fact(c, "therapy_documented", **{"class": "conservative-any"}).value is None
    c.medication(
        "oxycodone", c.days_before(40), c.days_before(30), status="not-taken", reason="contraindicated"
    )
    assert fact(c, "therapy_documented", **{"class": "conservative-any"}).value is True


def test_opiate_naive_means_no_opioid_history_at_all():
    c = Chart()
    c.medication("gabapentin", c.days_before(200), c.days_before(10))
    assert fact(c, "opiate_naive").value is True
    c.medication("hydromorphone", c.days_before(100), c.days_before(10), reason=None)
    assert fact(c, "opiate_naive").value is False
    assert fact(Chart(), "opiate_naive", omit=("medications",)).value is None


def test_an_opioid_not_taken_intended_or_in_error_is_no_opioid_exposure():
    c = Chart()
    c.medication("oxycodone", c.days_before(100), c.days_before(10), status="not-taken", reason=None)
    c.medication("morphine", c.days_before(100), c.days_before(10), status="intended", reason=None)
    c.medication("tramadol", c.days_before(100), c.days_before(10), reason=None)["status"] = (
        "entered-in-error"
    )
    c.medication(
        "hydromorphone", c.days_before(-10), c.days_before(-40), status="active", reason=None
    )  # after the DOS
    f = fact(c, "opiate_naive")
    assert f.value is True and f.evidence == ()


def test_a_malformed_opioid_statement_is_ignored_not_an_error():
    c = Chart()
    c.medication("oxycodone", c.days_before(100), c.days_before(10), reason=None)["status"] = ["active"]
    c.medication("morphine", c.days_before(100), c.days_before(10), reason=None)["dosage"] = "twice daily"
    assert fact(c, "opiate_naive").value is True
    assert (
        fact(c, "therapy_failed_duration", **{"class": "systemic-opioid", "routes": ["oral"]}).value is None
    )


def test_another_patients_opioid_is_no_opioid_exposure():
    c = Chart()
    c.medication("oxycodone", c.days_before(100), c.days_before(10), reason=None)["subject"] = {
        "reference": "Patient/someone-else"
    }
    assert fact(c, "opiate_naive").value is True


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


# -- durations (property) --------------------------------------------------------

_day = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))


@given(st.lists(st.tuples(_day, st.integers(min_value=0, max_value=120)), max_size=8))
def test_covered_days_are_exactly_the_days_the_courses_cover(courses):
    ranges = [(start, start + timedelta(days=length)) for start, length in courses]
    d = Duration.covering(ranges)
    covered = {s + timedelta(days=i) for s, e in ranges for i in range((e - s).days + 1)}
    assert d.days == len(covered)
    # joined spans never touch: a gap of at least one uncovered day separates them
    assert all((b[0] - a[1]).days >= 2 for a, b in zip(d.intervals, d.intervals[1:], strict=False))


# -- which procedure is the trial (clinical-data contract, "The trial") -------------


def test_a_later_epidural_steroid_injection_does_not_displace_the_trial():
    c = _trial_chart((2, 3), (9, 3))
    esi = c.epidural_steroid_injection(at(c.days_before(5), 10))
    f = fact(c, "trial_pain_relief_percent", held_for_hours=8)
    assert f.value == 62.5
    assert f"Procedure/{esi['id']}" not in f.evidence


def test_a_62322_with_no_trial_drug_is_not_the_trial():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t, marker=False)  # CPT 62322 only: an injection, not a drug trial
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(2, t + timedelta(hours=3))
    f = fact(c, "trial_pain_relief_percent")
    assert f.value is None and "no trial procedure on record" in f.note
    assert fact(c, "pain_nrs_latest").value == 2  # no trial measured it: it is the standing score


def test_a_62322_with_a_trial_drug_in_used_code_or_an_administration_is_the_trial():
    for via in ("usedCode", "administration"):
        c = Chart()
        t = at(c.days_before(20), 8)
        proc = c.trial(t, marker=False, drug="morphine", via=via)
        c.nrs(8, t - timedelta(hours=1))
        c.nrs(3, t + timedelta(hours=3))
        f = fact(c, "trial_pain_relief_percent", injectates=("opioid",))
        assert f.value == 62.5 and f.evidence[0] == f"Procedure/{proc['id']}", via
        assert "morphine" in f.note


def test_a_62322_named_by_a_documented_trial_outcome_is_the_trial():
    c = Chart()
    t = at(c.days_before(20), 8)
    proc = c.trial(t, marker=False)
    relief = c.trial_relief(70, when=t + timedelta(hours=6))
    relief["partOf"] = [{"reference": f"Procedure/{proc['id']}"}]
    c.trial_flag("trial-function-improved", True, t + timedelta(hours=6))
    f = fact(c, "trial_pain_relief_percent")
    assert f.value == 70 and f"Procedure/{proc['id']}" in f.evidence


def test_an_entered_in_error_trial_is_not_the_trial():
    c = _trial_chart((2, 3), (9, 3))
    wrong = c.trial(at(c.days_before(5), 8))
    wrong["status"] = "entered-in-error"
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value == 62.5


def test_a_baclofen_trial_is_not_the_trial_a_pain_policy_asks_for():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t, drug="baclofen")
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(3, t + timedelta(hours=3))
    f = fact(c, "trial_pain_relief_percent", injectates=("opioid", "pain-injectate"))
    assert f.value is None and "baclofen" in f.note
    assert fact(c, "trial_pain_relief_percent", injectates=("antispasmodic",)).value == 62.5


def test_the_latest_trial_of_the_asked_drug_is_the_trial_even_after_a_trial_of_another_drug():
    c = Chart()
    t = at(c.days_before(40), 8)
    c.trial(t, drug="morphine")
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(2, t + timedelta(hours=3))
    c.trial(at(c.days_before(10), 8), drug="baclofen")
    f = fact(c, "trial_pain_relief_percent", injectates=("opioid",))
    assert f.value == 75.0 and "morphine" in f.note


def test_an_undated_trial_leaves_the_latest_trial_and_the_standing_score_unknown():
    c = _trial_chart((2, 3), (9, 3))
    c.trial(None)
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value is None
    f = fact(c, "pain_nrs_latest")
    assert f.value is None and "no date" in f.note


# -- the trial window -------------------------------------------------------------


def test_a_score_a_week_after_a_single_bolus_is_the_standing_score():
    c = Chart()
    t = at(c.days_before(10), 8)
    c.trial(t)
    c.nrs(8, t - timedelta(hours=2))
    c.nrs(2, t + timedelta(hours=6))  # the bolus working
    week = c.nrs(7, t + timedelta(days=7))
    f = fact(c, "pain_nrs_latest", single_shot_window_hours=24)
    assert f.value == 7 and f.evidence == (f"Observation/{week['id']}",)


def test_a_score_ten_days_after_a_single_bolus_is_not_trial_relief():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t)
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(2, t + timedelta(days=10))
    f = fact(c, "trial_pain_relief_percent", single_shot_window_hours=24)
    assert f.value is None and "within the 24 h after the single-shot trial" in f.note


def test_the_single_shot_window_is_the_policy_parameter():
    c = _trial_chart((2, 3), (20, 3))  # the first score past 8 h comes at 20 h
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8, single_shot_window_hours=24).value == 62.5
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8, single_shot_window_hours=12).value is None


def test_scores_inside_a_catheter_trial_period_are_the_trial_and_after_it_are_standing():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t, end=t + timedelta(days=3), drug="morphine")
    c.nrs(8, t - timedelta(hours=1))
    c.nrs(4, t + timedelta(days=2))  # day 2 of the infusion
    after = c.nrs(7, t + timedelta(days=5))  # two days after the catheter came out
    assert fact(c, "trial_pain_relief_percent").value == 50.0
    assert fact(c, "pain_nrs_latest").evidence == (f"Observation/{after['id']}",)


def test_a_score_naming_the_trial_belongs_to_it_whenever_it_was_taken():
    c = Chart()
    t = at(c.days_before(40), 8)
    proc = c.trial(t)
    c.nrs(8, t - timedelta(hours=1))
    late = c.nrs(3, t + timedelta(days=20))
    late["partOf"] = [{"reference": f"Procedure/{proc['id']}"}]
    standing = c.nrs(8, t + timedelta(days=21))
    assert fact(c, "trial_pain_relief_percent").value == 62.5
    assert fact(c, "pain_nrs_latest").evidence == (f"Observation/{standing['id']}",)


def test_relief_documented_for_an_older_trial_does_not_count_for_a_newer_one():
    c = Chart()
    c.trial(at(c.days_before(200), 8))
    c.trial_relief(80, hours=12, when=at(c.days_before(200), 20))
    c.trial_flag("trial-function-improved", True, at(c.days_before(200), 20))
    c.trial(at(c.days_before(20), 8))
    f = fact(c, "trial_pain_relief_percent")
    assert f.value is None
    assert fact(c, "trial_flag", code="trial-function-improved").value is None


def test_relief_naming_the_older_trial_counts_when_that_trial_is_the_one_asked_for():
    c = Chart()
    old = c.trial(at(c.days_before(200), 8), drug="morphine")
    c.trial(at(c.days_before(20), 8), drug="baclofen")
    relief = c.trial_relief(80, when=at(c.days_before(10), 9))  # charted later, naming the morphine trial
    relief["derivedFrom"] = [{"reference": f"Procedure/{old['id']}"}]
    assert fact(c, "trial_pain_relief_percent", injectates=("opioid",)).value == 80
    assert fact(c, "trial_pain_relief_percent", injectates=("antispasmodic",)).value is None


# -- standing and baseline scores ---------------------------------------------------


def test_a_baseline_average_is_the_mean_of_the_standing_scores_in_the_period():
    c = Chart()
    c.score("ashworth", 2, c.days_before(200))  # before the baseline period
    c.score("ashworth", 4, c.days_before(60))
    c.score("ashworth", 3, c.days_before(30))
    c.score("ashworth", 2, c.days_before(5))
    f = fact(c, "spasticity_score_latest", scale="ashworth", aggregate="average", over_days=90)
    assert f.value == 3.0 and "3 scores" in f.note
    assert fact(c, "spasticity_score_latest", scale="ashworth").value == 2


def test_a_baseline_average_leaves_out_scores_the_trial_measured():
    c = Chart()
    t = at(c.days_before(20), 8)
    c.trial(t, drug="baclofen")
    c.score("modified-ashworth", 3, t - timedelta(days=10))
    c.score("modified-ashworth", 2, t - timedelta(hours=1))
    c.score("modified-ashworth", 0, t + timedelta(hours=4))  # the bolus working
    f = fact(c, "spasticity_score_latest", scale="modified-ashworth", aggregate="average", over_days=90)
    assert f.value == 2.5 and "2 scores" in f.note


def test_the_lowest_standing_score_needs_the_minimum_number_of_scores():
    c = Chart()
    c.nrs(8, c.days_before(5))
    one = fact(c, "pain_nrs_latest", aggregate="lowest", over_days=90, min_scores=2)
    assert one.value is None and "only 1" in one.note
    c.nrs(5, c.days_before(40))
    assert fact(c, "pain_nrs_latest", aggregate="lowest", over_days=90, min_scores=2).value == 5


def test_a_trial_whose_drug_is_not_documented_does_not_prove_the_drug_a_policy_names():
    c = _trial_chart((2, 3), (9, 3))  # coded only as an intrathecal drug trial
    f = fact(c, "trial_pain_relief_percent", held_for_hours=8, injectates=("opioid",))
    assert f.value is None and "does not document its drug" in f.note and "an opioid" in f.note
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value == 62.5  # no drug asked for


def test_a_documented_outcome_with_no_trial_procedure_does_not_prove_the_drug():
    c = Chart()
    c.trial_relief(70, hours=12)
    f = fact(c, "trial_pain_relief_percent", injectates=("opioid", "pain-injectate"))
    assert f.value is None and "no trial procedure on record" in f.note


def test_an_epidural_steroid_injection_with_bupivacaine_is_still_not_the_trial():
    c = _trial_chart((2, 3), (9, 3))
    c.epidural_steroid_injection(at(c.days_before(5), 10), code="62323", with_local_anaesthetic=True)
    c.nrs(7, at(c.days_before(5), 9))
    c.nrs(2, at(c.days_before(5), 14))  # the local anaesthetic working: not a trial score, standing
    assert fact(c, "trial_pain_relief_percent", held_for_hours=8).value == 62.5
    assert fact(c, "pain_nrs_latest").value == 2


def test_a_pre_dose_score_charted_as_part_of_the_trial_is_its_baseline():
    c = Chart()
    t = at(c.days_before(20), 8)
    proc = c.trial(t, drug="morphine")
    c.nrs(5, t - timedelta(days=30))  # an older standing score
    base = c.nrs(8, t - timedelta(minutes=30))
    base["partOf"] = [{"reference": f"Procedure/{proc['id']}"}]
    c.nrs(4, t + timedelta(hours=3))
    f = fact(c, "trial_pain_relief_percent", injectates=("opioid",))
    assert f.value == 50.0 and f"Observation/{base['id']}" in f.evidence
