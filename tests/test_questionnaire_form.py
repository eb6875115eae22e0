"""The checklist's documentation form: fields for the open questions only, answers never
lost (bad input, no write access, a failed save keep the form filled and say why)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.questionnaire.documentation import _may_write
from cds_service.services import Services
from cds_service.settings import Settings
from tests.policies.test_molina_mcp_160 import cancer_chart, nonmalignant_chart

EHR = "http://ehr.test/fhir"
CA_Q = "http://idds-cds.org/fhir/Questionnaire/molina-mcp-160-2024-08-14-cancer-pain-trial|2024-08-14"
posted: list[httpx.Request] = []


def _ehr(request: httpx.Request) -> httpx.Response:
    posted.append(request)
    return httpx.Response(500, json={"resourceType": "OperationOutcome", "issue": []})


@pytest.fixture(scope="module")
def client():
    services = Services.load(Settings(allowed_fhir_servers=EHR))
    services.fhir_transport = httpx.MockTransport(_ehr)
    with TestClient(create_app(services)) as c:
        yield c


def _assessment_id(client, chart) -> str:
    (card,) = client.post("/cds-services/idds-order-sign", json=chart.request()).json()["cards"]
    return card["uuid"]


def test_checklist_shows_a_field_for_each_open_question_only(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    page = client.get("/smart/checklist", params={"assessment": aid}).text
    assert 'action="/smart/documentation"' in page
    assert 'name="q:life-expectancy"' in page and 'name="q:life-expectancy:unit"' in page
    assert 'name="q:body-habitus-adequate"' not in page  # documented in the chart: not asked again
    assert 'name="patient"' in page  # the card's assessment alone does not say which patient


def test_complete_chart_has_no_form(client):
    aid = _assessment_id(client, nonmalignant_chart())
    assert (
        'action="/smart/documentation"' not in client.get("/smart/checklist", params={"assessment": aid}).text
    )


def test_without_a_writable_fhir_server_the_response_is_offered_as_a_download(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    r = client.post(
        "/smart/documentation",
        data={
            "assessment": aid,
            "questionnaire": CA_Q,
            "patient": "pat-1",
            "q:life-expectancy": "8",
            "q:life-expectancy:unit": "mo",
        },
    )
    assert r.status_code == 200
    assert "No FHIR server that accepts writes" in r.text and 'download="questionnaire-response-' in r.text
    assert 'value="8"' in r.text  # the answer is kept in the form


def test_a_bad_number_keeps_the_form_filled_and_says_why(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    r = client.post(
        "/smart/documentation",
        data={
            "assessment": aid,
            "questionnaire": CA_Q,
            "patient": "pat-1",
            "q:life-expectancy": "about six",
            "q:life-expectancy:unit": "mo",
        },
    )
    assert r.status_code == 422 and "is not a number" in r.text and 'value="about six"' in r.text


def test_nothing_answered_is_said(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    r = client.post(
        "/smart/documentation", data={"assessment": aid, "questionnaire": CA_Q, "patient": "pat-1"}
    )
    assert r.status_code == 422 and "Nothing was answered" in r.text


def test_a_failed_save_keeps_the_answers_and_says_why(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    posted.clear()
    r = client.post(
        "/smart/documentation",
        data={
            "assessment": aid,
            "questionnaire": CA_Q,
            "iss": EHR,
            "patient": "pat-1",
            "q:life-expectancy": "2",
            "q:life-expectancy:unit": "a",
        },
    )
    assert r.status_code == 502 and "Not saved: the FHIR server answered HTTP 500" in r.text
    assert 'value="2"' in r.text and 'download="questionnaire-response-' in r.text
    (req,) = posted
    assert req.method == "POST" and str(req.url) == f"{EHR}/QuestionnaireResponse"


def test_a_server_not_on_the_allow_list_is_refused(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    r = client.post(
        "/smart/documentation",
        data={
            "assessment": aid,
            "questionnaire": CA_Q,
            "iss": "http://evil.test/fhir",
            "patient": "pat-1",
            "q:life-expectancy": "2",
            "q:life-expectancy:unit": "a",
        },
    )
    assert r.status_code == 403


def test_another_questionnaire_version_is_refused(client):
    aid = _assessment_id(client, cancer_chart(omit=("life",)))
    r = client.post(
        "/smart/documentation",
        data={
            "assessment": aid,
            "questionnaire": CA_Q.replace("2024-08-14", "1999-01-01"),
            "patient": "pat-1",
            "q:life-expectancy": "2",
        },
    )
    assert r.status_code == 400 and "questionnaire" in r.text


def test_unknown_assessment_is_404(client):
    assert client.post("/smart/documentation", data={"assessment": "nope"}).status_code == 404


@pytest.mark.parametrize(
    "scope,ok",
    [
        ("launch patient/QuestionnaireResponse.write", True),
        ("patient/QuestionnaireResponse.cu", True),
        ("patient/*.write", True),
        ("patient/*.read", False),
        ("patient/QuestionnaireResponse.rs", False),
        ("patient/Observation.write", False),
        (None, False),
    ],
)
def test_write_scope(scope, ok):
    assert _may_write(scope) is ok


# ---- a SMART session: saved with its token when the write scope was granted
def _session_client(scope: str):
    import time as _time

    from cds_service.smart.oauth import Session, SmartState

    seen: list[httpx.Request] = []

    def ehr(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"resourceType": "QuestionnaireResponse", "id": "saved-1"})

    services = Services.load(Settings())
    services.fhir_transport = httpx.MockTransport(ehr)
    app = create_app(services)
    state = SmartState(services.state, 600)
    app.state.smart_state = state
    sid = state.open_session(
        Session("https://ehr.example.org/fhir", "pat-1", "tok-123", _time.time() + 600, None, scope)
    )
    return TestClient(app), seen, sid  # the launch's session travels with the form, not in a cookie


def test_smart_session_with_write_scope_saves_with_its_token_and_reopens_the_checklist():
    client, seen, sid = _session_client("launch patient/*.read patient/QuestionnaireResponse.write")
    with client:
        aid = _assessment_id(client, cancer_chart(omit=("life",)))
        r = client.post(
            "/smart/documentation",
            follow_redirects=False,
            data={
                "assessment": aid,
                "questionnaire": CA_Q,
                "q:life-expectancy": "8",
                "q:life-expectancy:unit": "mo",
                "session": sid,
            },
        )
    assert r.status_code == 303 and r.headers["location"] == f"/smart/checklist?patient=pat-1&session={sid}"
    (req,) = seen
    assert str(req.url) == "https://ehr.example.org/fhir/QuestionnaireResponse"
    assert req.headers["authorization"] == "Bearer tok-123"
    import json as _json

    body = _json.loads(req.content)
    assert body["status"] == "completed" and body["subject"] == {"reference": "Patient/pat-1"}
    assert body["item"][0]["answer"][0]["valueQuantity"]["code"] == "mo"


def test_smart_session_with_read_only_scope_says_so_and_offers_the_download():
    client, seen, sid = _session_client("launch patient/*.read openid fhirUser")
    with client:
        aid = _assessment_id(client, cancer_chart(omit=("life",)))
        r = client.post(
            "/smart/documentation",
            data={
                "assessment": aid,
                "questionnaire": CA_Q,
                "q:life-expectancy": "8",
                "q:life-expectancy:unit": "mo",
                "session": sid,
            },
        )
    assert r.status_code == 200 and not seen
    assert "patient/QuestionnaireResponse.write" in r.text and 'download="questionnaire-response-' in r.text
