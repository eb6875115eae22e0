"""A failing FHIR server never produces a wrong criteria-met, and the card names what could not be had.

Each chart below is criteria-met (or, for the infection chart, criteria-not-met)
with all its data in prefetch. Here one prefetch key is left out, so the
service must fetch it, and the fetch fails in one of the ways real servers
fail. The data that key carries decides the assessment, so the answer must
not be criteria-met, and the card must say which data was missing and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.prefetch import LABEL, RESOURCE_TYPE
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .chart import ICD10, Chart
from .test_engine_properties import documented_permanent_chart

EHR = "https://ehr.example.org/fhir"
SIGN = "/cds-services/idds-order-sign"
MAX_PAGES = 5


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("faults") / "audit.sqlite"
    settings = Settings(
        allowed_fhir_servers=EHR,
        fhir_timeout_seconds=0.3,
        fhir_max_pages=MAX_PAGES,
        database_url=f"sqlite:///{db}",
    )
    with TestClient(create_app(Services.load(settings))) as c:
        yield c


# -- charts whose answer depends on the key that fails -----------------------------------------


def replacement() -> Chart:
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


def permanent() -> Chart:
    c = documented_permanent_chart()
    c.coverage("Cigna Healthcare")
    return c


def nia_replacement_with_infection() -> Chart:
    """NIA rules out replacement during an active infection; the infection is on the problem list."""
    c = Chart(payer="Magellan Healthcare")
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome, not elsewhere classified")
    c.condition(icd10="A41.9", display="Sepsis, unspecified organism")
    c.flag("body-habitus-adequate", True)
    c.pump("malfunction")
    order = c.order("62362")
    order["reasonCode"] = [
        {"coding": [{"system": ICD10, "code": "M96.1", "display": "Postlaminectomy syndrome"}]}
    ]
    return c


CASES = {
    "replacement-observations": (replacement, "observations", "criteria-met"),
    "replacement-devices": (replacement, "devices", "criteria-met"),
    "permanent-observations": (permanent, "observations", "criteria-met"),
    "permanent-procedures": (permanent, "procedures", "criteria-met"),
    "permanent-medications": (permanent, "medications", "criteria-met"),
    "permanent-conditions": (permanent, "conditions", "criteria-met"),
    "nia-infection-conditions": (nia_replacement_with_infection, "conditions", "criteria-not-met"),
}


# -- the ways a server fails ---------------------------------------------------------------------


@dataclass
class Fault:
    says: str  # what the card must say
    mock: Callable[[respx.MockRouter, str], Any]


def _page(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def _loop(mock: respx.MockRouter, rtype: str) -> None:
    mock.get(f"{EHR}/{rtype}", params={"page": "2"}).respond(json=_page([], f"{EHR}/{rtype}?page=1"))
    mock.get(f"{EHR}/{rtype}", params={"page": "1"}).respond(json=_page([], f"{EHR}/{rtype}?page=2"))
    mock.get(f"{EHR}/{rtype}").respond(json=_page([], f"{EHR}/{rtype}?page=1"))


def _endless(mock: respx.MockRouter, rtype: str) -> None:
    def next_page(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "0")) + 1
        return httpx.Response(200, json=_page([], f"{EHR}/{rtype}?page={n}"))

    mock.get(f"{EHR}/{rtype}").mock(side_effect=next_page)


FAULTS = {
    "timeout": Fault(
        "did not answer in time", lambda m, t: m.get(f"{EHR}/{t}").mock(side_effect=httpx.ReadTimeout("slow"))
    ),
    "connect-error": Fault(
        "could not be reached",
        lambda m, t: m.get(f"{EHR}/{t}").mock(side_effect=httpx.ConnectError("refused")),
    ),
    "500": Fault("answered 500", lambda m, t: m.get(f"{EHR}/{t}").respond(500, text="Internal Server Error")),
    "401": Fault(
        "answered 401",
        lambda m, t: m.get(f"{EHR}/{t}").respond(401, json={"resourceType": "OperationOutcome"}),
    ),
    "malformed-json": Fault(
        "malformed JSON",
        lambda m, t: m.get(f"{EHR}/{t}").respond(
            200,
            content=b'{"resourceType": "Bundle", "entry": [{"resource": ',
            headers={"Content-Type": "application/fhir+json"},
        ),
    ),
    "operation-outcome": Fault(
        "OperationOutcome",
        lambda m, t: m.get(f"{EHR}/{t}").respond(
            200,
            json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "too-costly"}]},
        ),
    ),
    "not-a-resource": Fault(
        "not a FHIR resource", lambda m, t: m.get(f"{EHR}/{t}").respond(200, json=["a", "list"])
    ),
    "paging-loop": Fault("paging links loop", _loop),
    "paging-elsewhere": Fault(
        "points to another server",
        lambda m, t: m.get(f"{EHR}/{t}").respond(json=_page([], "https://elsewhere.example.net/fhir/page2")),
    ),
    "endless-pages": Fault(f"more than {MAX_PAGES} pages", _endless),
}


def post(
    client, chart: Chart, omit: tuple[str, ...], setup: Callable[[respx.MockRouter], Any]
) -> dict[str, Any]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        setup(mock)
        mock.get(url__startswith=EHR).respond(json=_page([]))  # anything else: an empty result
        r = client.post(SIGN, json=chart.request(omit=omit, fhir_server=EHR))
    assert r.status_code == 200, r.text
    body = r.json()
    check_response(body)
    assert body["cards"], "an in-scope order always gets a card"
    return body


def test_the_charts_decide_as_expected_with_all_their_data(client):
    for make, _, expected in CASES.values():
        body = post(client, make(), (), lambda m: None)
        assert {c["extension"]["idds-cds.assessment"]["determination"] for c in body["cards"]} == {expected}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_failing_fetch_is_never_criteria_met_and_the_card_says_what_is_missing(client, case, fault):
    make, key, _ = case
    body = post(client, make(), (key,), lambda m: fault.mock(m, RESOURCE_TYPE[key]))
    for card in body["cards"]:
        a = card["extension"]["idds-cds.assessment"]
        assert a["determination"] != "criteria-met", (a["policy"]["id"], a["determination"])
        assert LABEL[key] in card["detail"] and fault.says in card["detail"], card["detail"]
        assert (
            any(c["status"] == "unknown" for c in a["criteria"]) or a["determination"] == "criteria-not-met"
        )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bundle_without_entries_is_an_empty_result_never_criteria_met(client, case):
    """An empty search answer: the data is absent, so the criteria it would document are undocumented."""
    make, key, _ = case
    if key == "conditions":
        pytest.skip("an empty problem list is documented absence of safety findings (clinical-data contract)")
    body = post(
        client,
        make(),
        (key,),
        lambda m: m.get(f"{EHR}/{RESOURCE_TYPE[key]}").respond(
            json={"resourceType": "Bundle", "type": "searchset", "total": 0}
        ),
    )
    for card in body["cards"]:
        a = card["extension"]["idds-cds.assessment"]
        assert a["determination"] == "documentation-incomplete"
        assert any(c["status"] == "unknown" for c in a["criteria"])


def test_a_bundle_that_claims_matches_but_carries_none_is_not_taken_as_empty(client):
    body = post(
        client,
        nia_replacement_with_infection(),
        ("conditions",),
        lambda m: m.get(f"{EHR}/Condition").respond(
            json={"resourceType": "Bundle", "type": "searchset", "total": 2}
        ),
    )
    (card,) = body["cards"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"
    assert "the problem list" in card["detail"] and "reported 2 matches but sent 0" in card["detail"]


def test_every_fetch_failing_leaves_every_input_unknown_and_named(client):
    c = permanent()
    keys = ("coverage", "conditions", "observations", "medications", "procedures", "devices", "allergies")
    with respx.mock() as mock:
        mock.get(url__startswith=EHR).mock(side_effect=httpx.ConnectError("refused"))
        body = client.post(SIGN, json=c.request(omit=keys, fhir_server=EHR)).json()
    check_response(body)
    assert body["cards"]
    for card in body["cards"]:  # coverage unavailable too: one comparison card carrying every policy
        ext = card["extension"]
        for a in ext.get("idds-cds.assessments") or [ext["idds-cds.assessment"]]:
            assert a["determination"] != "criteria-met"
        for key in keys:
            assert LABEL[key] in card["detail"], key


def test_the_patient_itself_unavailable_is_a_412_not_a_guess(client):
    with respx.mock() as mock:
        mock.get(f"{EHR}/Patient/pat-1").respond(500)
        r = client.post(SIGN, json=replacement().request(omit=("patient",), fhir_server=EHR))
    assert r.status_code == 412 and r.json()["resourceType"] == "OperationOutcome"
