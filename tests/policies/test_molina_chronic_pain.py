"""Molina MCP 160, malignant pathway: "medically necessary in adults with severe, chronic,
intractable pain". No other cancer-pain criterion proves the pain is chronic (G89.3 is
"acute or chronic"), so the record must: a pain diagnosis of the cancer-pain set that began
(onset, else recorded) at least 3 calendar months before the date of service (2026-09-14).
Three whole calendar months (onset 2026-06-14) is "at least 3 months"; less, or no date, is
unknown, never not-met (the policy does not exclude pain of shorter duration)."""

from __future__ import annotations

from datetime import date

from tests.helpers import criterion
from tests.policies.test_molina_mcp_160 import cancer_chart, molina

CHRONIC = "molina-160-cancer-chronic-pain"
G89_3 = "Neoplasm related pain (acute) (chronic)"


def _cancer_pain(onset: date | str | None, phase: str = "trial", **kw) -> tuple[dict, dict]:
    c = cancer_chart(phase, omit=("pain",))
    pain = c.condition(icd10="G89.3", display=G89_3, onset=onset, **kw)
    return molina(c), pain


def test_molina_cancer_pain_onset_4_months_before_is_chronic_and_criteria_met():
    a, pain = _cancer_pain(date(2026, 5, 14))
    cr = criterion(a, CHRONIC)
    assert cr["status"] == "met"
    assert f"Condition/{pain['id']}" in cr["evidence"]
    assert a["determination"] == "criteria-met"


def test_molina_cancer_pain_onset_exactly_3_calendar_months_before_is_met():
    # 2026-06-14 + 3 calendar months = 2026-09-14, the date of service: "at least 3 months"
    a, _ = _cancer_pain(date(2026, 6, 14))
    assert criterion(a, CHRONIC)["status"] == "met"
    assert a["determination"] == "criteria-met"


def test_molina_cancer_pain_onset_2_months_29_days_before_is_unknown_not_not_met():
    a, _ = _cancer_pain(date(2026, 6, 16))
    cr = criterion(a, CHRONIC)
    assert cr["status"] == "unknown"
    assert "less than 3 months" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_pain_onset_a_day_short_of_3_months_is_unknown():
    a, _ = _cancer_pain(date(2026, 6, 15))
    assert criterion(a, CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_onset_month_only_counts_from_its_last_day():
    # "2026-06" may mean 2026-06-30: not proven 3 months before 2026-09-14
    a, _ = _cancer_pain("2026-06")
    assert criterion(a, CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_without_onset_or_recorded_date_is_unknown():
    a, _ = _cancer_pain(None)
    cr = criterion(a, CHRONIC)
    assert cr["status"] == "unknown"
    assert "record when the pain began" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_pain_without_onset_recorded_5_months_before_is_met():
    a, _ = _cancer_pain(None, recorded=date(2026, 4, 10))
    assert criterion(a, CHRONIC)["status"] == "met"


def test_molina_cancer_pain_without_onset_recorded_last_month_is_unknown():
    a, _ = _cancer_pain(None, recorded=date(2026, 8, 20))
    assert criterion(a, CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_old_onset_on_entered_in_error_condition_is_unknown():
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2026, 8, 1))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2025, 1, 1), verification="entered-in-error")
    assert criterion(molina(c), CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_old_onset_on_refuted_condition_is_unknown():
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2026, 8, 1))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2025, 1, 1), verification="refuted")
    assert criterion(molina(c), CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_old_onset_on_another_patients_condition_is_unknown():
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2026, 8, 1))
    stranger = c.condition(icd10="G89.3", display=G89_3, onset=date(2025, 1, 1))
    stranger["subject"] = {"reference": "Patient/someone-else"}
    a = molina(c)
    assert criterion(a, CHRONIC)["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"


def test_molina_cancer_pain_by_combination_dates_the_pain_not_the_neoplasm():
    # the breast cancer (cancer_chart) dates from 800 days before; the back pain began last month
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="M54.50", display="Low back pain, unspecified", onset=date(2026, 8, 10))
    a = molina(c, indication="cancer-pain")
    assert criterion(a, "molina-160-cancer-a-diagnosis")["status"] == "met"
    assert criterion(a, CHRONIC)["status"] == "unknown"


def test_molina_cancer_pain_by_combination_with_old_pain_onset_is_met():
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="M54.50", display="Low back pain, unspecified", onset=date(2025, 11, 3))
    assert criterion(molina(c, indication="cancer-pain"), CHRONIC)["status"] == "met"


def test_molina_cancer_pain_undated_chronic_pain_code_does_not_prove_chronicity():
    c = cancer_chart(omit=("pain",))
    c.condition(icd10="G89.3", display=G89_3, onset=date(2026, 8, 1))
    c.condition(icd10="G89.29", display="Other chronic pain", onset=None)
    assert criterion(molina(c, indication="cancer-pain"), CHRONIC)["status"] == "unknown"


def test_molina_cancer_permanent_requires_chronic_pain_too():
    a, _ = _cancer_pain(date(2026, 8, 1), phase="permanent")
    assert criterion(a, CHRONIC)["status"] == "unknown"
    assert a["determination"] == "documentation-incomplete"
    met, _ = _cancer_pain(date(2026, 3, 2), phase="permanent")
    assert criterion(met, CHRONIC)["status"] == "met"
    assert met["determination"] == "criteria-met"
