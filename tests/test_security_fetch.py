"""Security and robustness of the FHIR fetch path (issue 10, items 1, 2, 3, 7).

Hostile input from the EHR (ids, URLs and tokens with control or non-ASCII
characters, dot segments) and hostile FHIR servers on loopback (drip-feeding,
huge answers, paging links that climb out of the base). Whatever comes: never
a 5xx, never a request outside the allowed base, one deadline for the call,
bounded memory, and the card says what could not be retrieved.
"""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .chart import Chart
from .hostile_fhir import MODES, HostileFhir

EHR = "https://ehr.example.org/fhir"
SIGN = "/cds-services/idds-order-sign"


def replacement(patient_id: str = "pat-1") -> Chart:
    c = Chart(payer="Cigna Healthcare", patient_id=patient_id)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("sec-fetch") / "audit.sqlite"
    return Services.load(
        Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=0.5, database_url=f"sqlite:///{db}")
    )


@pytest.fixture(scope="module")
def client(loaded):
    with TestClient(create_app(loaded)) as c:
        yield c


@pytest.fixture(scope="module")
def hostile():
    with HostileFhir(drip_seconds=6, huge_bytes=30_000_000) as server:
        yield server


@pytest.fixture(scope="module")
def hostile_client(loaded, hostile):
    s = loaded.settings.model_copy(
        update={
            "allowed_fhir_servers": ",".join(hostile.base(m) for m in MODES),
            "fhir_timeout_seconds": 0.5,
            "fhir_deadline_seconds": 1.0,
            "fhir_max_response_bytes": 1_000_000,
        }
    )
    with TestClient(create_app(replace(loaded, settings=s))) as c:
        yield c


def _ok(r: httpx.Response) -> dict:
    assert r.status_code < 500, r.text[:300]
    body = r.json()
    if r.status_code == 200:
        check_response(body)
    else:
        assert body["resourceType"] == "OperationOutcome"
    return body


def _details(body: dict) -> str:
    return "\n".join(c.get("detail") or "" for c in body.get("cards", []))


# -- item 1: control and non-ASCII characters never reach httpx ------------------------------

ODD = ["pat\x01", "pat\u00e9", "pat 1", "pat\n1", "pat\x7f", "\U0001f489"]


@pytest.mark.parametrize("pid", ODD, ids=repr)
def test_a_patient_id_with_control_or_non_ascii_characters_is_never_a_500(client, pid):
    c = replacement()
    body = c.request(omit=("observations",), fhir_server=EHR)
    body["context"]["patientId"] = pid
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=EHR).respond(json={"resourceType": "Bundle", "type": "searchset"})
        r = client.post(SIGN, json=body)
        assert not mock.calls  # no URL was built from that id
    _ok(r)


@pytest.mark.parametrize(
    "server", [EHR + "/\x01x", EHR + "/\u00e9", EHR + "/a b", EHR + "/\r\nHost: evil"], ids=repr
)
def test_a_fhir_server_url_with_control_characters_is_never_a_500(client, server):
    body = replacement().request(omit=("observations",), fhir_server=server)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith="https://ehr.example.org").respond(json={"resourceType": "Bundle"})
        r = client.post(SIGN, json=body)
        assert not mock.calls
    card = _ok(r)["cards"][0]
    assert "observations: not sent in prefetch and the FHIR server is not allowed" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"


@pytest.mark.parametrize("token", ["tok\x01en", "t\u00f6ken", "tok en", "tok\r\nX-Evil: 1"], ids=repr)
def test_an_access_token_no_header_can_carry_is_never_a_500_and_never_sent(client, token):
    body = replacement().request(omit=("observations",), fhir_server=EHR)
    body["fhirAuthorization"]["access_token"] = token
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=EHR).respond(json={"resourceType": "Bundle"})
        r = client.post(SIGN, json=body)
        assert not mock.calls
    card = _ok(r)["cards"][0]
    assert "access token holds characters no HTTP header can carry" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"


@pytest.mark.parametrize("pid", ["pat\x01", "pat\u00e9", "../../admin/x"], ids=repr)
def test_the_open_server_checklist_with_such_a_patient_id_is_not_a_500(client, pid):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=EHR).respond(json={"resourceType": "Bundle"})
        r = client.get("/smart/checklist", params={"iss": EHR, "patient": pid})
        assert not mock.calls
    assert r.status_code == 404 and "Patient not found" in r.text


# -- item 7: dot segments never pass the allow-list ------------------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        EHR + "/../admin",
        EHR + "/%2e%2e/admin",
        EHR + "/./x/../../admin",
        EHR + "%2f..%2fadmin",
        EHR + "/..\\admin",
        "HTTPS://EHR.EXAMPLE.ORG:443/fhir/../x",
    ],
)
def test_a_fhir_server_with_dot_segments_is_not_allowed(loaded, server):
    assert not loaded.settings.fhir_server_allowed(server)


def test_the_allow_list_compares_normalised_urls(loaded):
    s = loaded.settings
    assert s.fhir_server_allowed("HTTPS://EHR.example.org:443/fhir/")
    assert s.fhir_server_allowed(EHR + "/tenant-1")
    assert not s.fhir_server_allowed("https://ehr.example.org/fhirx")
    assert not s.fhir_server_allowed("https://ehr.example.org.evil.net/fhir")
    assert not s.fhir_server_allowed("https://user:pw@ehr.example.org/fhir")
    assert not s.fhir_server_allowed("http://ehr.example.org/fhir")


def test_a_fhir_server_with_dot_segments_gets_no_request_and_no_token(hostile_client, hostile):
    before = len(hostile.hits)
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("ok") + "/../admin")
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert len(hostile.hits) == before
    assert "the FHIR server is not allowed" in card["detail"]


def test_a_patient_id_that_climbs_out_of_the_base_is_never_fetched(hostile_client, hostile):
    before = len(hostile.hits)
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("ok"))
    body["context"]["patientId"] = "../../admin/x"
    _ok(hostile_client.post(SIGN, json=body))
    assert hostile.hits[before:] == [] and not hostile.escapes


def test_a_next_link_that_climbs_out_of_the_base_is_not_followed(hostile_client, hostile):
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("dotdot"))
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert not hostile.escapes, hostile.escapes
    assert "observations: the server's next-page link is not usable" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"


def test_a_next_link_with_control_characters_stops_paging_without_a_500(hostile_client, hostile):
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("ctl"))
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert "observations: the server's next-page link is not usable" in card["detail"]


def test_a_redirect_is_not_followed(hostile_client, hostile):
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("redirect"))
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert not hostile.escapes and "answered 302" in card["detail"]


# -- item 2: one deadline for the whole call --------------------------------------------------------


def test_a_drip_feeding_server_cannot_hold_the_call_past_the_deadline(hostile_client, hostile):
    body = replacement().request(omit=("observations", "devices"), fhir_server=hostile.base("drip"))
    started = time.monotonic()
    r = hostile_client.post(SIGN, json=body)
    took = time.monotonic() - started
    card = _ok(r)["cards"][0]
    assert took < 3.0, f"the call took {took:.1f} s against a 1 s deadline"
    assert "observations: the FHIR server did not answer within the 1-second deadline" in card["detail"]
    assert "devices: the FHIR server did not answer within the 1-second deadline" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"


def test_a_server_that_never_answers_is_named_on_the_card(hostile_client, hostile):
    body = replacement().request(omit=("devices",), fhir_server=hostile.base("stall"))
    started = time.monotonic()
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert time.monotonic() - started < 3.0
    assert "devices: the FHIR server did not answer" in card["detail"]


# -- item 3: answers are streamed and capped ---------------------------------------------------------


def test_a_huge_answer_is_dropped_at_the_size_limit_and_named(hostile_client, hostile):
    sent = hostile.sent_bytes
    body = replacement().request(omit=("observations",), fhir_server=hostile.base("huge"))
    card = _ok(hostile_client.post(SIGN, json=body))["cards"][0]
    assert "observations: the FHIR server's answer was larger than 1,000,000 bytes" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"
    time.sleep(0.3)
    assert (
        hostile.sent_bytes - sent < 15_000_000
    )  # the service stopped reading; the server could not push 30 MB


def test_all_answers_of_a_call_together_stop_at_the_total_limit(loaded):
    s = loaded.settings.model_copy(update={"fhir_max_response_bytes": 50_000, "fhir_max_total_bytes": 60_000})
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Basic", "id": f"b{i}", "code": {"text": "x" * 300}}}
            for i in range(100)
        ],
    }
    with TestClient(create_app(replace(loaded, settings=s))) as c, respx.mock() as mock:
        mock.get(url__startswith=EHR).respond(json=page)
        page_size = len(httpx.Response(200, json=page).content)
        assert 30_000 < page_size < 50_000
        body = replacement().request(omit=("observations", "devices", "procedures"), fhir_server=EHR)
        card = _ok(c.post(SIGN, json=body))["cards"][0]
    assert "answers together were larger than 60,000 bytes" in card["detail"]


def test_a_patient_read_that_never_answers_is_a_412_that_says_why(hostile_client, hostile):
    body = replacement().request(omit=("patient",), fhir_server=hostile.base("stall"))
    started = time.monotonic()
    r = hostile_client.post(SIGN, json=body)
    assert time.monotonic() - started < 3.0
    assert r.status_code == 412
    assert "(the patient: the FHIR server did not answer" in r.json()["issue"][0]["diagnostics"]
