"""The SMART launch as real EHRs do it (issue 15): one launch is one session (two launches in
two tabs each stay on their own patient), a refused authorization code is a refused sign-in
with the EHR's reason (not a 502), a chart read refused for plain http says so, and the
default scopes are SMART 2.x with the 1.x form configurable."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings
from cds_service.smart.config import SmartSettings
from cds_service.smart.oauth import Session, SmartState

from .chart import Chart
from .test_auth import issuers_file
from .test_smart_launch import EHR, SECRET, SMART_CONFIG, TOKEN_URL, FakeEhr, gaps_chart

NAMES = {"pat-9": "Alex Testpatient", "pat-7": "Robin Otherpatient"}


def second_chart() -> Chart:
    c = Chart(payer="Cigna Health and Life Insurance Company", patient_id="pat-7", birth_date="1959-11-20")
    c.patient["name"] = [{"family": "Otherpatient", "given": ["Robin"]}]
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.order("62350", drug="baclofen", route="intrathecal")
    return c


class TwoPatientEhr:
    """One EHR, two charts; the token endpoint names the patient its code was issued for."""

    def __init__(self) -> None:
        self.charts = {c.patient_id: FakeEhr(c) for c in (gaps_chart(), second_chart())}

    def fhir(self, request: httpx.Request) -> httpx.Response:
        wanted = {request.url.path.rsplit("/", 1)[-1], *request.url.params.values()}
        (pid,) = wanted & set(self.charts)
        return self.charts[pid](request)

    def token(self, request: httpx.Request) -> httpx.Response:
        code = parse_qs(request.content.decode())["code"][0]
        return httpx.Response(
            200,
            json={
                "access_token": f"{SECRET}-{code}",
                "token_type": "Bearer",
                "patient": code.removeprefix("code-"),
            },
        )


@pytest.fixture
def services():
    return Services.load(Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=2))


def start(client: TestClient) -> str:
    r = client.get("/smart/launch", params={"launch": "l", "iss": EHR}, follow_redirects=False)
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["state"][0]


def test_two_launches_in_two_tabs_each_stay_on_their_own_patient(services):
    ehr = TwoPatientEhr()
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        mock.post(TOKEN_URL).mock(side_effect=ehr.token)
        mock.get(url__startswith=EHR + "/").mock(side_effect=ehr.fhir)
        # Tab 1 launches for pat-9, then tab 2 (same browser, same cookie jar) for pat-7.
        tabs = {}
        for pid in ("pat-9", "pat-7"):
            state = start(browser)
            back = browser.get(
                "/smart/callback", params={"code": f"code-{pid}", "state": state}, follow_redirects=False
            )
            tabs[pid] = back.headers["location"]
        assert tabs["pat-9"] != tabs["pat-7"]
        # Tab 1 reloads after tab 2's launch: still its own patient, and so is each tab's summary.
        for pid, url in tabs.items():
            other = NAMES["pat-7" if pid == "pat-9" else "pat-9"]
            for page in (browser.get(url), browser.get(url.replace("/checklist", "/summary"))):
                assert page.status_code == 200
                assert NAMES[pid] in page.text and other not in page.text
        # a page without its launch's session shows nobody's chart
        assert browser.get("/smart/checklist").status_code == 401
        assert browser.get("/smart/checklist", params={"session": "forged"}).status_code == 401


def test_a_launchs_links_keep_its_session(services):
    ehr = TwoPatientEhr()
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        mock.post(TOKEN_URL).mock(side_effect=ehr.token)
        mock.get(url__startswith=EHR + "/").mock(side_effect=ehr.fhir)
        back = browser.get(
            "/smart/callback", params={"code": "code-pat-9", "state": start(browser)}, follow_redirects=False
        )
        sid = parse_qs(urlsplit(back.headers["location"]).query)["session"][0]
        page = browser.get(back.headers["location"]).text
    assert f'href="/smart/summary?session={sid}"' in page
    assert f'name="session" value="{sid}"' in page  # the filter form and the documentation form


@pytest.mark.parametrize(
    ("status", "body", "shown", "answered"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "The code has expired"},
            "The code has expired",
            400,
        ),
        (401, {"error": "invalid_client", "error_description": "Unknown client"}, "Unknown client", 401),
        (400, "not json", "HTTP 400", 400),
    ],
)
def test_a_refused_authorization_code_is_a_refused_sign_in_with_the_ehrs_reason(
    services, status, body, shown, answered
):
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        if isinstance(body, dict):
            mock.post(TOKEN_URL).respond(status, json=body)
        else:
            mock.post(TOKEN_URL).respond(status, text=body)
        r = browser.get("/smart/callback", params={"code": "code-1", "state": start(browser)})
    assert r.status_code == answered  # a refused sign-in, not a gateway failure
    assert "Sign-in was refused" in r.text and shown in r.text


def test_an_authorization_refusal_shows_the_ehrs_description(services):
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        r = browser.get(
            "/smart/callback",
            params={
                "error": "access_denied",
                "error_description": "The user <b>declined</b>",
                "state": start(browser),
            },
        )
    assert r.status_code == 400
    assert "access_denied: The user &lt;b&gt;declined&lt;/b&gt;" in r.text


def test_with_caller_auth_on_a_plain_http_fhir_server_is_said_not_patient_not_found(services, tmp_path):
    settings = services.settings.model_copy(
        update={
            "require_auth": True,
            "trusted_issuers_file": issuers_file(tmp_path),
            "public_base_url": "https://cds.example-hospital.org",
            "allowed_fhir_servers": "http://ehr.example.org/fhir",
        }
    )
    loaded = replace(services, settings=settings)
    sid = SmartState(loaded.state, 600).open_session(
        Session("http://ehr.example.org/fhir", "pat-9", "tok-1", time.time() + 600)
    )
    with respx.mock(assert_all_called=False) as mock:
        reads = mock.route(url__startswith="http://ehr.example.org/").respond(200, json={})
        r = TestClient(create_app(loaded)).get("/smart/checklist", params={"session": sid})
    assert "plain http" in r.text and "Patient not found" not in r.text
    assert not reads.called  # the token never travelled


@pytest.mark.parametrize(
    ("configured", "scopes"),
    [
        ({}, ["launch", "openid", "fhirUser", "patient/*.rs"]),
        ({"scope_version": "1"}, ["launch", "openid", "fhirUser", "patient/*.read"]),
        (
            {"scope": "launch patient/Patient.rs patient/Condition.rs"},
            ["launch", "patient/Patient.rs", "patient/Condition.rs"],
        ),
    ],
)
def test_default_scopes_are_smart_2_and_the_1_x_form_is_configurable(
    services, monkeypatch, configured, scopes
):
    services = replace(services, smart=SmartSettings(**configured))
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        r = browser.get("/smart/launch", params={"launch": "l", "iss": EHR}, follow_redirects=False)
    assert parse_qs(urlsplit(r.headers["location"]).query)["scope"][0].split() == scopes


def test_the_cards_assessment_in_the_launch_url_stands_in_for_a_missing_app_context(services):
    """Many EHRs drop a card link's appContext: the assessment id in the link's URL still lets
    the checklist show the card's assessment when the drafts stay in the EHR."""
    chart = gaps_chart()
    with TestClient(create_app(services)) as browser, respx.mock(assert_all_called=False) as mock:
        cards = browser.post(
            "/cds-services/idds-order-select", json=chart.request(hook="order-select")
        ).json()
        link = next(l for l in cards["cards"][0]["links"] if l["type"] == "smart")
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=SMART_CONFIG)
        mock.post(TOKEN_URL).respond(
            200, json={"access_token": SECRET, "token_type": "Bearer", "patient": "pat-9"}
        )
        mock.get(url__startswith=EHR + "/").mock(side_effect=FakeEhr(chart, drafts_on_server=False))
        r = browser.get(link["url"] + "&launch=l-1&iss=" + EHR, follow_redirects=False)
        state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
        back = browser.get("/smart/callback", params={"code": "c", "state": state}, follow_redirects=False)
        page = browser.get(back.headers["location"])
    assert page.status_code == 200
    assert "Documentation incomplete" in page.text
    assert "Postlaminectomy syndrome" in page.text  # the live chart's evidence, the card's assessment
