"""Security and robustness of the hook route itself (issue 10, items 4 and 5, and the
unreadable order date / birth date): bounded reading, bounded work per call, the event
loop never stalled by one call, and nothing unreadable silently dropped."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from dataclasses import replace

import httpx
import pytest
from fastapi.testclient import TestClient

import cds_service.hooks as hooks_module
from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings

from .cds_conformance import check_response
from .chart import Chart
from .policies.test_molina_mcp_160 import nonmalignant_chart

SIGN = "/cds-services/idds-order-sign"
SELECT = "/cds-services/idds-order-select"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("sec-service") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}"))


@pytest.fixture(scope="module")
def client(loaded):
    with TestClient(create_app(loaded)) as c:
        yield c


def replacement() -> Chart:
    c = Chart(payer="Cigna Healthcare")
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c


# -- item 4: a chunked body is not read past the limit ----------------------------------------------


def test_a_chunked_body_without_content_length_is_not_read_past_the_limit(loaded):
    """httpx's ASGI transport hands the body over as the app asks for it (the TestClient reads it whole first)."""
    s = loaded.settings.model_copy(update={"max_body_bytes": 100_000})
    pulled = []

    async def body():
        for i in range(2_000):  # 20 MB offered in 10 kB chunks, no Content-Length
            pulled.append(i)
            yield b"[" + b" " * 9_998 + b"]"

    async def send():
        transport = httpx.ASGITransport(app=create_app(replace(loaded, settings=s)))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(SIGN, content=body(), headers={"Content-Type": "application/json"})

    r = asyncio.run(send())
    assert r.status_code == 413 and r.json()["issue"][0]["code"] == "too-costly"
    assert len(pulled) < 50, f"{len(pulled)} chunks were read for a 100 kB limit"


def test_a_declared_content_length_past_the_limit_is_refused_unread(loaded):
    s = loaded.settings.model_copy(update={"max_body_bytes": 1_000})
    with TestClient(create_app(replace(loaded, settings=s))) as c:
        r = c.post(SIGN, content=b"{" + b" " * 5_000 + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# -- item 5: orders per call are capped, and the assessment runs off the event loop ---------------


def _many_orders(n: int) -> dict:
    c = replacement()
    body = c.request()
    first = body["context"]["draftOrders"]["entry"][0]["resource"]
    entries = []
    for i in range(n):
        order = copy.deepcopy(first)
        order["id"] = f"sr-many-{i}"
        entries.append({"resource": order})
    body["context"]["draftOrders"]["entry"] = entries
    return body


def test_orders_past_the_per_call_cap_are_named_on_a_card_not_assessed(client, loaded):
    cap = loaded.settings.max_orders_per_call
    r = client.post(SIGN, json=_many_orders(cap + 480))
    assert r.status_code == 200
    body = r.json()
    check_response(body)
    assessed = [c for c in body["cards"] if "idds-cds.assessment" in (c.get("extension") or {})]
    orders = {c["extension"]["idds-cds.assessment"]["order"]["reference"] for c in assessed}
    assert len(orders) == cap
    (notice,) = [c for c in body["cards"] if "not assessed" in c["summary"]]
    assert notice["summary"] == f"480 more draft order(s) not assessed: at most {cap} per request"
    assert f"ServiceRequest/sr-many-{cap}," in notice["detail"] and "and 460 more" in notice["detail"]
    assert notice["indicator"] == "warning"
    assert len(r.content) < 2_000_000


def test_the_cap_applies_to_order_select_selections_too(client, loaded):
    cap = loaded.settings.max_orders_per_call
    body = _many_orders(cap + 5)
    body["hook"] = "order-select"
    body["context"]["selections"] = [f"ServiceRequest/sr-many-{i}" for i in range(cap + 5)]
    cards = client.post(SELECT, json=body).json()["cards"]
    assert any(c["summary"].startswith("5 more draft order(s) not assessed") for c in cards)


def _threaded(loaded: Services) -> Services:
    """The same services with every hook call assessed in a worker thread (none small enough
    for the event loop)."""
    s = loaded.settings.model_copy(
        update={"inline_assessment_max_bytes": 0, "inline_assessment_max_orders": 0}
    )
    return replace(loaded, settings=s)


@pytest.mark.slow  # a two-second assessment, on purpose
def test_a_slow_assessment_does_not_stall_other_calls(loaded, monkeypatch):
    """The assessment is CPU-bound; run on the event loop, a discovery call would wait for it.
    A call bigger than the event loop's share (settings.inline_assessment_*) runs in a thread."""
    real = hooks_module.assess_hook

    def slow(*args, **kw):
        stop = time.monotonic() + 2.0
        while time.monotonic() < stop:  # pure CPU, as a 10,000-order call was
            sum(range(1000))
        return real(*args, **kw)

    monkeypatch.setattr(hooks_module, "assess_hook", slow)
    with TestClient(create_app(_threaded(loaded))) as c:
        result = {}
        t = threading.Thread(
            target=lambda: result.setdefault("hook", c.post(SIGN, json=replacement().request()))
        )
        t.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert c.get("/cds-services").status_code == 200
        waited = time.monotonic() - started
        t.join(10)
    assert result["hook"].status_code == 200 and result["hook"].json()["cards"]
    assert waited < 1.0, f"discovery waited {waited:.1f} s behind one hook call"


def test_a_call_assessed_in_a_worker_thread_still_leaves_its_audit_record(loaded):
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from cds_service.audit.models import AssessmentRow, HookCall
    from cds_service.audit.store import store_for

    with TestClient(create_app(_threaded(loaded))) as c:
        body = replacement().request()
        body["hookInstance"] = "4f1e9f8e-0000-4000-8000-threaded0001"
        r = c.post(SIGN, json=body)
    store = store_for(loaded.settings)
    with Session(store.engine) as s:
        call = s.scalars(select(HookCall).where(HookCall.hook_instance == body["hookInstance"])).one()
        n = s.scalar(
            select(func.count()).select_from(AssessmentRow).where(AssessmentRow.hook_call_id == call.id)
        )
    assert call.status_code == 200 and call.cards == len(r.json()["cards"]) == n


def _threads_used(loaded: Services, monkeypatch, body: dict) -> int:
    used = []
    real = hooks_module.run_in_threadpool

    async def counting(fn, *args, **kw):
        used.append(fn.__name__)
        return await real(fn, *args, **kw)

    monkeypatch.setattr(hooks_module, "run_in_threadpool", counting)
    with TestClient(create_app(loaded)) as c:
        r = c.post(SIGN, json=body)
    assert r.status_code == 200 and r.json()["cards"]
    return used.count("_assess_call")


def test_a_small_call_is_assessed_on_the_event_loop_a_big_one_in_a_worker_thread(loaded, monkeypatch):
    small = replacement().request()
    assert _threads_used(loaded, monkeypatch, small) == 0
    big = replacement()
    for i in range(900):  # some 900 old pain scores, over half a MiB: past the event loop's share
        big.nrs(3, big.days_before(400 + i))
    assert _threads_used(loaded, monkeypatch, big.request()) == 1
    many = _many_orders(3)  # three draft orders: past it too, whatever the size
    assert _threads_used(loaded, monkeypatch, many) == 1


# -- unreadable dates: said on a card, never dropped or a 412 ------------------------------------------


def test_an_idds_order_with_an_unreadable_date_gets_a_card_saying_so(client):
    body = replacement().request()
    body["context"]["draftOrders"]["entry"][0]["resource"]["occurrenceDateTime"] = "2026-13-45"
    r = client.post(SIGN, json=body)
    assert r.status_code == 200
    (card,) = r.json()["cards"]
    check_response(r.json())
    assert card["summary"] == "An intrathecal pump order could not be read; coverage not assessed"
    assert "ServiceRequest/sr-1" in card["detail"] and "occurrenceDateTime" in card["detail"]
    assert card["indicator"] == "warning" and "extension" not in card


def test_an_unrelated_order_with_an_unreadable_date_gets_no_card(client):
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.order("70551")  # an MRI
    body = c.request()
    body["context"]["draftOrders"]["entry"][0]["resource"]["occurrenceDateTime"] = "2026-13-45"
    assert client.post(SIGN, json=body).json()["cards"] == []


def test_a_malformed_birth_date_is_said_on_the_card_and_the_age_stays_unknown(client):
    c = nonmalignant_chart(birth_date="1968-02-31")
    body = c.request()
    r = client.post(SIGN, json=body)
    assert r.status_code == 200, r.text  # not a 412 "patient not retrievable"
    cards = r.json()["cards"]
    molina = [x for x in cards if x["extension"]["idds-cds.assessment"]["policy"]["id"] == "molina-mcp-160"]
    assert molina
    for card in molina:
        a = card["extension"]["idds-cds.assessment"]
        assert "the birth date in the record ('1968-02-31') could not be read" in card["detail"]
        assert "Patient/pat-1 was not valid FHIR and was ignored" not in card["detail"]
        assert a["determination"] != "criteria-met"
        age = [x for x in a["criteria"] if x["id"].endswith("adult-18")]
        assert age and all(x["status"] == "unknown" for x in age)


def test_a_readable_birth_date_still_decides_the_age(client):
    c = nonmalignant_chart(birth_date="1968-03-02")
    cards = client.post(SIGN, json=c.request()).json()["cards"]
    molina = [x for x in cards if x["extension"]["idds-cds.assessment"]["policy"]["id"] == "molina-mcp-160"]
    assert molina and all("birth date" not in x["detail"] for x in molina)


def test_a_draft_medication_request_based_on_a_null_reference_is_not_an_internal_error(client, caplog):
    """Found by the long fuzz profile: `basedOn: [{"reference": null}]` is valid FHIR and broke the injectate lookup."""
    c = Chart()
    c.condition(icd10="M96.1", display="Postlaminectomy syndrome")
    c.order("62322", drug="morphine", route="intrathecal")
    body = c.request()
    med = body["context"]["draftOrders"]["entry"][1]["resource"]
    med["basedOn"] = [{"reference": None, "display": "the trial order"}]
    r = client.post(SIGN, json=body)
    assert r.status_code == 200
    assert "assessment failed" not in caplog.text
    assert all(
        card["summary"] != "Coverage requirements could not be assessed for this order"
        for card in r.json()["cards"]
    )
