"""An order no policy concerns (issue 13): answered from context.draftOrders alone.

Almost every order-select an EHR fires is for an order that has nothing to do
with a pump. Its answer (no card) never depends on the chart, so the chart is
neither built, validated nor fetched; everything else about the call is kept:
order-select's selections, the per-call cap, the 400s, the audit record.
"""

from __future__ import annotations

import copy
import uuid

import orjson
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cds_service import hook_body
from cds_service.app import create_app
from cds_service.audit.capture import request_part
from cds_service.audit.models import HookCall
from cds_service.audit.store import store_for
from cds_service.record import PatientRecord
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart

EHR = "https://ehr.example.org/fhir"
SIGN = "/cds-services/idds-order-sign"
SELECT = "/cds-services/idds-order-select"
METABOLIC_PANEL = "80053"  # CPT: comprehensive metabolic panel, a lab order


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("irrelevant") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}", allowed_fhir_servers=EHR))


@pytest.fixture(scope="module")
def client(loaded):
    with TestClient(create_app(loaded)) as c:
        yield c


def lab_chart() -> Chart:
    """A pump patient's chart (MS, an implanted pump near end of battery), the order a lab panel."""
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order(METABOLIC_PANEL, order_id="sr-lab")
    return c


def post(client, body, path=SIGN):
    body["hookInstance"] = str(uuid.uuid4())
    return client.post(path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})


def test_an_order_no_policy_concerns_has_no_card_even_without_the_patient_in_prefetch(client):
    body = lab_chart().request()
    body["prefetch"]["patient"] = (
        None  # with a pump order this is a 412: nothing to assess without the patient
    )
    r = post(client, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"cards": [], "systemActions": []}


def test_an_order_no_policy_concerns_fetches_nothing_from_the_fhir_server(client):
    body = lab_chart().request(
        omit=(
            "patient",
            "conditions",
            "observations",
            "procedures",
            "devices",
            "medications",
            "allergies",
            "coverage",
        ),
        fhir_server=EHR,
    )
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route(host="ehr.example.org").respond(200, json={"resourceType": "Bundle", "entry": []})
        r = post(client, body)
    assert r.status_code == 200 and r.json()["cards"] == []
    assert route.call_count == 0


def test_no_chart_resource_is_validated_for_an_order_no_policy_concerns(client, monkeypatch):
    checked = []
    real = PatientRecord._validate
    monkeypatch.setattr(PatientRecord, "_validate", lambda self, res: checked.append(res) or real(self, res))
    body = lab_chart().request()
    body["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"] = "not a date"
    r = post(client, body)
    assert r.status_code == 200 and r.json()["cards"] == []
    assert checked == []


def test_the_same_chart_with_the_pump_replacement_ordered_is_still_assessed(client, monkeypatch):
    checked = []
    real = PatientRecord._validate
    monkeypatch.setattr(PatientRecord, "_validate", lambda self, res: checked.append(res) or real(self, res))
    c = lab_chart()
    c.order("62362")
    cards = post(client, c.request()).json()["cards"]
    assessed = {x["extension"]["idds-cds.assessment"]["order"]["reference"] for x in cards}
    assert assessed == {"ServiceRequest/sr-2"} and checked


def test_order_select_of_the_lab_order_beside_an_unselected_pump_order_has_no_card(client):
    c = lab_chart()
    c.order("62362", order_id="sr-pump")
    body = c.request(hook="order-select", selections=["ServiceRequest/sr-lab"])
    body["prefetch"]["patient"] = None  # proves the chart was not read: the pump order would need it
    r = post(client, body, SELECT)
    assert r.status_code == 200 and r.json()["cards"] == []


def test_order_select_of_the_pump_order_beside_the_lab_order_is_assessed(client):
    c = lab_chart()
    c.order("62362", order_id="sr-pump")
    body = c.request(hook="order-select", selections=["ServiceRequest/sr-pump"])
    cards = post(client, body, SELECT).json()["cards"]
    assert cards and all(
        x["extension"]["idds-cds.assessment"]["order"]["reference"] == "ServiceRequest/sr-pump"
        for x in cards
        if "idds-cds.assessment" in x["extension"]
    )


def test_lab_orders_past_the_per_call_cap_are_still_named_on_a_card(client, loaded):
    cap = loaded.settings.max_orders_per_call
    body = lab_chart().request()
    first = body["context"]["draftOrders"]["entry"][0]["resource"]
    body["context"]["draftOrders"]["entry"] = [
        {"resource": copy.deepcopy(first) | {"id": f"lab-{i}"}} for i in range(cap + 3)
    ]
    cards = post(client, body).json()["cards"]
    assert [x["summary"] for x in cards] == [f"3 more draft order(s) not assessed: at most {cap} per request"]


def test_an_unreadable_pump_order_beside_a_lab_order_still_gets_its_card(client):
    c = lab_chart()
    pump = c.order("62362", order_id="sr-pump")
    pump["occurrenceDateTime"] = "14/09/2026"
    cards = post(client, c.request()).json()["cards"]
    assert any("ServiceRequest/sr-pump" in (x.get("detail") or "") for x in cards)


@pytest.mark.parametrize(
    "spoil, why",
    [
        (lambda b: b["context"].pop("patientId"), "context.patientId"),
        (lambda b: b.update(hook="order-select"), "answers order-sign"),
        (lambda b: b.update(prefetch=[1, 2]), "prefetch"),
        (lambda b: b["prefetch"].update(conditions="a string"), None),
    ],
)
def test_a_malformed_request_for_a_lab_order_is_still_a_400_or_answered_as_before(client, spoil, why):
    body = lab_chart().request()
    spoil(body)
    r = post(client, body)
    if why is None:  # a prefetch value that is no resource: not available, as on the full path
        assert r.status_code == 200 and r.json()["cards"] == []
    else:
        assert r.status_code == 400 and why in r.text


def test_bytes_that_are_not_utf8_deep_in_the_prefetch_of_a_lab_order_are_a_400(client):
    raw = orjson.dumps(lab_chart().request()).replace(b"Multiple sclerosis", b"Multiple scl\xe9rosis")
    r = client.post(SIGN, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.text


def test_the_lab_order_call_is_recorded_before_the_answer_with_the_prefetch_counts(client, loaded):
    c = lab_chart()
    body = c.request(omit=("allergies",))
    body["prefetch"]["coverage"] = {"resourceType": "OperationOutcome", "issue": []}
    r = post(client, body)
    assert r.status_code == 200
    with Session(store_for(loaded.settings).engine) as s:
        (row,) = s.scalars(select(HookCall).where(HookCall.hook_instance == body["hookInstance"]))
    assert row.status_code == 200 and row.cards == 0
    summary = row.request_summary
    assert [o["reference"] for o in summary["orders"]] == ["ServiceRequest/sr-lab"]
    assert (
        summary["prefetch"]["allergies"] == "missing"
        and summary["prefetch"]["coverage"] == "OperationOutcome"
    )
    assert summary["prefetch"]["patient"] == 1 and summary["prefetch"]["observations"] == len(
        c.resources["observations"]
    )


def test_the_scanned_body_gives_the_audit_trail_what_the_whole_parse_gives():
    c = lab_chart()
    for body in (c.request(), c.request(omit=("devices",), fhir_server=EHR), c.request(hook="order-select")):
        body["prefetch"]["procedures"] = {"resourceType": "Bundle"}  # a Bundle with no entry
        body["extra"] = {"ignored": [1, 2, 3]}
        raw = orjson.dumps(body)
        assert request_part(hook_body.for_audit(hook_body.light(raw))) == request_part(orjson.loads(raw))


def test_a_body_the_scan_cannot_take_is_left_to_the_whole_parse():
    assert hook_body.light(b"[1, 2]") is None
    assert hook_body.light(b'{"hook": "order-sign",') is None
    assert hook_body.light(b'{"hook": "x", "prefetch": {"p": {"text": "\xff"}}}') is None
    assert hook_body.light(b'{"hook": "x", "prefetch": {"p": 3}}') is None
    assert hook_body.light(b'{"hook": "x", "prefetch": null}') == {"hook": "x", "prefetch": None}
