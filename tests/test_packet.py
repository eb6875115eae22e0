"""GET /assessments/{id}/packet: a Da Vinci PAS-shaped FHIR R4 Bundle a utilization-management
team can submit — valid under fhir.resources.R4B, a preauthorization Claim for the order's code,
diagnosis and Coverage, whose supportingInfo references only resources of the patient's chart."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from cds_service.app import create_app
from cds_service.packet import build
from cds_service.services import Services
from cds_service.settings import Settings
from sandbox import fire

EXPECTED = fire.load_expected()
WITH_COVERAGE = sorted(
    pid for pid, e in EXPECTED.items() if e["expected"] and pid != "replacement-battery-near-end"
)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Services.load(Settings()))) as c:
        yield c


def answer(client, pid):
    entry = EXPECTED[pid]
    bundle = fire.load_bundle(pid, EXPECTED)
    status, body, _ = fire.fire(client, "", bundle, entry["hook"])
    assert status == 200, body
    return bundle, body


def chart_refs(bundle):
    chart, _ = fire.split(bundle)
    return {f"{r['resourceType']}/{r['id']}" for r in chart}


@pytest.mark.parametrize("pid", WITH_COVERAGE)
def test_the_packet_validates_and_every_supporting_reference_is_a_resource_of_the_chart(client, pid):
    bundle, body = answer(client, pid)
    for card in body["cards"]:
        a = card["extension"]["idds-cds.assessment"]
        link = next(l for l in card["links"] if l["url"].endswith("/packet"))
        r = client.get(link["url"].replace("http://testserver", ""))
        assert r.status_code == 200, r.text
        packet = r.json()
        Bundle.model_validate(packet)
        assert packet["type"] == "collection"
        claim = packet["entry"][0]["resource"]
        assert claim["resourceType"] == "Claim" and claim["use"] == "preauthorization"
        refs = [i["valueReference"]["reference"] for i in claim["supportingInfo"] if "valueReference" in i]
        assert set(refs) <= chart_refs(bundle), set(refs) - chart_refs(bundle)
        # every resource the Claim leans on travels in the Bundle
        carried = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in packet["entry"]}
        assert set(refs) <= carried
        # the evidence of each criterion that has any is cited
        cited = {
            (i["code"]["coding"][0]["code"], i["valueReference"]["reference"])
            for i in claim["supportingInfo"]
            if "valueReference" in i and "code" in i
        }
        for c in a["criteria"]:
            for ref in c["evidence"]:
                if ref in chart_refs(bundle):
                    assert (c["id"], ref) in cited, (c["id"], ref)
        policy_info = claim["supportingInfo"][0]
        assert policy_info["code"]["coding"][0]["code"] == a["policy"]["id"]
        assert (
            a["policy"]["version"] in policy_info["valueString"]
            and a["policy"]["version"] in policy_info["code"]["text"]
        )


def test_the_claim_carries_the_order_code_the_diagnosis_and_the_coverage(client):
    bundle, body = answer(client, "cigna-pain-trial-gaps")
    (card,) = body["cards"]
    packet = client.get(f"/assessments/{card['uuid']}/packet").json()
    claim = packet["entry"][0]["resource"]
    chart, drafts = fire.split(bundle)
    (coverage,) = [r for r in chart if r["resourceType"] == "Coverage"]
    assert claim["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage['id']}"}}
    ]
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "62322"
    assert claim["item"][0]["servicedDate"] == "2026-09-14"
    assert claim["referral"] == {"reference": f"ServiceRequest/{drafts[0]['id']}"}
    assert claim["patient"] == {"reference": "Patient/cigna-pain-trial-gaps"}
    (dx, *_) = claim["diagnosis"]
    target = dx.get("diagnosisReference", {}).get("reference")
    assert (target in chart_refs(bundle) and target.startswith("Condition/")) or dx.get(
        "diagnosisCodeableConcept"
    )
    assert claim["identifier"][0]["value"] == card["uuid"]


def test_a_comparison_has_no_packet_the_patient_needs_a_coverage_first(client):
    _, body = answer(client, "replacement-battery-near-end")
    (card,) = body["cards"]
    assert not any(l["url"].endswith("/packet") for l in card["links"])
    for a in [card] + card["extension"]["idds-cds.assessments"]:
        key = a.get("uuid") or a["id"]
        r = client.get(f"/assessments/{key}/packet")
        assert r.status_code in (404, 409) and r.json()["resourceType"] == "OperationOutcome"
    r = client.get(f"/assessments/{card['extension']['idds-cds.assessments'][0]['id']}/packet")
    assert r.status_code == 409 and "Coverage" in r.json()["issue"][0]["diagnostics"]


def test_an_unknown_assessment_is_a_404_not_a_500(client):
    r = client.get("/assessments/no-such-id/packet")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"


def test_a_questionnaire_response_the_record_holds_is_cited_and_carried(client):
    """The service fetches no QuestionnaireResponse yet (no DTR form); one the record holds is cited."""
    _, body = answer(client, "cigna-pain-trial-gaps")
    (card,) = body["cards"]
    kept = dict(client.app.state.services.recall_packet(card["uuid"]))
    qr = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-1",
        "status": "completed",
        "subject": {"reference": "Patient/cigna-pain-trial-gaps"},
        "authored": "2026-09-10",
    }
    kept["questionnaire_responses"] = [qr]
    packet = build(kept)
    Bundle.model_validate(packet)
    claim = packet["entry"][0]["resource"]
    assert {"reference": "QuestionnaireResponse/qr-1"} in [
        i.get("valueReference") for i in claim["supportingInfo"]
    ]
    assert qr in [e["resource"] for e in packet["entry"]]


def test_a_device_request_order_with_a_reason_code_a_requester_and_a_fhir_server(client):
    """HCPCS on a DeviceRequest, the order's reasonCode as the diagnosis, its requester as provider;
    the chart's irrelevant and entered-in-error records never cited."""
    from .chart import Chart

    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    order = c.order("E0783", reason_icd10="G35", device_request=True)
    order["requester"] = {"reference": "Practitioner/dr-1", "display": "Dr. One"}
    body = client.post("/cds-services/idds-order-sign", json=c.request()).json()
    card = next(x for x in body["cards"] if "idds-cds.assessment" in x["extension"])
    r = client.get(f"/assessments/{card['uuid']}/packet")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    packet = r.json()
    Bundle.model_validate(packet)
    claim = packet["entry"][0]["resource"]
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "E0783"
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "G35"
    assert claim["provider"] == {"reference": "Practitioner/dr-1", "display": "Dr. One"}
    assert claim["referral"] == {"reference": f"DeviceRequest/{order['id']}"}
    chart = {f"{r['resourceType']}/{r['id']}": r for rs in c.resources.values() for r in rs}
    chart[f"Patient/{c.patient_id}"] = c.patient
    for info in claim["supportingInfo"]:
        if "valueReference" in info:
            ref = info["valueReference"]["reference"]
            assert ref in chart and chart[ref].get("status") != "entered-in-error"
