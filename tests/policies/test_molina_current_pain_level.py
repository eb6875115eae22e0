"""Molina MCP 160 1a / 2a: "Diagnosis of severe, intractable pain ... affecting activity of daily
living functional ability (>6 on the NRS Pain Rating Scale)" is the member's present condition:
the latest standing NRS counts only within the 90 days before the date of service."""

from __future__ import annotations

from tests.helpers import criterion
from tests.policies.test_molina_mcp_160 import molina, nonmalignant_chart

NRS = "molina-160-nonmalignant-a-nrs-above-6"


def test_molina_nrs_above_6_within_90_days_is_met():
    c = nonmalignant_chart(omit=("nrs",))
    c.nrs(8, c.days_before(89))
    a = molina(c)
    assert criterion(a, NRS)["status"] == "met"
    assert a["determination"] == "criteria-met"


def test_molina_nrs_above_6_only_long_ago_is_unknown_not_met():
    c = nonmalignant_chart(omit=("nrs",))
    c.nrs(8, c.days_before(400))
    a = molina(c)
    cr = criterion(a, NRS)
    assert cr["status"] == "unknown"
    assert "within the 90 days" in cr["note"]
    assert a["determination"] == "documentation-incomplete"


def test_molina_old_nrs_6_with_nothing_since_is_unknown_not_not_met():
    # an old score proves neither the present level nor its absence
    c = nonmalignant_chart(omit=("nrs",))
    c.nrs(6, c.days_before(200))
    assert criterion(molina(c), NRS)["status"] == "unknown"


def test_molina_recent_nrs_6_is_still_not_met():
    c = nonmalignant_chart(omit=("nrs",))
    c.nrs(9, c.days_before(200))
    c.nrs(6, c.days_before(5))
    assert criterion(molina(c), NRS)["status"] == "not-met"
