"""The CDS Hooks service over HTTP: discovery, hooks, data retrieval, errors, CORS."""

from __future__ import annotations

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .chart import Chart

EHR = "https://ehr.example.org/fhir"
SIGN = "/cds-services/idds-order-sign"
SELECT = "/cds-services/idds-order-select"


@pytest.fixture(scope="module")
def loaded() -> Services:
    return Services.load(Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=0.5))


@pytest.fixture
def client(loaded):
    with TestClient(create_app(loaded)) as c:
        yield c


@pytest.fixture
def closed_client():
    """A service configured with no allowed FHIR server (the default)."""
    with TestClient(create_app(Services.load(Settings()))) as c:
        yield c


def replacement_chart(payer: str | None = "Cigna Healthcare") -> Chart:
    c = Chart(payer=payer)
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def cards_for(body, policy):
    return [c for c in body["cards"] if c["extension"]["idds-cds.assessment"]["policy"]["id"] == policy]


# -- discovery --------------------------------------------------------------


def test_discovery_lists_one_service_per_hook_with_prefetch_and_crd_extension(client):
    services = client.get("/cds-services").json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    for s in services:
        assert s["id"] and s["title"] and s["description"]
        assert set(s["prefetch"]) == {
            "patient",
            "coverage",
            "conditions",
            "observations",
            "medications",
            "procedures",
            "devices",
            "allergies",
            "questionnaireResponses",
        }
        assert all("{{context.patientId}}" in q for q in s["prefetch"].values())
        assert (
            s["prefetch"]["coverage"].startswith("Coverage?") and "status=active" in s["prefetch"]["coverage"]
        )
        assert s["extension"]["davinci-crd.version"]
        assert {o["code"] for o in s["extension"]["davinci-crd.configuration-options"]} >= {"coverage-info"}


# -- orders -------------------------------------------------------------------


def test_order_sign_assesses_every_draft_order(client):
    c = replacement_chart()
    c.order("62322", drug="morphine", order_id="sr-trial")
    body = client.post(SIGN, json=c.request("order-sign")).json()
    check_response(body)
    refs = {card["extension"]["idds-cds.assessment"]["order"]["reference"] for card in body["cards"]}
    assert refs == {"ServiceRequest/sr-1", "ServiceRequest/sr-trial"}


def test_order_select_assesses_only_the_selections(client):
    c = replacement_chart()
    c.order("62322", drug="morphine", order_id="sr-trial")
    body = client.post(SELECT, json=c.request("order-select", selections=["ServiceRequest/sr-trial"])).json()
    check_response(body)
    refs = {card["extension"]["idds-cds.assessment"]["order"]["reference"] for card in body["cards"]}
    assert refs == {"ServiceRequest/sr-trial"}


def test_epidural_steroid_injection_gets_no_card(client):
    c = Chart()
    c.condition(icd10="M54.16", display="Radiculopathy, lumbar region")
    c.order("62321", drug="methylprednisolone", route="epidural")
    assert client.post(SIGN, json=c.request()).json() == {"cards": [], "systemActions": []}


def test_pump_refill_gets_no_card(client):
    c = replacement_chart()
    c.draft.clear()
    c.order("95990")
    assert client.post(SIGN, json=c.request()).json()["cards"] == []


def test_cards_follow_the_contract_and_cds_hooks(client):
    body = client.post(SIGN, json=replacement_chart().request()).json()
    check_response(body)
    (card,) = body["cards"]
    a = card["extension"]["idds-cds.assessment"]
    assert a["policy"] == {
        "id": "cigna-cmm-210",
        "version": "2026-08-04",
        "payer": "Cigna (EviCore)",
        "title": "CMM-210: Implantable Intrathecal Drug Delivery Systems",
    }
    assert a["order"] == {"reference": "ServiceRequest/sr-1", "code": "62362", "phase": "replacement"}
    assert a["determination"] == "criteria-met" and card["indicator"] == "info"
    assert card["source"]["label"] == "Cigna (EviCore)"
    types = {l["type"] for l in card["links"]}
    assert types == {"smart", "absolute"}
    smart = next(l for l in card["links"] if l["type"] == "smart")
    assert a["id"] in smart["appContext"]


def test_policy_link_serves_the_policy_with_the_cited_sentence_marked(client):
    c = replacement_chart()
    c.pump("functional")  # the latest status: a working pump
    body = client.post(SIGN, json=c.request()).json()
    card = body["cards"][0]
    assert card["indicator"] == "warning"
    link = next(l for l in card["links"] if l["type"] == "absolute")
    page = client.get(link["url"].split("#")[0])
    assert page.status_code == 200
    anchor = link["url"].split("#")[1]
    assert f'id="{anchor}"' in page.text


def test_order_sign_returns_crd_coverage_information_for_each_order(client):
    body = client.post(SIGN, json=replacement_chart().request()).json()
    (action,) = body["systemActions"]
    assert action["type"] == "update" and action["resource"]["id"] == "sr-1"
    (ext,) = [
        e
        for e in action["resource"]["extension"]
        if e["url"] == "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
    ]
    parts = {e["url"]: e for e in ext["extension"]}
    assert parts["covered"]["valueCode"] == "covered"
    assert parts["coverage"]["valueReference"]["reference"].startswith("Coverage/")
    assert parts["coverage-assertion-id"]["valueString"] == body["cards"][0]["uuid"]
    assert {"date", "pa-needed"} <= set(parts)


def test_order_select_sends_coverage_information_only_when_no_documentation_is_needed(client):
    complete = client.post(SELECT, json=replacement_chart().request("order-select")).json()
    assert len(complete["systemActions"]) == 1
    gap = replacement_chart()
    gap.resources["observations"] = [
        o for o in gap.resources["observations"] if "valueCodeableConcept" not in o
    ]
    undocumented = client.post(SELECT, json=gap.request("order-select")).json()
    assert (
        undocumented["cards"][0]["extension"]["idds-cds.assessment"]["determination"]
        == "documentation-incomplete"
    )
    assert undocumented["systemActions"] == []


def test_unknown_payer_is_one_folded_comparison_card_carrying_every_policy(client):
    body = client.post(SIGN, json=replacement_chart(payer="Acme Health Plan").request()).json()
    check_response(body)
    (card,) = body["cards"]
    assert "idds-cds.assessment" not in card["extension"]
    policies = {a["policy"]["id"] for a in card["extension"]["idds-cds.assessments"]}
    assert policies == {"cigna-cmm-210", "oxford-pharmacy-339", "nia-cg-310", "molina-mcp-160"}
    assert "Acme Health Plan" in card["summary"] and card["source"]["label"] == "idds-cds"
    assert "comparison" in card["extension"]["idds-cds.assessments"][0]["notes"][0]
    assert body["systemActions"] == []


# -- data retrieval -----------------------------------------------------------


def _searchset(resources):
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def test_missing_prefetch_is_fetched_from_an_allowed_server_with_the_token(client):
    c = replacement_chart()
    req = c.request(omit=("devices", "observations"), fhir_server=EHR)
    with respx.mock(assert_all_called=True) as mock:
        devices = mock.get(f"{EHR}/Device", params={"patient": "pat-1"}).respond(
            json=_searchset(c.resources["devices"])
        )
        obs = mock.get(f"{EHR}/Observation", params={"patient": "pat-1"}).respond(
            json=_searchset(c.resources["observations"])
        )
        body = client.post(SIGN, json=req).json()
    assert devices.calls.last.request.headers["Authorization"] == "Bearer secret-token-xyz"
    assert obs.called
    assert body["cards"][0]["extension"]["idds-cds.assessment"]["order"]["phase"] == "replacement"
    assert body["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "criteria-met"


def test_fetch_follows_next_links_across_pages(client):
    c = replacement_chart()
    observations = c.resources["observations"]
    req = c.request(omit=("observations",), fhir_server=EHR)
    page1 = _searchset(observations[:1]) | {
        "link": [{"relation": "next", "url": f"{EHR}/Observation?page=2"}]
    }
    page2 = _searchset(observations[1:])
    with respx.mock() as mock:
        mock.get(f"{EHR}/Observation", params={"page": "2"}).respond(json=page2)
        mock.get(f"{EHR}/Observation", params={"patient": "pat-1"}).respond(json=page1)
        body = client.post(SIGN, json=req).json()
    assert body["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "criteria-met"


def test_missing_prefetch_and_server_not_allowed_is_unknown_and_said_on_the_card(closed_client):
    c = replacement_chart()
    req = c.request(omit=("observations",), fhir_server=EHR)
    with respx.mock() as mock:  # any network call would fail the test
        body = closed_client.post(SIGN, json=req).json()
        assert not mock.calls
    card = body["cards"][0]
    assert card["extension"]["idds-cds.assessment"]["determination"] == "documentation-incomplete"
    assert "not allowed by configuration" in card["detail"]


def test_fetch_timing_out_gives_unknown_inputs_and_says_so(client):
    c = replacement_chart()
    req = c.request(omit=("observations",), fhir_server=EHR)
    with respx.mock() as mock:
        mock.get(f"{EHR}/Observation").mock(side_effect=httpx.ReadTimeout("slow"))
        body = client.post(SIGN, json=req).json()
    card = body["cards"][0]
    assert card["extension"]["idds-cds.assessment"]["determination"] == "documentation-incomplete"
    assert "did not answer in time" in card["detail"]


def test_null_or_operationoutcome_prefetch_means_not_available(closed_client):
    c = replacement_chart()
    req = c.request()
    req["prefetch"]["observations"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception"}],
    }
    body = closed_client.post(SIGN, json=req).json()
    assert body["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "documentation-incomplete"


def test_missing_patient_is_412(closed_client):
    req = replacement_chart().request()
    req["prefetch"]["patient"] = None
    r = closed_client.post(SIGN, json=req)
    assert r.status_code == 412 and r.json()["resourceType"] == "OperationOutcome"


# -- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("hook"),
        lambda r: r.pop("hookInstance"),
        lambda r: r.pop("context"),
        lambda r: r["context"].pop("patientId"),
        lambda r: r.update(hook=42),
    ],
    ids=["no-hook", "no-hookInstance", "no-context", "no-patientId", "hook-not-a-string"],
)
def test_malformed_request_is_400_operation_outcome(client, mutate):
    req = replacement_chart().request()
    mutate(req)
    r = client.post(SIGN, json=req)
    assert r.status_code == 400
    body = r.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"


def test_invalid_json_is_400_operation_outcome(client):
    r = client.post(SIGN, content=b'{"hook": "order-sign",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"


def test_malformed_resource_is_reported_on_the_card_not_a_500(client):
    c = replacement_chart()
    (bad,) = [o for o in c.resources["observations"] if "device" in o]
    bad["valueCodeableConcept"] = "battery-near-end"  # a string where a CodeableConcept belongs
    body = client.post(SIGN, json=c.request()).json()
    check_response(body)
    card = body["cards"][0]
    assert (
        "an observation was not valid FHIR" in card["detail"]
        and f"Observation/{bad['id']}" not in card["detail"]
    )
    assert card["extension"]["idds-cds.assessment"]["determination"] == "documentation-incomplete"


def test_resources_of_another_patient_are_ignored_and_reported(client):
    c = replacement_chart()
    stranger = c.pump("battery-depleted")
    stranger["patient"] = {"reference": "Patient/someone-else"}
    body = client.post(SIGN, json=c.request()).json()
    assert "a device record belongs to another patient" in body["cards"][0]["detail"]


def test_feedback_is_validated_and_accepted(client):
    card = client.post(SIGN, json=replacement_chart().request()).json()["cards"][0]["uuid"]
    ok = client.post(
        f"{SIGN}/feedback",
        json={
            "feedback": [
                {
                    "card": card,
                    "outcome": "overridden",
                    "overrideReason": {"reason": {"code": "patient-declined"}},
                    "outcomeTimestamp": "2026-09-14T10:00:00Z",
                }
            ]
        },
    )
    assert ok.status_code == 200
    bad = client.post(f"{SIGN}/feedback", json={"feedback": [{"card": "x", "outcome": "maybe"}]})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_cors_preflight_with_authorization_header_passes(client):
    r = client.options(
        SIGN,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert r.status_code == 200
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


def test_codesystem_is_served_as_fhir_and_holds_every_idds_code_the_contract_uses(client):
    cs = client.get("/fhir/CodeSystem/idds").json()
    assert cs["resourceType"] == "CodeSystem" and cs["url"] == "http://idds-cds.org/fhir/CodeSystem/idds"
    codes = {c["code"] for c in cs["concept"]}
    assert all(c.get("definition") for c in cs["concept"])
    contract = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared/contract/clinical-data.md"
    if contract.exists():
        import re

        used = set(re.findall(r"idds#([a-z0-9+\-]+)", contract.read_text()))
        assert used - codes == set()


def test_an_internal_error_becomes_a_plain_warning_card_not_a_500(loaded, monkeypatch):
    import cds_service.hooks as hooks_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(hooks_module, "assess_hook", broken)
    with TestClient(create_app(loaded)) as c:
        r = c.post(SIGN, json=replacement_chart().request())
    assert r.status_code == 200
    (card,) = r.json()["cards"]
    assert card["indicator"] == "warning" and "could not be assessed" in card["summary"]
