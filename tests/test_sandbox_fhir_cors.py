"""The sandbox FHIR server as a browser-based test EHR calls it (issue 15): CORS (a preflight
and the headers on every answer, for any origin, never with credentials) and a search POSTed
to `{type}/_search` with a form body, the same search as the GET. Skipped when node is absent."""

from __future__ import annotations

import httpx
import pytest

from .fhir_server import fhir_server

PID = "cigna-pain-permanent-met"
ORIGIN = "http://sandbox.example:8080"


@pytest.fixture(scope="module")
def fhir():
    with fhir_server(page_size=3) as base:
        yield base


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_a_preflight_allows_a_browser_ehr_to_search_with_a_token(fhir):
    r = httpx.options(
        f"{fhir}/Observation/_search",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in r.headers  # open data, no cookies
    assert "access-control-allow-private-network" not in r.headers  # only when asked


def test_a_public_sites_page_may_reach_the_loopback_server(fhir):
    """Chromium's Private Network Access preflight, as from https://sandbox.cds-hooks.org."""
    r = httpx.options(
        f"{fhir}/Patient/{PID}",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 204 and r.headers["access-control-allow-private-network"] == "true"


@pytest.mark.parametrize("path", [f"Patient/{PID}", "Patient/nobody", "metadata", f"Condition?patient={PID}"])
def test_every_answer_carries_the_cors_headers(fhir, path):
    r = httpx.get(f"{fhir}/{path}", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "location" in r.headers["access-control-expose-headers"].lower()


def test_a_search_posted_with_a_form_body_is_the_same_search_as_the_get(fhir):
    got = httpx.get(f"{fhir}/ServiceRequest", params={"patient": PID, "status": "draft"}).json()
    posted = httpx.post(f"{fhir}/ServiceRequest/_search", data={"patient": PID, "status": "draft"}).json()
    assert posted["resourceType"] == "Bundle" and posted["type"] == "searchset"
    assert ids(posted) == ids(got) == [f"{PID}-sr-1"]
    # the URL's parameters and the body's combine; paging links are GETs the client can follow
    first = httpx.post(f"{fhir}/Observation/_search?_count=2", data={"patient": PID}).json()
    everything = httpx.get(f"{fhir}/Observation", params={"patient": PID, "_count": 100}).json()
    assert len(ids(first)) == 2 and first["total"] == everything["total"] > 2
    following, url = ids(first), next(l["url"] for l in first["link"] if l["relation"] == "next")
    while url:
        page = httpx.get(url).json()
        following += ids(page)
        url = next((l["url"] for l in page.get("link", []) if l["relation"] == "next"), None)
    assert sorted(following) == sorted(ids(everything))


def test_a_search_post_without_a_form_body_is_refused(fhir):
    r = httpx.post(f"{fhir}/Condition/_search", json={"patient": PID})
    assert r.status_code == 415 and r.json()["resourceType"] == "OperationOutcome"
    assert r.headers["access-control-allow-origin"] == "*"
