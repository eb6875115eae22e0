"""Payer routing's own rules (cds_service/payers.py), one function at a time: when a Coverage is
in force, how its payer is named, and the near-misses that must not route to a policy.

tests/test_payer_routing.py drives the same rules through a whole assessment; these read the
answer of `in_force`, `payer_name` and `route` directly, edge by edge.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from cds_service import payers
from cds_service.hook_models import HookRequest
from cds_service.prefetch import build_record
from cds_service.settings import Settings

from .chart import SOPT, Chart
from .helpers import services

DOS = date(2026, 9, 14)
CIGNA, OXFORD, MOLINA, NIA = "cigna-cmm-210", "oxford-pharmacy-339", "molina-mcp-160", "nia-cg-310"


def routing(chart: Chart, dos: date = DOS) -> payers.Routing:
    terminology, store = services()
    record = asyncio.run(build_record(HookRequest.model_validate(chart.request()), Settings()))
    return payers.route(record, terminology, store.policy_ids, dos)


def chart(*coverages: dict) -> Chart:
    c = Chart(payer=None)
    for cov in coverages:
        c.coverage(**cov)
    return c


# -- in_force: the period, end inclusive -------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (None, True),  # no period: in force
        ({"start": "2026-01-01"}, True),
        ({"end": "2026-09-14"}, True),  # ends on the date of service: still in force that day
        ({"end": "2026-09-14T00:00:00Z"}, True),  # a dateTime on that day, however early
        ({"end": "2026-09"}, True),  # a month covers its whole month
        ({"end": "2026"}, True),
        ({"start": "2026-09-14"}, True),  # starts that day
        ({"start": "2026-09"}, True),  # a partial start is its first day
        ({"end": "2026-09-13"}, False),
        ({"end": "2026-08"}, False),
        ({"start": "2026-09-15"}, False),
        ({"start": "2026-10"}, False),
        ({"start": "2027"}, False),
    ],
)
def test_a_coverage_period_covers_the_date_of_service_with_its_end_inclusive(period, expected):
    coverage = {"resourceType": "Coverage"} | ({"period": period} if period is not None else {})
    assert payers.in_force(coverage, DOS)[0] is expected


@pytest.mark.parametrize(
    "period",
    [
        "2026-01-01/2026-12-31",
        {"end": "2026-02-30"},
        {"start": "sometime in 2025"},
        {"end": 20261231},
        {"end": "2026-09-14T25:00:00Z"},
        {"start": "2026-12-01", "end": "2026-01-01"},  # ends before it starts
    ],
)
def test_a_period_that_cannot_be_read_is_neither_in_force_nor_out_and_says_why(period):
    force, how = payers.in_force({"resourceType": "Coverage", "period": period}, DOS)
    assert force is None and how


def test_why_a_coverage_is_out_of_force_names_the_day():
    assert payers.in_force({"period": {"end": "2026-09-13"}}, DOS) == (
        False,
        "it ended 2026-09-13, before the date of service",
    )
    assert payers.in_force({"period": {"start": "2026-10"}}, DOS) == (
        False,
        "it starts 2026-10-01, after the date of service",
    )


# -- payer_name ------------------------------------------------------------------------------------


def test_the_payer_is_named_by_the_payor_display_first_then_a_class_name():
    assert payers.payer_name({"payor": [{"display": " Cigna Healthcare "}]}) == "Cigna Healthcare"
    assert (
        payers.payer_name(
            {"payor": [{"reference": "Organization/o1"}], "class": [{"name": "Molina Medicaid"}]}
        )
        == "Molina Medicaid"
    )
    assert payers.payer_name({"payor": [{"display": "  "}], "class": [{"value": "PLAN-01"}]}) is None
    assert payers.payer_name({}) is None


# -- route: which policy, and the near-misses ------------------------------------------------------


def test_the_primary_coverage_in_force_routes_to_its_payers_policy():
    r = routing(chart({"payer": "Cigna Healthcare"}))
    assert r.policy_ids == (CIGNA,) and not r.comparison and r.payer == "Cigna Healthcare"


def test_a_payer_is_matched_whatever_its_case():
    assert routing(chart({"payer": "MOLINA HEALTHCARE OF OHIO"})).policy_ids == (MOLINA,)


def test_a_coverage_that_ended_the_day_before_routes_nowhere_and_says_so():
    r = routing(chart({"payer": "Cigna Healthcare", "end": "2026-09-13"}))
    assert r.comparison and r.reason == payers.NO_COVERAGE and r.coverage_ref is None
    assert any("2026-09-13" in n for n in r.notes)


@pytest.mark.parametrize("status", ["cancelled", "draft"])
def test_a_coverage_that_is_not_active_routes_nowhere(status):
    r = routing(chart({"payer": "Cigna Healthcare", "status": status}))
    assert r.comparison and r.reason == payers.NO_COVERAGE


def test_a_payer_no_policy_is_encoded_for_is_a_comparison_of_every_policy():
    r = routing(chart({"payer": "Aetna Better Health", "plan": "Aetna Choice POS II"}))
    assert r.comparison and r.reason == payers.UNMATCHED
    assert set(r.policy_ids) == {CIGNA, OXFORD, MOLINA, NIA}


def test_the_lowest_order_is_the_primary_whatever_the_order_of_the_list():
    r = routing(chart({"payer": "Cigna Healthcare", "order": 2}, {"payer": "Molina Healthcare", "order": 1}))
    assert r.policy_ids == (MOLINA,)
    assert any("Also in force" in n and "Cigna" in n for n in r.notes)


def test_medicare_fee_for_service_is_not_medicare_advantage_for_oxford():
    """SOPT 121 (Medicare FFS) is Medicare but not Medicare Advantage: Oxford's exclusion names only
    Medicare Advantage (11x), so the UnitedHealthcare member is still Oxford's."""
    r = routing(
        chart(
            {"payer": "UnitedHealthcare", "plan": "Choice Plus", "type_code": (SOPT, "121", "Medicare FFS")}
        )
    )
    assert r.policy_ids == (OXFORD,) and not r.comparison


def test_medicare_advantage_takes_a_unitedhealthcare_member_out_of_oxfords_policy():
    r = routing(
        chart(
            {"payer": "UnitedHealthcare", "plan": "Choice Plus", "type_code": (SOPT, "111", "Medicare HMO")}
        )
    )
    assert r.comparison and r.reason == payers.EXCLUDED and r.exclusion
    assert "do not apply to Medicare Advantage members" in r.exclusion


def test_a_sopt_code_under_another_system_does_not_mark_a_member():
    r = routing(
        chart(
            {
                "payer": "UnitedHealthcare",
                "plan": "Choice Plus",
                "type_code": ("http://example.org/types", "111", "x"),
            }
        )
    )
    assert r.policy_ids == (OXFORD,)


def test_another_patients_coverage_never_routes_this_patient():
    r = routing(chart({"payer": "Cigna Healthcare", "beneficiary": "someone-else"}))
    assert r.comparison and r.reason == payers.NO_COVERAGE


def test_each_date_of_service_has_its_own_coverage():
    c = chart(
        {"payer": "Cigna Healthcare", "end": "2026-06-30"},
        {"payer": "Molina Healthcare", "start": "2026-07-01"},
    )
    assert routing(c, date(2026, 6, 30)).policy_ids == (CIGNA,)
    assert routing(c, date(2026, 7, 1)).policy_ids == (MOLINA,)
