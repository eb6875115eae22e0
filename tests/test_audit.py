"""The audit trail: one record per hook call with its assessments, feedback, and never a token or a chart.

Runs on SQLite in a temporary directory, and on PostgreSQL too when
IDDS_TEST_POSTGRES_URL names a database (each run in a schema of its own).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.orm import Session, selectinload

from cds_service.app import create_app
from cds_service.audit.models import AssessmentRow, Base, FeedbackRow, HookCall
from cds_service.audit.rows import Job
from cds_service.audit.store import AuditStore, database_url, store_for
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart
from .test_auth import BASE, bearer, issuers_file, token

SIGN = "/cds-services/idds-order-sign"
SELECT = "/cds-services/idds-order-select"
FHIR_TOKEN = "secret-token-xyz"  # what Chart.request puts in fhirAuthorization
PG_URL = os.environ.get("IDDS_TEST_POSTGRES_URL", "")


@pytest.fixture(scope="module")
def loaded() -> Services:
    return Services.load(Settings())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.sqlite'}"
        return
    if not PG_URL:
        pytest.skip("IDDS_TEST_POSTGRES_URL not set")
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(Settings(database_url=PG_URL)))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(database_url=db_url, allowed_fhir_servers="https://ehr.example.org/fhir")


@pytest.fixture
def client(loaded, settings):
    with TestClient(create_app(replace(loaded, settings=settings))) as c:
        yield c


@pytest.fixture
def store(client, settings) -> AuditStore:
    return store_for(settings)


def chart() -> Chart:
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    c.order("62322", drug="morphine", order_id="sr-trial")
    return c


def call(
    client, path: str = SIGN, body: dict[str, Any] | None = None, **request_args: Any
) -> tuple[str, httpx.Response]:
    body = (
        body
        if body is not None
        else chart().request(hook="order-select" if path == SELECT else "order-sign", **request_args)
    )
    body["hookInstance"] = str(uuid.uuid4())
    return body["hookInstance"], client.post(path, json=body)


def rows(store: AuditStore, model=HookCall) -> list[Any]:
    query = select(model).options(selectinload(HookCall.assessments)) if model is HookCall else select(model)
    with Session(store.engine) as s:
        return list(s.scalars(query))


def everything_stored(store: AuditStore, db_url: str) -> bytes:
    """Every byte of the database: the SQLite files, or a text dump of every PostgreSQL table."""
    if db_url.startswith("sqlite"):
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        path = Path(db_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with store.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        return "\n".join(str(r) for t in tables for r in conn.execute(text(f'SELECT * FROM "{t}"'))).encode()


# -- one record per call ----------------------------------------------------------------


def test_every_hook_call_is_one_record_with_its_status(client, store):
    expected: dict[str, int] = {}
    for path in (SIGN, SIGN, SELECT):
        instance, r = call(client, path)
        expected[instance] = r.status_code
    bad = chart().request()
    bad["context"].pop("draftOrders")
    instance, r = call(client, body=bad)
    assert r.status_code == 400
    expected[instance] = 400
    no_patient = chart().request()
    no_patient["prefetch"]["patient"] = None
    instance, r = call(client, body=no_patient)
    assert r.status_code == 412
    expected[instance] = 412
    # no hook instance to file these under: not recorded (the log has them)
    assert (
        client.post(
            SIGN, content=b'{"hook": "order-sign",', headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert client.post("/cds-services/no-such-service", json=chart().request()).status_code == 404
    recorded = rows(store)
    assert {r.hook_instance: r.status_code for r in recorded} == expected
    assert len(recorded) == len(expected)
    for r in recorded:
        assert r.duration_ms > 0 and r.received_at is not None
        assert r.patient_id == "pat-1" and r.service_id.startswith("idds-order-")
        if r.status_code != 200:
            assert r.cards == 0 and r.assessments == []


def test_concurrent_calls_each_leave_exactly_one_record(loaded, settings):
    app = create_app(
        replace(loaded, settings=settings)
    )  # driven without its lifespan: the store opens lazily
    bodies = [chart().request() | {"hookInstance": str(uuid.uuid4())} for _ in range(24)]

    async def fire():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await asyncio.gather(*(c.post(SIGN, json=b) for b in bodies))

    app.state.services = replace(loaded, settings=settings)
    responses = asyncio.run(fire())
    assert all(r.status_code == 200 for r in responses)
    instances = [r.hook_instance for r in rows(store_for(settings))]
    assert sorted(instances) == sorted(b["hookInstance"] for b in bodies)


def test_the_route_hands_its_parse_to_the_trail_else_the_bytes_are_read(client, store, monkeypatch):
    import cds_service.audit as audit_module

    parsed: list[bytes] = []
    real_parse = audit_module.parse
    monkeypatch.setattr(audit_module, "parse", lambda raw: parsed.append(raw) or real_parse(raw))
    instance, r = call(client)
    assert r.status_code == 200 and parsed == []  # neither the request nor the answer parsed a second time
    bad = chart().request()
    bad["hookInstance"] = "x" * 300  # refused by nothing before the route: still from the route's parse
    assert client.post(SIGN, json=bad | {"context": []}).status_code == 400 and parsed == []
    # a route that turns the call away before handing anything over: the trail reads the bytes it saw
    monkeypatch.setattr(audit_module, "note_request", lambda request, body: None)
    monkeypatch.setattr(audit_module, "note_answer", lambda request, response: None)
    fallback, r3 = call(client)
    assert r3.status_code == 200 and len(parsed) == 2
    first, second, third = sorted(rows(store), key=lambda row: row.received_at)
    assert (
        first.hook_instance == instance
        and first.cards == len(r.json()["cards"]) == len(first.assessments) > 0
    )
    assert second.status_code == 400 and second.hook_instance == "x" * 200
    assert (
        third.hook_instance == fallback
        and third.cards == len(r3.json()["cards"]) == len(third.assessments) > 0
    )
    assert third.request_summary == first.request_summary


# -- what is recorded ---------------------------------------------------------------------


def test_assessments_and_their_criteria_are_stored_as_answered(client, store):
    instance, r = call(client)
    body = r.json()
    (row,) = rows(store)
    assert row.hook == "order-sign" and row.hook_instance == instance and row.status_code == 200
    assert row.cards == len(body["cards"]) > 0 and row.system_actions == len(body["systemActions"])
    by_id = {a.id: a for a in row.assessments}
    assert set(by_id) == {c["uuid"] for c in body["cards"]}
    for card in body["cards"]:
        a, stored = card["extension"]["idds-cds.assessment"], by_id[card["uuid"]]
        assert (stored.policy_id, stored.policy_version) == (a["policy"]["id"], a["policy"]["version"])
        assert (stored.order_ref, stored.order_code, stored.phase) == (
            a["order"]["reference"],
            a["order"]["code"],
            a["order"]["phase"],
        )
        assert stored.indication == a["indication"] and stored.determination == a["determination"]
        assert stored.criteria == [
            {"id": c["id"], "status": c["status"], "evidence": c["evidence"]} for c in a["criteria"]
        ]
    # the CRD coverage-assertion-id of each systemAction finds its assessment
    assertions = [
        part["valueString"]
        for action in body["systemActions"]
        for e in action["resource"]["extension"]
        if e["url"].endswith("ext-coverage-information")
        for part in e["extension"]
        if part["url"] == "coverage-assertion-id"
    ]
    assert assertions and set(assertions) <= set(by_id)


def test_the_request_summary_holds_orders_and_ids_not_the_chart(client, store, db_url):
    c = chart()
    body = c.request(omit=("allergies",))
    call(client, body=body)
    (row,) = rows(store)
    summary = row.request_summary
    assert [o["reference"] for o in summary["orders"]] == [
        "ServiceRequest/sr-1",
        "ServiceRequest/sr-trial",
        "MedicationRequest/sr-trial-med",
    ]
    assert "http://www.ama-assn.org/go/cpt|62362" in summary["orders"][0]["codes"]
    assert summary["user"] == "Practitioner/dr-1"
    assert summary["prefetch"]["allergies"] == "missing" and summary["prefetch"]["observations"] == len(
        c.resources["observations"]
    )
    stored = everything_stored(store, db_url)
    for private in (
        b"Testpatient",
        b"1968-03-02",
        b"999-00-1234",
        b"Multiple sclerosis",
        b"SynchroMed",
        b"Essential (primary) hypertension",
    ):
        assert private not in stored, private


def test_no_token_is_ever_stored(loaded, settings, tmp_path, db_url):
    """Neither the EHR's FHIR access token nor the caller's JWT, nor credentials in the FHIR server URL."""
    s = settings.model_copy(
        update={
            "require_auth": True,
            "trusted_issuers_file": issuers_file(tmp_path),
            "public_base_url": BASE,
            "allowed_fhir_servers": "https://ehr.example.org/fhir",
        }
    )
    jwt_token = token()
    body = chart().request(fhir_server="https://ehr.example.org/fhir")
    body["fhirServer"] = "https://ehr.example.org/fhir?access_token=url-secret-123"
    with TestClient(create_app(replace(loaded, settings=s))) as c:
        r = c.post(SIGN, json=body, headers=bearer(jwt_token))
        assert r.status_code == 200
        fb = {
            "feedback": [
                {
                    "card": r.json()["cards"][0]["uuid"],
                    "outcome": "accepted",
                    "outcomeTimestamp": "2026-09-14T10:00:00Z",
                }
            ]
        }
        assert (
            c.post(f"{SIGN}/feedback", json=fb, headers=bearer(token(path=f"{SIGN}/feedback"))).status_code
            == 200
        )
    store = store_for(s)
    (row,) = rows(store)
    assert row.fhir_server == "https://ehr.example.org/fhir"
    assert row.caller == "https://ehr.example.org"
    stored = everything_stored(store, db_url)
    for secret in (FHIR_TOKEN, jwt_token, jwt_token.split(".")[2], "url-secret-123"):
        assert secret.encode() not in stored


def test_feedback_is_stored(client, store):
    _, r = call(client)
    card = r.json()["cards"][0]["uuid"]
    fb = {
        "feedback": [
            {
                "card": card,
                "outcome": "overridden",
                "outcomeTimestamp": "2026-09-14T10:00:00Z",
                "overrideReason": {
                    "reason": {"code": "patient-declined", "system": "http://example.org/override"},
                    "userComment": "will document at the next visit",
                },
            },
            {
                "card": card,
                "outcome": "accepted",
                "outcomeTimestamp": "2026-09-14T10:05:00Z",
                "acceptedSuggestions": [{"id": "s-1"}],
            },
        ]
    }
    assert client.post(f"{SIGN}/feedback", json=fb).status_code == 200
    assert (
        client.post(f"{SIGN}/feedback", json={"feedback": [{"card": "x", "outcome": "maybe"}]}).status_code
        == 400
    )
    stored = sorted(rows(store, FeedbackRow), key=lambda f: f.outcome_timestamp)
    assert [(f.card_id, f.outcome, f.service_id) for f in stored] == [
        (card, "overridden", "idds-order-sign"),
        (card, "accepted", "idds-order-sign"),
    ]
    assert stored[0].override_reason["reason"]["code"] == "patient-declined"
    assert stored[1].accepted_suggestions == [{"id": "s-1"}]
    assert all(f.received_at is not None for f in stored)
    # the feedback finds its assessment
    with Session(store.engine) as s:
        assert s.get(AssessmentRow, card) is not None


def test_an_override_reason_offered_on_the_card_comes_back_in_feedback_and_is_stored(client, store):
    """CDS Hooks 2.0: the card lists overrideReasons; the EHR's feedback names one; the trail keeps it."""
    c = Chart()
    c.condition(icd10="G89.4", display="Chronic pain syndrome")
    c.order("62322", drug="morphine")
    c.coverage("Cigna Healthcare")
    _, r = call(client, path=SELECT, body=c.request(hook="order-select"))
    card = r.json()["cards"][0]
    offered = card["overrideReasons"][0]
    suggestion = (card.get("suggestions") or [{"uuid": None}])[0]["uuid"]
    fb = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-09-14T10:00:00Z",
                "overrideReason": {
                    "reason": offered,
                    "userComment": "evaluation on paper in the clinic file",
                },
            },
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "outcomeTimestamp": "2026-09-14T10:01:00Z",
                "acceptedSuggestions": [{"id": suggestion}],
            },
        ]
    }
    assert client.post(f"{SELECT}/feedback", json=fb).status_code == 200
    stored = sorted(
        (f for f in rows(store, FeedbackRow) if f.card_id == card["uuid"]), key=lambda f: f.outcome_timestamp
    )
    assert stored[0].override_reason == {
        "reason": offered,
        "userComment": "evaluation on paper in the clinic file",
    }
    assert (
        stored[0].override_reason["reason"]["system"]
        == "http://idds-cds.org/fhir/CodeSystem/idds-override-reason"
    )
    assert stored[1].accepted_suggestions == [{"id": suggestion}]


def test_odd_text_is_recorded_not_refused(client, store):
    """NUL, emoji and over-long ids (PostgreSQL refuses NUL and enforces lengths) still leave one record."""
    body = chart().request()
    body["context"]["userId"] = "Practitioner/\x00nul-\U0001f489"
    body["context"]["draftOrders"]["entry"][0]["resource"]["id"] = "sr-" + "ü" * 500
    instance, r = call(client, body=body)
    assert r.status_code == 200
    (row,) = rows(store)
    assert row.hook_instance == instance and "\x00" not in row.request_summary["user"]


def test_a_failing_store_is_logged_and_the_clinician_still_gets_the_answer(
    client, store, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert", broken)  # the writer thread's one way to the database
    with caplog.at_level(logging.ERROR, logger="idds.audit"):
        _, r = call(client)
    assert r.status_code == 200 and r.json()["cards"]
    assert "audit write failed" in caplog.text and "disk full" in caplog.text
    monkeypatch.undo()
    assert rows(store) == []
    _, r = call(client)  # the writer thread survived the failure
    assert r.status_code == 200 and len(rows(store)) == 1


def test_each_answer_waits_for_its_record_and_concurrent_calls_share_a_transaction(
    loaded, settings, monkeypatch
):
    app = create_app(replace(loaded, settings=settings))
    app.state.services = replace(loaded, settings=settings)
    store = store_for(settings)
    insert, batches = store._insert, []

    def slow_insert(jobs, extra=None):  # a slow disk: calls queue up behind the commit in progress
        batches.append(len(jobs))
        time.sleep(0.05)
        insert(jobs, extra)

    monkeypatch.setattr(store, "_insert", slow_insert)
    bodies = [chart().request() | {"hookInstance": str(uuid.uuid4())} for _ in range(16)]

    def recorded(instance: str) -> int:
        with store.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(HookCall).where(HookCall.hook_instance == instance)
            ).scalar()

    async def one(c, body):
        r = await c.post(SIGN, json=body)
        return (
            r.status_code,
            len(r.json()["cards"]),
            recorded(body["hookInstance"]),
        )  # looked up the moment the answer came

    async def fire():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await asyncio.gather(*(one(c, b) for b in bodies))

    results = asyncio.run(fire())
    assert all(status == 200 and cards > 0 and found == 1 for status, cards, found in results)
    assert sum(batches) == len(bodies) and max(batches) > 1, batches
    with Session(store.engine) as s:
        assert s.scalar(select(func.count()).select_from(AssessmentRow)) == sum(
            cards for _, cards, _ in results
        )


def test_one_bad_record_does_not_cost_the_others_of_its_batch(store):
    def job(instance: str, assessment_id: str):
        call = {
            "id": str(uuid.uuid4()),
            "received_at": datetime.now(UTC),
            "hook": "order-sign",
            "hook_instance": instance,
            "service_id": "idds-order-sign",
            "request_summary": {},
            "cards": 1,
            "system_actions": 0,
            "duration_ms": 1.0,
            "status_code": 200,
        }
        assessment = {
            "id": assessment_id,
            "policy_id": "p",
            "policy_version": "1",
            "determination": "criteria-met",
            "criteria": [],
        }
        return Job(call, [assessment], [])

    batch = [job("a", "card-1"), job("b", "card-2"), job("c", "card-1")]  # c reuses a's card id: refused
    store._write_batch(batch)
    assert [j.future.exception() is None for j in batch] == [True, True, False]
    assert sorted(r.hook_instance for r in rows(store)) == ["a", "b"]


# -- schema ---------------------------------------------------------------------------------


def test_migrations_are_idempotent_and_match_the_models(store):
    store.migrate()  # a second start-up changes nothing
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_default_database_is_a_sqlite_file_under_var():
    assert database_url(Settings(database_url="")).endswith("/var/audit.sqlite")
    assert (
        database_url(Settings(database_url="postgresql://u:p@127.0.0.1/db"))
        == "postgresql+psycopg://u:p@127.0.0.1/db"
    )
