"""One card per assessment (cds_service/cards.py), read as the EHR reads it: CDS Hooks 2.0's card
shape, the indicator a determination gets, where the card's source and links lead, and the
coverage information a signed order is updated with (Da Vinci CRD).

test_card_text.py reads the words on the cards; these read what the cards are made of.
"""

from __future__ import annotations

import asyncio
from datetime import date
from urllib.parse import quote

import pytest

from cds_service import card_links, cards
from cds_service.assessment import Assessment, Comparison
from cds_service.hook_models import HookRequest
from cds_service.pipeline import HookOutcome, assess_hook
from cds_service.prefetch import build_record
from cds_service.record import PatientRecord
from cds_service.settings import Settings

from .chart import Chart
from .helpers import services
from .test_smart_launch import gaps_chart

BASE = "https://cds.example-hospital.test"
SMART = f"{BASE}/smart/launch"
CRD_COVERAGE = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


def replacement(payer: str | None = "Cigna Healthcare") -> Chart:
    """A pump replacement for MS with the battery near its end: Cigna's criteria are met."""
    c = Chart(payer=payer)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def assessed(chart: Chart, hook: str = "order-sign") -> tuple[HookRequest, PatientRecord, HookOutcome]:
    terminology, store = services()
    req = HookRequest.model_validate(chart.request(hook=hook))
    record = asyncio.run(build_record(req, Settings()))
    return req, record, assess_hook(req, record, terminology, store, today=chart.dos)


def only(chart: Chart) -> tuple[Assessment, PatientRecord]:
    _, record, outcome = assessed(chart)
    (a,) = outcome.assessments
    assert isinstance(a, Assessment)
    return a, record


@pytest.fixture(scope="module")
def met() -> tuple[Assessment, PatientRecord]:
    a, record = only(replacement())
    assert a.determination == "criteria-met"
    return a, record


@pytest.fixture(scope="module")
def gaps() -> tuple[Assessment, PatientRecord]:
    a, record = only(gaps_chart())
    assert a.determination == "documentation-incomplete"
    return a, record


# -- the card ---------------------------------------------------------------------------------------


def test_the_card_is_the_assessment_its_uuid_is_the_assessments_id(met):
    a, record = met
    card = cards.card(a, record, BASE, SMART)
    assert card.uuid == a.id


def test_met_is_information_and_a_gap_is_a_warning(met, gaps):
    assert cards.card(*met, BASE, SMART).indicator == "info"
    assert cards.card(*gaps, BASE, SMART).indicator == "warning"


def test_every_summary_fits_the_140_characters_cds_hooks_allows(met, gaps):
    for a, record in (met, gaps):
        assert 0 < len(cards.card(a, record, BASE, SMART).summary) < 140


def test_the_source_is_the_payer_and_the_topic_says_information_or_documentation(met, gaps):
    shown = cards.card(*met, BASE, SMART).source
    assert shown.label == met[0].policy.payer and shown.label.startswith("Cigna")
    assert shown.topic is not None and shown.topic["code"] == "coverage-info"
    asked = cards.card(*gaps, BASE, SMART).source
    assert asked.topic is not None and asked.topic["code"] == "documentation"


def test_the_first_link_opens_the_checklist_of_this_assessment(met):
    a, record = met
    first = cards.card(a, record, BASE, SMART).links[0]
    # the id in the URL too: an EHR with no SMART launch context drops appContext (issue 15)
    assert (first.type, first.url, first.appContext) == (
        "smart",
        f"{SMART}?assessment={a.id}",
        f"assessment={a.id}",
    )


def test_the_policy_link_is_under_the_base_url_and_lands_on_the_first_gap(met, gaps):
    a, record = gaps
    policy = next(l for l in cards.card(a, record, BASE, SMART).links if "/policies/" in l.url)
    first_gap = next(c for c in a.outcome.criteria if c.blocking)
    assert policy.type == "absolute"
    assert policy.url == f"{BASE}/policies/{a.policy.policy}/{quote(a.policy.version)}#{quote(first_gap.id)}"
    m, mrecord = met
    (policy,) = [l for l in cards.card(m, mrecord, BASE, SMART).links if "/policies/" in l.url]
    assert "#" not in policy.url  # nothing to land on when every criterion is met


def test_the_patients_own_payer_gets_a_prior_authorization_packet_link(met):
    a, record = met
    urls = [l.url for l in cards.card(a, record, BASE, SMART).links]
    assert f"{BASE}/assessments/{a.id}/packet" in urls


def test_every_card_offers_the_reasons_a_clinician_may_override_it(met, gaps):
    for a, record in (met, gaps):
        reasons = cards.card(a, record, BASE, SMART).overrideReasons
        assert reasons and all(r.code and r.display for r in reasons)


def test_a_card_serialises_without_empty_fields(met):
    body = cards.card(*met, BASE, SMART).model_dump(exclude_none=True)
    assert {"uuid", "summary", "indicator", "source"} <= set(body)
    assert all(v not in (None, "") for v in body.values())


# -- a comparison: one card, no payer --------------------------------------------------------------


def test_without_coverage_one_comparison_card_is_the_services_not_a_payers():
    _, record, outcome = assessed(replacement(payer=None))
    (c,) = outcome.assessments
    assert isinstance(c, Comparison)
    card = cards.card(c, record, BASE, SMART)
    assert card.uuid == c.id and card.source.label == card_links.SERVICE_LABEL
    assert card.indicator == "warning"  # no payer's verdict: never shown as met
    policy_links = [l.url for l in card.links if "/policies/" in l.url]
    assert len(policy_links) == len({a.policy.policy for a in c.assessments}) > 1


# -- system actions (CRD coverage information) -----------------------------------------------------


def test_a_signed_order_of_the_patients_payer_is_updated_with_coverage_information():
    req, _, outcome = assessed(replacement())
    (action,) = cards.system_actions(outcome.assessments, req.hook, outcome.routing, date(2026, 9, 14))
    assert action.type == "update" and action.resource is not None
    (ext,) = [e for e in action.resource["extension"] if e["url"] == CRD_COVERAGE]
    assert any(e.get("url") == "coverage" for e in ext["extension"])
    original = outcome.orders[0].resource
    assert all(e.get("url") != CRD_COVERAGE for e in original.get("extension") or ())  # a copy was updated


def test_order_select_asks_for_no_update_while_documentation_is_missing():
    req, _, outcome = assessed(gaps_chart(), hook="order-select")
    assert cards.system_actions(outcome.assessments, req.hook, outcome.routing, date(2026, 9, 14)) == []


def test_a_comparison_asserts_no_coverage_information():
    req, _, outcome = assessed(replacement(payer=None))
    assert cards.system_actions(outcome.assessments, req.hook, outcome.routing, date(2026, 9, 14)) == []


# -- the service's own failure ------------------------------------------------------------------------


def test_a_failure_card_is_a_warning_that_draws_no_coverage_conclusion():
    a, b = cards.failure_card(), cards.failure_card()
    assert a.indicator == "warning" and a.source.label == card_links.SERVICE_LABEL
    assert "could not be assessed" in a.summary and "No coverage conclusion" in (a.detail or "")
    assert a.uuid != b.uuid and not a.links and not a.suggestions
