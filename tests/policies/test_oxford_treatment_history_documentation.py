"""Oxford PHARMACY 339.7 documentation row "Treatments tried, failed, or contraindicated; include
the dates and reason for discontinuation": documented only by a dated course that, once stopped,
says why. A completed course without an outcome, or an undated one, leaves the row open."""

from __future__ import annotations

from tests.chart import Chart
from tests.helpers import status
from tests.policies.test_oxford_pharmacy_339 import DOS, PAYER, P, oxford

ROW = P + "cancer-doc-treatments"


def cancer_chart_with(outcome: str | None) -> Chart:
    c = Chart(payer=PAYER, dos=DOS)
    c.condition(icd10="C50.9", display="Malignant neoplasm of breast, unspecified")
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    c.nrs(9, c.days_before(5))
    c.therapy("physical-therapy", c.days_before(200), c.days_before(120), outcome=outcome)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


def test_oxford_treatment_row_with_dates_and_reason_for_stopping_is_documented():
    a = oxford(cancer_chart_with(outcome="ineffective"))
    assert status(a, ROW) == "met"
    assert a["determination"] == "not-evaluable"


def test_oxford_treatment_row_stopped_without_a_reason_is_not_documented():
    a = oxford(cancer_chart_with(outcome=None))
    assert status(a, ROW) == "unknown"
    assert a["determination"] == "not-evaluable"


def test_oxford_treatment_row_still_running_needs_no_reason_for_stopping():
    c = Chart(payer=PAYER, dos=DOS)
    c.condition(icd10="C50.9", display="Malignant neoplasm of breast, unspecified")
    c.condition(icd10="G89.3", display="Neoplasm related pain (acute) (chronic)")
    c.therapy("physical-therapy", c.days_before(60), None, outcome=None, status="in-progress")
    c.order("62322", drug="morphine", route="intrathecal")
    assert status(oxford(c), ROW) == "met"
