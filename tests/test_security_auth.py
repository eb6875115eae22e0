"""Security of configuration and of the service's own answers (issue 10, item 6 and the
risks list): the JWT audience never from the request, forwarded headers only from
configured proxies, capability URLs that expire, security headers on every answer,
and feedback capped and checked."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .test_auth import BASE, SIGN, bearer, issuers_file, request_body, token


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("sec-auth") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}"))


def with_settings(loaded: Services, **update) -> Services:
    return replace(loaded, settings=loaded.settings.model_copy(update=update))


# -- item 6: the audience comes from configuration only ------------------------------------------------


def test_auth_on_without_a_public_base_url_refuses_to_start(loaded, tmp_path):
    app = create_app(with_settings(loaded, require_auth=True, trusted_issuers_file=issuers_file(tmp_path)))
    with pytest.raises(ValueError, match="IDDS_PUBLIC_BASE_URL"), TestClient(app):
        pass


def test_auth_on_with_a_plain_http_public_base_url_refuses_to_start(loaded, tmp_path):
    app = create_app(
        with_settings(
            loaded,
            require_auth=True,
            trusted_issuers_file=issuers_file(tmp_path),
            public_base_url="http://cds.example-hospital.org",
        )
    )
    with pytest.raises(ValueError, match="must be https"), TestClient(app):
        pass


def test_a_token_minted_for_the_host_the_caller_names_is_refused(loaded, tmp_path):
    """Without a public base URL the audience used to be the request's own Host: whoever chose
    the Host header chose the audience. Even without start-up (no lifespan), it is refused now."""
    app = create_app(with_settings(loaded, require_auth=True, trusted_issuers_file=issuers_file(tmp_path)))
    c = TestClient(app, base_url="http://other-host.example")  # no `with`: the start-up check does not run
    r = c.post(SIGN, json=request_body(), headers=bearer(token(base="http://other-host.example")))
    assert r.status_code == 401


def test_the_audience_ignores_host_and_forwarded_headers(loaded, tmp_path):
    app = create_app(
        with_settings(
            loaded, require_auth=True, trusted_issuers_file=issuers_file(tmp_path), public_base_url=BASE
        )
    )
    with TestClient(app, base_url="http://evil.example") as c:
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
        r = c.post(SIGN, json=request_body(), headers=bearer(token(base="https://evil.example")) | forged)
        assert r.status_code == 401
        assert c.post(SIGN, json=request_body(), headers=bearer(token(base=BASE))).status_code == 200


def _policy_link(c: TestClient, headers: dict[str, str]) -> str:
    card = c.post(SIGN, json=request_body(), headers=headers).json()["cards"][0]
    return next(link["url"] for link in card["links"] if link["type"] == "absolute")


def test_forwarded_headers_are_believed_only_from_a_configured_proxy(loaded):
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with TestClient(create_app(with_settings(loaded))) as c:
        assert _policy_link(c, forged).startswith("http://testserver/")
    with TestClient(create_app(with_settings(loaded, trusted_proxies="testclient"))) as c:
        assert _policy_link(c, forged).startswith("https://testserver/")


# -- capability URLs expire ------------------------------------------------------------------------------


def test_an_assessment_link_stops_working_after_its_time_to_live(loaded):
    services = with_settings(loaded, assessment_ttl_seconds=600)
    now = [time.time()]
    services.clock = lambda: now[0]
    with TestClient(create_app(services)) as c:
        card = c.post(SIGN, json=request_body()).json()["cards"][0]
        assert c.get(f"/assessments/{card['uuid']}").status_code == 200
        assert c.get("/smart/checklist", params={"assessment": card["uuid"]}).status_code == 200
        now[0] += 601
        assert c.get(f"/assessments/{card['uuid']}").status_code == 404
        assert c.get("/smart/checklist", params={"assessment": card["uuid"]}).status_code == 404


# -- security headers everywhere -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/cds-services",
        "/policies",
        "/policies/cigna-cmm-210/2026-08-04",
        "/fhir/CodeSystem/idds",
        "/assessments/unknown",
        "/smart/checklist",
        "/openapi.json",
    ],
)
def test_every_answer_carries_nosniff_and_a_csp_with_frame_ancestors(loaded, path):
    with TestClient(create_app(with_settings(loaded, frame_ancestors="https://ehr.example.org"))) as c:
        r = c.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors https://ehr.example.org" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]


def test_the_checklist_has_no_inline_event_handler_the_csp_would_block(loaded):
    from cds_service.smart.html import View, checklist_page, summary_page

    for page in (checklist_page(View([]), False), summary_page(View([]))):
        assert "onclick" not in page and "data-print" in page


# -- feedback: capped, and only for cards the service answered --------------------------------------------


@pytest.fixture(scope="module")
def open_client(loaded):
    with TestClient(create_app(with_settings(loaded))) as c:
        yield c


def _outcome(card: str, **extra) -> dict:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-09-14T10:00:00Z", **extra}


def test_feedback_for_a_card_the_service_never_answered_is_refused(open_client):
    r = open_client.post(f"{SIGN}/feedback", json={"feedback": [_outcome(str(uuid.uuid4()))]})
    assert r.status_code == 404 and "unknown card" in r.json()["issue"][0]["diagnostics"]


def test_feedback_with_too_many_outcomes_is_refused(open_client):
    card = open_client.post(SIGN, json=request_body()).json()["cards"][0]["uuid"]
    r = open_client.post(f"{SIGN}/feedback", json={"feedback": [_outcome(card)] * 21})
    assert r.status_code == 413
    big = open_client.post(f"{SIGN}/feedback", json={"feedback": [_outcome(card)] * 50_000})
    assert big.status_code == 413


def test_feedback_with_a_huge_comment_is_refused(open_client):
    card = open_client.post(SIGN, json=request_body()).json()["cards"][0]["uuid"]
    long = _outcome(card, overrideReason={"userComment": "x" * 2_001})
    assert open_client.post(f"{SIGN}/feedback", json={"feedback": [long]}).status_code == 413
    huge = _outcome(card, overrideReason={"userComment": "x" * 9_000_000})
    assert open_client.post(f"{SIGN}/feedback", json={"feedback": [huge]}).status_code == 413
    fine = _outcome(card, overrideReason={"userComment": "will document at the next visit"})
    assert open_client.post(f"{SIGN}/feedback", json={"feedback": [fine]}).status_code == 200


# -- a hostile key server ----------------------------------------------------------------------------------


def test_a_drip_feeding_key_server_cannot_hold_the_call(loaded, tmp_path):
    import asyncio

    import httpx
    import respx

    from .test_auth import JKU, JKU_KEY_1, jku_token

    async def drip():
        for _ in range(100):  # 10 s of one byte every 0.1 s: a per-read timeout never fires
            await asyncio.sleep(0.1)
            yield b" "

    app = create_app(
        with_settings(
            loaded,
            require_auth=True,
            trusted_issuers_file=issuers_file(tmp_path),
            public_base_url=BASE,
            auth_jwks_timeout_seconds=0.5,
        )
    )
    with TestClient(app) as c, respx.mock() as mock:
        mock.get(JKU).mock(side_effect=lambda request: httpx.Response(200, content=drip()))
        started = time.monotonic()
        r = c.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1")))
        took = time.monotonic() - started
    assert r.status_code == 401 and took < 2.0, took
