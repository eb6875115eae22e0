"""SMART App Launch (EHR launch) of the checklist, with the EHR's authorization server and
FHIR server mocked by respx: PKCE S256, state, aud and scopes on the way out; state checked
on the way back; the token used server-side and never shown or logged."""

from __future__ import annotations

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart

EHR = "https://ehr.example.org/fhir"
AUTHORIZE = "https://ehr.example.org/oauth/authorize"
TOKEN_URL = "https://ehr.example.org/oauth/token"
SECRET = "at-7f3c9e1d-very-secret-access-token"
SMART_CONFIG = {
    "authorization_endpoint": AUTHORIZE,
    "token_endpoint": TOKEN_URL,
    "code_challenge_methods_supported": ["S256"],
    "capabilities": ["launch-ehr", "client-public", "context-ehr-patient"],
}


def gaps_chart(with_drafts: bool = True) -> Chart:
    c = Chart(payer="Cigna Health and Life Insurance Company", patient_id="pat-9")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.therapy("physical-therapy", c.days_before(420), c.days_before(120), outcome="ineffective")
    c.medication("oxycodone", c.days_before(420), c.days_before(15), fixed=True, reason="ineffective")
    c.flag("further-surgery-not-indicated", True)
    c.order("62322", drug="morphine", route="intrathecal")
    return c


class FakeEhr:
    """The EHR's FHIR server: answers reads and searches from a Chart, records the auth headers."""

    def __init__(self, chart: Chart, drafts_on_server: bool = True):
        self.chart = chart
        self.drafts = chart.draft if drafts_on_server else []
        self.auth_headers: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.auth_headers.append(request.headers.get("Authorization"))
        path = request.url.path.removeprefix("/fhir/")
        if path == f"Patient/{self.chart.patient_id}":
            return httpx.Response(200, json=self.chart.patient)
        rtype = path.split("/")[0]
        found = [r for rs in self.chart.resources.values() for r in rs if r["resourceType"] == rtype]
        found += [r for r in self.drafts if r["resourceType"] == rtype]
        if rtype == "Coverage":
            found = [r for r in found if r.get("status") == "active"]
        return httpx.Response(
            200,
            json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]},
        )


@pytest.fixture
def services():
    return Services.load(Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=2))


@pytest.fixture
def client(services):
    with TestClient(create_app(services)) as c:
        yield c


def launch(client) -> dict[str, str]:
    response = client.get(
        "/smart/launch", params={"launch": "launch-abc", "iss": EHR}, follow_redirects=False
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(AUTHORIZE + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def mock_ehr(mock: respx.MockRouter, ehr: FakeEhr, token_body: dict | None = None) -> dict:
    seen: dict = {}

    def token(request: httpx.Request) -> httpx.Response:
        seen.update({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        body = token_body or {
            "access_token": SECRET,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "launch patient/*.read openid fhirUser",
            "patient": ehr.chart.patient_id,
        }
        return httpx.Response(200, json=body)

    mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
    mock.post(TOKEN_URL).mock(side_effect=token)
    mock.get(url__startswith=EHR + "/").mock(side_effect=ehr)
    return seen


def test_launch_redirects_to_authorize_with_pkce_state_aud_and_scopes(client):
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        q = launch(client)
    assert q["response_type"] == "code"
    assert q["client_id"] == "idds-cds"
    assert q["redirect_uri"] == "http://testserver/smart/callback"
    assert q["launch"] == "launch-abc"
    assert q["scope"].split() == ["launch", "openid", "fhirUser", "patient/*.rs"]  # SMART 2.x syntax
    assert q["aud"] == EHR
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43 and "=" not in q["code_challenge"]
    assert len(q["state"]) >= 32


def test_full_launch_shows_the_checklist_and_keeps_the_token_server_side(client, caplog):
    caplog.set_level(logging.DEBUG)
    ehr = FakeEhr(gaps_chart())
    with respx.mock(assert_all_called=False) as mock:
        seen = mock_ehr(mock, ehr)
        q = launch(client)
        back = client.get(
            "/smart/callback", params={"code": "code-123", "state": q["state"]}, follow_redirects=False
        )
        assert back.status_code == 303 and back.headers["location"].startswith("/smart/checklist?session=")
        # PKCE: the verifier sent to the token endpoint hashes to the challenge sent to authorize.
        digest = hashlib.sha256(seen["code_verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == q["code_challenge"]
        assert seen["grant_type"] == "authorization_code" and seen["code"] == "code-123"
        assert seen["redirect_uri"] == q["redirect_uri"] and seen["client_id"] == "idds-cds"
        assert "set-cookie" not in back.headers  # the session is this launch's, in its URL
        assert SECRET not in back.headers["location"]
        page = client.get(back.headers["location"])
        summary = client.get(back.headers["location"].replace("/checklist", "/summary"))
    assert page.status_code == 200
    assert "Documentation incomplete" in page.text
    assert "Individual agrees to a 50% reduction in systemic opioids" in page.text
    assert set(ehr.auth_headers) == {f"Bearer {SECRET}"}  # every FHIR read carried the token
    for body in (page.text, summary.text, back.text):
        assert SECRET not in body and "code-123" not in body
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "pat-9" in logged  # ids may be logged …
    assert SECRET not in logged and seen["code_verifier"] not in logged  # … tokens never


def test_callback_rejects_a_wrong_state_without_calling_the_token_endpoint(client):
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        launch(client)
        response = client.get(
            "/smart/callback", params={"code": "code-123", "state": "forged-state"}, follow_redirects=False
        )
        assert response.status_code == 400
        assert "could not be verified" in response.text
        assert not mock.routes[1].called  # the token endpoint
        assert "set-cookie" not in response.headers
        assert client.get("/smart/checklist").status_code == 401


def test_callback_state_is_single_use(client):
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        q = launch(client)
        assert (
            client.get(
                "/smart/callback", params={"code": "c1", "state": q["state"]}, follow_redirects=False
            ).status_code
            == 303
        )
        again = client.get(
            "/smart/callback", params={"code": "c1", "state": q["state"]}, follow_redirects=False
        )
        assert again.status_code == 400


def test_callback_reports_an_authorization_refusal(client):
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        q = launch(client)
        response = client.get("/smart/callback", params={"error": "access_denied", "state": q["state"]})
    assert response.status_code == 400 and "access_denied" in response.text


def test_launch_refuses_an_iss_not_on_the_allow_list(client):
    with respx.mock(assert_all_called=False) as mock:
        config = mock.get(url__regex=r".*smart-configuration").respond(200, json=SMART_CONFIG)
        response = client.get(
            "/smart/launch",
            params={"launch": "x", "iss": "https://evil.example.com/fhir"},
            follow_redirects=False,
        )
    assert response.status_code == 403
    assert not config.called


def test_launch_refuses_an_authorization_server_without_s256(client):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(
            200, json={**SMART_CONFIG, "code_challenge_methods_supported": ["plain"]}
        )
        response = client.get("/smart/launch", params={"launch": "x", "iss": EHR}, follow_redirects=False)
    assert response.status_code == 502 and "S256" in response.text


def test_token_response_without_patient_is_refused(client):
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()), token_body={"access_token": SECRET, "token_type": "Bearer"})
        q = launch(client)
        response = client.get(
            "/smart/callback", params={"code": "c", "state": q["state"]}, follow_redirects=False
        )
    assert response.status_code == 400 and "without a patient" in response.text
    assert SECRET not in response.text


def test_card_app_context_opens_the_cards_assessment_when_drafts_stay_in_the_ehr(client):
    """CDS Hooks passes the smart link's appContext to the app through the token response."""
    chart = gaps_chart()
    cards = client.post("/cds-services/idds-order-select", json=chart.request(hook="order-select")).json()[
        "cards"
    ]
    link = next(l for l in cards[0]["links"] if l["type"] == "smart")
    assert link["appContext"].startswith("assessment=")
    # the capability in the URL too, for EHRs that drop appContext (test_smart_open_launch.py)
    assert link["url"] == "http://testserver/smart/launch?" + link["appContext"]
    ehr = FakeEhr(chart, drafts_on_server=False)
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(
            mock,
            ehr,
            token_body={
                "access_token": SECRET,
                "token_type": "Bearer",
                "patient": "pat-9",
                "appContext": link["appContext"],
            },
        )
        q = launch(client)
        back = client.get(
            "/smart/callback", params={"code": "c", "state": q["state"]}, follow_redirects=False
        )
        page = client.get(back.headers["location"])
    assert page.status_code == 200
    assert "Documentation incomplete" in page.text
    assert "Postlaminectomy syndrome" in page.text  # evidence described from the live chart


def test_checklist_by_assessment_id_and_unknown_id(client):
    chart = gaps_chart()
    cards = client.post("/cds-services/idds-order-select", json=chart.request(hook="order-select")).json()[
        "cards"
    ]
    assessment_id = cards[0]["extension"]["idds-cds.assessment"]["id"]
    page = client.get("/smart/checklist", params={"assessment": assessment_id})
    assert page.status_code == 200 and "Documentation incomplete" in page.text
    assert (
        'href="/policies/cigna-cmm-210/2026-08-04#cigna-2026-08-nonmalignant-trial-opioid-reduction-agreed"'
        in page.text
    )
    assert client.get("/smart/checklist", params={"assessment": "no-such-id"}).status_code == 404
    assert (
        client.get("/smart/checklist", params={"assessment": assessment_id, "missing": "1"}).text.count(
            'class="missing-only"'
        )
        == 1
    )
