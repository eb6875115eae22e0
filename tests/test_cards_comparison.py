"""No Coverage, or a payer no policy matches: one folded card per order (shared/contract/assessment.md).

"the answer is one card per order, not one per policy: it says no coverage was
found and carries every policy's assessment as a list under the key
`idds-cds.assessments` ...; the per-payer detail is behind its checklist link."
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.audit.capture import assessments as audit_rows
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_comparison_card, check_payer_card, check_response
from .chart import SOPT, Chart

SIGN = "/cds-services/idds-order-sign"
SELECT = "/cds-services/idds-order-select"
EVERY = {"cigna-cmm-210", "oxford-pharmacy-339", "nia-cg-310", "molina-mcp-160"}
CRD_EXT = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
MA_SENTENCE = "Unless otherwise stated, Oxford policies do not apply to Medicare Advantage members."


@pytest.fixture(scope="module")
def loaded() -> Services:
    return Services.load(Settings())


@pytest.fixture
def client(loaded):
    with TestClient(create_app(loaded)) as c:
        yield c


def replacement(payer: str | None = None) -> Chart:
    c = Chart(payer=payer)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def pain_trial(payer: str | None = None) -> Chart:
    c = Chart(payer=payer)
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.nrs(8, c.days_before(20))
    c.order("62322", drug="morphine")
    return c


def folded(body: dict) -> dict:
    check_response(body)
    (card,) = body["cards"]
    check_comparison_card(card)
    return card


# -- the folded answer ---------------------------------------------------------------------------


def test_no_coverage_is_one_card_per_order_not_one_payer_named_card_per_policy(client):
    body = client.post(SIGN, json=replacement().request()).json()
    card = folded(body)
    assert {a["policy"]["id"] for a in card["extension"]["idds-cds.assessments"]} == EVERY
    assert not any(
        card["summary"].startswith(p) for p in ("Cigna", "UnitedHealthcare", "National Imaging", "Molina")
    )


def test_no_coverage_summary_says_none_was_found_and_what_to_do(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    assert len(card["summary"]) < 140
    assert "no active coverage on file" in card["summary"] and "add the patient's Coverage" in card["summary"]
    assert "pump replacement" in card["summary"]
    assert card["indicator"] == "warning"  # something to fix in the record; never critical


def test_two_orders_without_coverage_give_two_folded_cards(client):
    c = replacement()
    c.order("62322", drug="morphine", order_id="sr-trial")
    body = client.post(SIGN, json=c.request()).json()
    check_response(body)
    assert len(body["cards"]) == 2
    for card in body["cards"]:
        check_comparison_card(card)
    assert {card["extension"]["idds-cds.assessments"][0]["order"]["reference"] for card in body["cards"]} == {
        "ServiceRequest/sr-1",
        "ServiceRequest/sr-trial",
    }


def test_the_comparison_detail_does_not_read_as_any_payers_verdict(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    detail = card["detail"]
    assert "No coverage in force on 2026-09-14 was found" in detail
    assert "none of these is this patient's payer's verdict" in detail
    # a compact table, one row per policy, not any policy's criteria and sources
    rows = [l for l in detail.splitlines() if l.startswith("| ") and "Policy" not in l]
    assert len(rows) == 4
    assert (
        "Battery depletion" not in detail and "> " not in detail
    )  # NIA's source sentence stays behind the link
    table = {r.split(" | ")[0].strip("| "): r.split(" | ")[2] for r in rows}
    assert table["Cigna (EviCore) CMM-210"] == "criteria met"
    assert table["National Imaging Associates (Magellan Healthcare) NIA_CG_310"] == "criteria not met"


def test_the_comparison_carries_each_policys_assessment_as_on_a_payer_card(client):
    c = replacement()
    card = folded(client.post(SIGN, json=c.request()).json())
    by_policy = {a["policy"]["id"]: a for a in card["extension"]["idds-cds.assessments"]}
    alone = Chart(payer="Cigna Healthcare")
    alone.condition(icd10="G35", display="Multiple sclerosis")
    alone.pump("battery-near-end")
    alone.order("62362")
    (payer_card,) = client.post(SIGN, json=alone.request()).json()["cards"]
    mine = payer_card["extension"]["idds-cds.assessment"]
    assert by_policy["cigna-cmm-210"]["determination"] == mine["determination"] == "criteria-met"
    assert [x["id"] for x in by_policy["cigna-cmm-210"]["criteria"]] == [x["id"] for x in mine["criteria"]]
    assert by_policy["nia-cg-310"]["determination"] == "criteria-not-met"
    assert all("comparison" in a["notes"][0] for a in by_policy.values())


def test_no_system_action_for_a_comparison_crd_coverage_information_needs_a_coverage(client):
    body = client.post(SIGN, json=replacement().request()).json()
    folded(body)
    assert body["systemActions"] == []


def test_unknown_payer_is_folded_and_named_and_asserts_nothing_about_its_coverage(client):
    body = client.post(SIGN, json=replacement("Acme Health Plan").request()).json()
    card = folded(body)
    assert "no encoded policy for Acme Health Plan" in card["summary"]
    assert card["indicator"] == "info"  # the coverage is on file; other payers' gaps are not this patient's
    assert card["extension"]["idds-cds.comparison"]["reason"] == "payer-not-matched"
    assert body["systemActions"] == []


def test_coverage_that_ended_the_day_before_is_folded_and_the_card_says_it_ended(client):
    c = replacement()
    cov = c.coverage("Cigna Healthcare", start="2025-01-01", end=c.dos - timedelta(days=1))
    card = folded(client.post(SIGN, json=c.request()).json())
    assert (
        "a coverage record (Cigna Healthcare) is not in force on 2026-09-14: it ended 2026-09-13"
        in card["detail"]
    )
    assert f"Coverage/{cov['id']}" not in card["detail"]  # named by what it is, not its raw reference


def test_a_coverage_with_an_unreadable_period_is_said_on_the_card(client):
    c = replacement()
    cov = c.coverage("Cigna Healthcare")
    cov["period"] = {"start": "2025-01-01", "end": "2026-02-30"}
    card = folded(client.post(SIGN, json=c.request()).json())
    assert (
        "a coverage record was not valid FHIR" in card["detail"]
        and f"Coverage/{cov['id']}" not in card["detail"]
    )


def test_the_comparison_option_off_returns_no_cards(client):
    req = replacement().request()
    req["extension"] = {"davinci-crd.configuration": {"comparison": False}}
    assert client.post(SIGN, json=req).json()["cards"] == []


# -- Medicare Advantage ---------------------------------------------------------------------------


def test_uhc_medicare_advantage_gets_the_comparison_and_the_card_says_why_oxford_was_not_applied(client):
    c = replacement()
    c.coverage("UnitedHealthcare", plan="UHC Choice Plus", type_code=(SOPT, "111", "Medicare HMO"))
    body = client.post(SIGN, json=c.request()).json()
    card = folded(body)
    assert card["extension"]["idds-cds.comparison"]["reason"] == "policy-excludes-member"
    assert "policy excludes this member's plan" in card["summary"]
    assert "UnitedHealthcare Oxford PHARMACY 339.7" in card["detail"] and MA_SENTENCE in card["detail"]
    assert {a["policy"]["id"] for a in card["extension"]["idds-cds.assessments"]} == EVERY
    assert body["systemActions"] == []


def test_uhc_commercial_plan_gets_the_oxford_card(client):
    c = replacement()
    c.coverage(
        "UnitedHealthcare", plan="UHC Choice Plus", type_code=(SOPT, "512", "Commercial Managed Care - PPO")
    )
    body = client.post(SIGN, json=c.request()).json()
    check_response(body)
    (card,) = body["cards"]
    check_payer_card(card)
    assert card["extension"]["idds-cds.assessment"]["policy"]["id"] == "oxford-pharmacy-339"
    assert "not applied" not in card["detail"]


# -- the payer known ----------------------------------------------------------------------------


def test_primary_molina_card_notes_the_secondary_cigna_coverage_in_force(client):
    c = pain_trial()
    c.coverage("Cigna Healthcare", order=2)
    molina = c.coverage("Molina Healthcare of Ohio", order=1)
    body = client.post(SIGN, json=c.request()).json()
    check_response(body)
    (card,) = body["cards"]
    check_payer_card(card)
    a = card["extension"]["idds-cds.assessment"]
    assert a["policy"]["id"] == "molina-mcp-160" and card["source"]["label"] == "Molina Healthcare"
    assert "Also in force: a coverage record (Cigna Healthcare, order 2)" in card["detail"]
    for action in body["systemActions"]:
        (ext,) = [e for e in action["resource"]["extension"] if e["url"] == CRD_EXT]
        parts = {e["url"]: e for e in ext["extension"]}
        assert parts["coverage"]["valueReference"]["reference"] == f"Coverage/{molina['id']}"


def test_order_sign_coverage_information_names_the_coverage_in_force_not_an_ended_one(client):
    c = replacement()
    c.coverage("Cigna Healthcare", end="2026-06-30", order=1)
    current = c.coverage("Cigna Healthcare", start="2026-07-01", order=1)
    body = client.post(SIGN, json=c.request()).json()
    (action,) = body["systemActions"]
    (ext,) = [e for e in action["resource"]["extension"] if e["url"] == CRD_EXT]
    assert {e["url"]: e for e in ext["extension"]}["coverage"]["valueReference"][
        "reference"
    ] == f"Coverage/{current['id']}"


# -- the checklist behind the link ----------------------------------------------------------------


def test_the_checklist_link_opens_every_policy_of_the_comparison(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    (smart,) = [l for l in card["links"] if l["type"] == "smart"]
    comparison_id = re.fullmatch(r"assessment=(.+)", smart["appContext"]).group(1)
    assert comparison_id == card["uuid"]
    page = client.get("/smart/checklist", params={"assessment": comparison_id})
    assert page.status_code == 200
    shown = set(re.findall(r'data-policy="([^"]+)"', page.text))
    assert shown == EVERY
    assert "A comparison, not the patient's payer's verdict" in html.unescape(page.text)
    summary = client.get("/smart/summary", params={"assessment": comparison_id})
    assert summary.status_code == 200 and set(re.findall(r'data-policy="([^"]+)"', summary.text)) == EVERY


def test_each_compared_policy_opens_on_its_own_too(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    nia = next(a for a in card["extension"]["idds-cds.assessments"] if a["policy"]["id"] == "nia-cg-310")
    page = client.get("/smart/checklist", params={"assessment": nia["id"]})
    assert page.status_code == 200 and set(re.findall(r'data-policy="([^"]+)"', page.text)) == {"nia-cg-310"}
    assert client.get(f"/assessments/{card['uuid']}").json()["assessments"][0]["policy"]["id"]


def test_the_audit_trail_records_each_compared_assessment_under_its_own_id(client):
    body = client.post(SIGN, json=replacement().request()).json()
    card = folded(body)
    cards, actions, rows = audit_rows(body)
    assert (cards, actions) == (1, 0)
    assert {r["id"] for r in rows} == {a["id"] for a in card["extension"]["idds-cds.assessments"]}
    assert {r["policy_id"] for r in rows} == EVERY


# -- the documentation form (DTR) and the dismissal reasons, as on a payer's card -----------------


def test_no_coverage_with_documentation_to_complete_offers_the_documentation_link(client):
    card = folded(client.post(SIGN, json=pain_trial().request()).json())
    (link,) = [l for l in card["links"] if l["label"] == "Complete the documentation"]
    assert link["type"] == "smart"
    assert parse_qs(link["appContext"]) == {"assessment": [card["uuid"]], "order": ["ServiceRequest/sr-1"]}
    # it opens the comparison's checklist, whose forms save against each policy's kept assessment
    page = client.get("/smart/checklist", params={"assessment": card["uuid"]}).text
    assert 'action="/smart/documentation"' in page
    hidden = set(re.findall(r'<input type="hidden" name="assessment" value="([^"]+)">', page))
    compared = {a["id"]: a["determination"] for a in card["extension"]["idds-cds.assessments"]}
    form_ids = hidden & set(compared)
    assert "documentation-incomplete" in {compared[aid] for aid in form_ids}
    for aid in form_ids:  # what POST /smart/documentation recalls
        kept = client.get(f"/assessments/{aid}")
        assert kept.status_code == 200 and kept.json()["id"] == aid


def test_an_unmatched_payer_with_documentation_to_complete_offers_the_documentation_link(client):
    card = folded(client.post(SIGN, json=pain_trial("Acme Health Plan").request()).json())
    assert card["extension"]["idds-cds.comparison"]["reason"] == "payer-not-matched"
    assert [l for l in card["links"] if l["label"] == "Complete the documentation"]


def test_a_comparison_with_nothing_left_to_document_offers_no_documentation_link(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    items = card["extension"]["idds-cds.assessments"]
    assert "documentation-incomplete" not in {a["determination"] for a in items}
    assert not [l for l in card["links"] if l["label"] == "Complete the documentation"]


def test_the_override_reasons_on_every_card_resolve_in_the_published_codesystem(client):
    card = folded(client.post(SIGN, json=replacement().request()).json())
    reasons = card["overrideReasons"]
    assert reasons
    published = client.get("/fhir/CodeSystem/idds-override-reason")
    assert published.status_code == 200
    assert published.headers["content-type"].startswith("application/fhir+json")
    cs = published.json()
    assert cs["resourceType"] == "CodeSystem" and cs["content"] == "complete"
    concepts = {c["code"]: c["display"] for c in cs["concept"]}
    for reason in reasons:
        assert reason["system"] == cs["url"]
        assert concepts[reason["code"]] == reason["display"]
