"""Security of the SMART launch (issue 10, item 8 and the risks list): state bound to the
browser that started the launch, a redirect URI and cookie flags from configuration, the
sign-in never over plain http, and the open-server checklist off when auth is on."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .test_auth import issuers_file
from .test_smart_launch import EHR, SMART_CONFIG, TOKEN_URL, FakeEhr, gaps_chart, launch, mock_ehr


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("sec-smart") / "audit.sqlite"
    return Services.load(
        Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=2, database_url=f"sqlite:///{db}")
    )


def app_with(loaded: Services, **update):
    return create_app(replace(loaded, settings=loaded.settings.model_copy(update=update)))


def _set_cookies(response) -> dict[str, str]:
    return {v.split("=", 1)[0]: v for v in response.headers.get_list("set-cookie")}


# -- item 8: login CSRF ----------------------------------------------------------------------------------


def test_a_valid_state_from_another_browser_is_refused(loaded):
    app = app_with(loaded)
    ehr = FakeEhr(gaps_chart())
    with TestClient(app) as victim, TestClient(app) as attacker, respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, ehr)
        q = launch(attacker)  # the attacker starts a launch and takes its state to the victim's browser
        r = victim.get(
            "/smart/callback", params={"code": "attackers-code", "state": q["state"]}, follow_redirects=False
        )
        assert r.status_code == 400 and "not started in this browser" in r.text
        assert not [c for c in mock.calls if str(c.request.url) == TOKEN_URL]  # the code was never exchanged
        assert "idds_smart_session" not in r.headers.get("set-cookie", "")


def test_another_browser_cannot_cancel_a_launch(loaded):
    app = app_with(loaded)
    with TestClient(app) as victim, TestClient(app) as attacker, respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        q = launch(victim)
        attacker.get("/smart/callback", params={"error": "access_denied", "state": q["state"]})
        attacker.get("/smart/callback", params={"code": "x", "state": q["state"]})
        r = victim.get(
            "/smart/callback", params={"code": "code-1", "state": q["state"]}, follow_redirects=False
        )
    assert r.status_code == 303, r.text


def test_the_browser_that_started_the_launch_completes_it(loaded):
    ehr = FakeEhr(gaps_chart())
    with TestClient(app_with(loaded)) as c, respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, ehr)
        first = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
        cookie = _set_cookies(first)["idds_smart_launch"]
        assert "HttpOnly" in cookie and "Path=/smart" in cookie and "samesite=lax" in cookie.lower()
        state = parse_qs(urlsplit(first.headers["location"]).query)["state"][0]
        second = launch(c)  # a second tab: the same browser nonce, both launches stay valid
        for s in (second["state"], state):
            r = c.get("/smart/callback", params={"code": "code-1", "state": s}, follow_redirects=False)
            assert r.status_code == 303, r.text


# -- redirect URI and cookies from configuration ----------------------------------------------------------


def test_with_auth_on_the_redirect_uri_comes_from_configuration_not_the_host(loaded, tmp_path):
    app = app_with(
        loaded,
        require_auth=True,
        trusted_issuers_file=issuers_file(tmp_path),
        public_base_url="https://cds.example-hospital.org",
    )
    with TestClient(app, base_url="http://evil.example") as c, respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        r = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["redirect_uri"] == ["https://cds.example-hospital.org/smart/callback"]
    assert "secure" in _set_cookies(r)["idds_smart_launch"].lower()


def test_with_auth_on_and_nothing_configured_the_launch_is_refused(loaded, tmp_path):
    app = app_with(loaded, require_auth=True, trusted_issuers_file=issuers_file(tmp_path))
    c = TestClient(app, base_url="http://evil.example")  # without start-up, which would refuse already
    with respx.mock(assert_all_called=False) as mock:
        mock_ehr(mock, FakeEhr(gaps_chart()))
        r = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
    assert r.status_code == 503 and "evil.example" not in r.headers.get("location", "")


def test_the_launch_cookie_is_secure_by_configuration_not_by_the_request_scheme(loaded):
    """Behind a TLS proxy the service sees http while the browser is on https: the flag cannot
    follow the request's scheme. Secure, it is also `SameSite=None; Partitioned`, so a launch
    inside an EHR frame on another site keeps it; the session itself is no cookie at all."""
    ehr = FakeEhr(gaps_chart())
    for secure, base in ((True, "http://testserver"), (False, "https://testserver")):
        with (
            TestClient(app_with(loaded, secure_cookies=secure), base_url=base) as c,
            respx.mock(assert_all_called=False) as mock,
        ):
            mock_ehr(mock, ehr)
            first = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
            state = parse_qs(urlsplit(first.headers["location"]).query)["state"][0]
            nonce = _set_cookies(first)["idds_smart_launch"].split(";")[0].split("=", 1)[1]
            c.cookies.clear()
            r = c.get(
                "/smart/callback",
                params={"code": "code-1", "state": state},
                follow_redirects=False,
                headers={"Cookie": f"idds_smart_launch={nonce}"},
            )
        attributes = _set_cookies(first)["idds_smart_launch"].lower().split("; ")
        assert ("secure" in attributes) is secure, attributes
        assert ("samesite=none" in attributes and "partitioned" in attributes) is secure
        assert r.status_code == 303 and "set-cookie" not in r.headers


# -- the sign-in never over plain http ------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["token_endpoint", "authorization_endpoint"])
def test_a_plain_http_token_or_authorize_endpoint_is_refused(loaded, endpoint):
    config = SMART_CONFIG | {endpoint: SMART_CONFIG[endpoint].replace("https://", "http://")}
    with TestClient(app_with(loaded)) as c, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").respond(200, json=config)
        r = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
    assert r.status_code == 502 and "not https" in r.text


def test_a_loopback_http_authorization_server_is_allowed_only_with_auth_off(loaded, tmp_path):
    local = "http://127.0.0.1:9/fhir"
    config = {
        "authorization_endpoint": "http://127.0.0.1:9/authorize",
        "token_endpoint": "http://127.0.0.1:9/token",
        "code_challenge_methods_supported": ["S256"],
    }
    with (
        TestClient(app_with(loaded, allowed_fhir_servers=local)) as c,
        respx.mock(assert_all_called=False) as mock,
    ):
        mock.get(f"{local}/.well-known/smart-configuration").respond(200, json=config)
        assert (
            c.get("/smart/launch", params={"launch": "l", "iss": local}, follow_redirects=False).status_code
            == 302
        )
    app = app_with(
        loaded,
        allowed_fhir_servers=local,
        require_auth=True,
        trusted_issuers_file=issuers_file(tmp_path),
        public_base_url="https://cds.example-hospital.org",
    )
    with TestClient(app) as c, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{local}/.well-known/smart-configuration").respond(200, json=config)
        assert (
            c.get("/smart/launch", params={"launch": "l", "iss": local}, follow_redirects=False).status_code
            == 502
        )


# -- the open-server checklist ---------------------------------------------------------------------------------


def test_the_open_server_checklist_is_off_when_auth_is_on(loaded, tmp_path):
    app = app_with(
        loaded,
        require_auth=True,
        trusted_issuers_file=issuers_file(tmp_path),
        public_base_url="https://cds.example-hospital.org",
    )
    with TestClient(app) as c, respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=EHR).respond(200, json={"resourceType": "Bundle"})
        r = c.get("/smart/checklist", params={"iss": EHR, "patient": "pat-9"})
        assert not mock.calls
    assert r.status_code == 403


def test_a_token_response_with_a_patient_that_is_not_a_fhir_id_is_refused(loaded):
    ehr = FakeEhr(gaps_chart())
    with TestClient(app_with(loaded)) as c, respx.mock(assert_all_called=False) as mock:
        mock_ehr(
            mock, ehr, token_body={"access_token": "at-1", "token_type": "Bearer", "patient": "../../admin/x"}
        )
        q = launch(c)
        r = c.get("/smart/callback", params={"code": "code-1", "state": q["state"]}, follow_redirects=False)
    assert r.status_code == 502 and not [x for x in mock.calls if "admin" in str(x.request.url)]


def test_a_drip_feeding_authorization_server_cannot_hold_the_launch(loaded):
    import asyncio
    import time

    import httpx

    from cds_service.smart.config import SmartSettings

    async def drip():
        for _ in range(100):  # 10 s, one byte every 0.1 s
            await asyncio.sleep(0.1)
            yield b" "

    app = create_app(replace(loaded, smart=SmartSettings(http_timeout_seconds=0.5)))  # the app's own
    with TestClient(app) as c, respx.mock(assert_all_called=False) as mock:
        mock.get(f"{EHR}/.well-known/smart-configuration").mock(
            side_effect=lambda request: httpx.Response(200, content=drip())
        )
        started = time.monotonic()
        r = c.get("/smart/launch", params={"launch": "l-1", "iss": EHR}, follow_redirects=False)
        took = time.monotonic() - started
    assert r.status_code == 502 and took < 2.0, took
