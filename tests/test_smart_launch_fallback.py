"""The card's checklist link opens from any EHR (issue 15): when the EHR's FHIR server publishes
no SMART configuration (an open test server, the CDS Hooks sandbox), the link opens the
card's assessment read-only from its capability URL (no sign-in, no chart read) instead of
answering 502. A SMART configuration that is there but unsafe is still refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart
from .test_smart_launch import EHR, SMART_CONFIG, gaps_chart

SMART_WELL_KNOWN = f"{EHR}/.well-known/smart-configuration"


@pytest.fixture
def client():
    services = Services.load(Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=2))
    with TestClient(create_app(services)) as c:
        yield c


def checklist_link(client) -> dict:
    cards = client.post(
        "/cds-services/idds-order-select", json=gaps_chart().request(hook="order-select")
    ).json()["cards"]
    return next(link for link in cards[0]["links"] if link["type"] == "smart")


def opened(link: dict, **added: str) -> str:
    """The link's URL as an EHR opens it: its own query kept, the EHR's parameters appended."""
    return link["url"] + ("&" if "?" in link["url"] else "?") + urlencode(added)


def assessment_of(link: dict) -> str:
    return parse_qs(urlsplit(link["url"]).query)["assessment"][0]


def test_a_launch_from_an_ehr_without_smart_configuration_opens_the_cards_assessment_read_only(client):
    link = checklist_link(client)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(SMART_WELL_KNOWN).respond(404)
        chart_reads = mock.get(url__startswith=EHR + "/Patient").respond(500)
        r = client.get(opened(link, launch="l-1", iss=EHR), follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/smart/checklist?assessment={assessment_of(link)}"
        page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Documentation incomplete" in page.text
    assert "the chart is not read again here" in page.text
    assert not chart_reads.called  # read-only: nothing fetched, no token exists
    assert "set-cookie" not in r.headers


def test_the_cds_hooks_sandbox_on_an_open_server_opens_the_checklist(client):
    """The sandbox appends fhirServiceUrl, patientId and smart_messaging_origin and drops
    appContext; the capability in the link's URL is what opens the checklist."""
    link = checklist_link(client)
    with respx.mock(assert_all_called=True) as mock:
        r = client.get(
            opened(
                link,
                fhirServiceUrl="http://sandbox.example/fhir",
                patientId="pat-9",
                smart_messaging_origin="http://sandbox.example",
            ),
            follow_redirects=False,
        )
        assert not mock.calls  # the server named in the URL is never called
    assert r.status_code == 303 and "assessment=" in r.headers["location"]
    assert "Documentation incomplete" in client.get(r.headers["location"]).text


def test_an_unreachable_authorization_server_opens_the_assessment_too(client):
    link = checklist_link(client)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(SMART_WELL_KNOWN).mock(side_effect=httpx.ConnectError("refused"))
        r = client.get(opened(link, launch="l-1", iss=EHR), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/smart/checklist?assessment=")


def test_without_the_cards_assessment_a_missing_smart_configuration_is_still_an_error(client):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(SMART_WELL_KNOWN).respond(404)
        r = client.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
    assert r.status_code == 502 and "did not publish a SMART configuration" in r.text


def test_an_unsafe_smart_configuration_is_refused_not_bypassed(client):
    """An EHR that does offer SMART, but with a plain-http token endpoint, is not quietly
    turned into a read-only view: the clinician sees why the sign-in cannot happen."""
    link = checklist_link(client)
    unsafe = SMART_CONFIG | {"token_endpoint": "http://ehr.example.org/oauth/token"}
    with respx.mock(assert_all_called=False) as mock:
        mock.get(SMART_WELL_KNOWN).respond(200, json=unsafe)
        r = client.get(opened(link, launch="l-1", iss=EHR), follow_redirects=False)
    assert r.status_code == 502 and "not https" in r.text


def test_a_forgotten_assessment_says_so(client):
    r = client.get("/smart/launch", params={"assessment": "no-such-assessment"})
    assert r.status_code == 404 and "no longer kept" in r.text


def test_an_ehr_not_on_the_allow_list_gets_the_read_only_assessment_without_being_called(client):
    link = checklist_link(client)
    with respx.mock(assert_all_called=True) as mock:
        r = client.get(
            opened(link, launch="l-1", iss="https://other-ehr.example.com/fhir"), follow_redirects=False
        )
        assert not mock.calls
    assert r.status_code == 303 and r.headers["location"].startswith("/smart/checklist?assessment=")


def test_the_checklist_of_a_policy_with_two_versions_links_to_what_changed_between_them(client):
    """A reviewer or clinician reading a Cigna checklist can open the policy diff (issue 14):
    Cigna CMM-210 has two encoded versions, so the sheet links their diff."""
    link = checklist_link(client)
    page = client.get(f"/smart/checklist?assessment={assessment_of(link)}")
    assert page.status_code == 200
    assert 'href="/policies/cigna-cmm-210/diff?from=2026-02-25&amp;to=2026-08-04"' in page.text
    assert "What changed in this policy" in page.text
    diff = client.get("/policies/cigna-cmm-210/diff?from=2026-02-25&to=2026-08-04")
    assert diff.status_code == 200


def test_the_checklist_of_a_policy_with_one_version_has_no_diff_link(client):
    chart = Chart(payer="Molina Healthcare of Ohio", patient_id="pat-10")
    chart.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    chart.order("62322", drug="morphine", route="intrathecal")
    cards = client.post("/cds-services/idds-order-select", json=chart.request(hook="order-select")).json()[
        "cards"
    ]
    link = next(link for link in cards[0]["links"] if link["type"] == "smart")
    page = client.get(f"/smart/checklist?assessment={assessment_of(link)}")
    assert page.status_code == 200 and "molina-mcp-160" in page.text
    assert "What changed in this policy" not in page.text
