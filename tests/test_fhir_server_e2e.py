"""End to end against a real FHIR server: the sandbox server (node, Medplum's FHIR router)
holds the example patients; the service gets no prefetch, only `fhirServer`, and must
fetch the chart (paging through small pages) and reach the same determination as with
prefetch. Skipped only when node is absent."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings
from sandbox import fire

from .fhir_server import fhir_server

pytestmark = pytest.mark.slow  # the sandbox FHIR server (node) in its own process

EXPECTED = fire.load_expected()
PAGE_SIZE = 3  # small, so every Observation search needs several pages


@pytest.fixture(scope="module")
def fhir():
    with fhir_server(page_size=PAGE_SIZE) as base:
        yield base


@pytest.fixture(scope="module")
def client(fhir):
    services = Services.load(Settings(allowed_fhir_servers=fhir, fhir_timeout_seconds=10))
    with TestClient(create_app(services)) as c:
        yield c


def test_server_reads_searches_by_patient_and_pages(fhir):
    pid = "cigna-pain-permanent-met"
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{fhir}/Patient/{pid}").json()["id"] == pid
        assert http.get(f"{fhir}/Patient/nobody").status_code == 404
        assert http.get(f"{fhir}/metadata").json()["resourceType"] == "CapabilityStatement"
        first = http.get(f"{fhir}/Observation", params={"patient": pid}).json()
        assert first["total"] > PAGE_SIZE and len(first["entry"]) == PAGE_SIZE
        ids, url = [], f"{fhir}/Observation?patient={pid}"
        while url:
            page = http.get(url).json()
            ids += [e["resource"]["id"] for e in page.get("entry", [])]
            url = next((l["url"] for l in page.get("link", []) if l["relation"] == "next"), None)
        assert len(ids) == len(set(ids)) == first["total"]
        assert all(i.startswith(pid) for i in ids)
        by_subject = http.get(
            f"{fhir}/Observation", params={"subject": f"Patient/{pid}", "_count": 100}
        ).json()
        assert sorted(e["resource"]["id"] for e in by_subject["entry"]) == sorted(ids)
        drafts = http.get(f"{fhir}/ServiceRequest", params={"patient": pid, "status": "draft"}).json()
        assert [e["resource"]["id"] for e in drafts["entry"]] == [f"{pid}-sr-1"]


def test_server_accepts_the_example_bundles_as_transactions(fhir):
    """Any FHIR server can load a sandbox patient with one POST (PUT entries keep the ids)."""
    bundle = fire.load_bundle("molina-cancer-trial", EXPECTED)
    with httpx.Client(timeout=10) as http:
        answer = http.post(fhir, json=bundle, headers={"Content-Type": "application/fhir+json"}).json()
    assert answer["type"] == "transaction-response"
    assert [e["response"]["location"].split("/_history")[0] for e in answer["entry"]] == [
        e["request"]["url"] for e in bundle["entry"]
    ]


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_no_prefetch_fetch_gives_the_same_determination_as_prefetch(client, fhir, pid):
    entry = EXPECTED[pid]
    bundle = fire.load_bundle(pid, EXPECTED)
    with_prefetch = fire.fire(client, "", bundle, entry["hook"])
    fetched = fire.fire(client, "", bundle, entry["hook"], prefetch=False, fhir_server=fhir)
    assert with_prefetch[0] == fetched[0] == 200, fetched[1]
    assert fire.determinations(fetched[1]) == fire.determinations(with_prefetch[1])
    assert not fire.mismatches(entry["expected"], fire.determinations(fetched[1]))
    for card in fetched[1]["cards"]:  # nothing was missing: the fetch found every query's data
        assert "could not" not in card["detail"] and "not sent in prefetch" not in card["detail"]


def test_checklist_reads_an_open_server(client, fhir):
    page = client.get("/smart/checklist", params={"iss": fhir, "patient": "molina-pain-trial-nrs-6"})
    assert page.status_code == 200
    assert "Criteria not met" in page.text
    assert "The latest pain score is greater than 6" in page.text
    assert (
        "Pain severity - 0-10 verbal numeric rating [Score] - Reported: 6" in page.text
    )  # the evidence, described
    summary = client.get("/smart/summary", params={"iss": fhir, "patient": "molina-pain-trial-nrs-6"})
    assert summary.status_code == 200 and "Still to document or resolve before submitting" in summary.text


def test_checklist_order_parameter_picks_one_draft_order(client, fhir):
    pid = "nia-pain-trial-met"
    one = client.get(
        "/smart/checklist", params={"iss": fhir, "patient": pid, "order": f"ServiceRequest/{pid}-sr-1"}
    )
    assert one.status_code == 200 and "Criteria met" in one.text
    none = client.get(
        "/smart/checklist", params={"iss": fhir, "patient": pid, "order": "ServiceRequest/other"}
    )
    assert none.status_code == 200 and "No draft intrathecal pump order was found" in none.text
    assert client.get("/smart/checklist", params={"iss": fhir, "patient": "nobody"}).status_code == 404


def test_checklist_refuses_a_server_not_on_the_allow_list(client):
    page = client.get("/smart/checklist", params={"iss": "http://127.0.0.1:9/fhir", "patient": "x"})
    assert page.status_code == 403
