"""A hook call's checklist links and its audit record: one transaction, one commit (issue 13).

The links (the shared state's assessments behind the cards) used to be upserted
in their own transaction in the worker thread, then the record committed by the
audit writer: two commits a call. They now ride with the record. Still, an
answered card's link opens at once, on any worker, and a links fault never costs
the record.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from cds_service import audit
from cds_service.app import create_app
from cds_service.audit.rows import Job
from cds_service.audit.store import store_for
from cds_service.services import Services
from cds_service.settings import Settings
from cds_service.state import state_for
from cds_service.state import store as state_store

from .test_audit import SIGN, chart, rows


@pytest.fixture(scope="module")
def loaded() -> Services:
    return Services.load(Settings())


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'audit.sqlite'}",
        allowed_fhir_servers="https://ehr.example.org/fhir",
    )


@pytest.fixture
def client(loaded, settings):
    with TestClient(create_app(replace(loaded, settings=settings))) as c:
        yield c


def _sign(client):
    body = chart().request(hook="order-sign") | {"hookInstance": str(uuid.uuid4())}
    r = client.post(SIGN, json=body)
    assert r.status_code == 200 and r.json()["cards"]
    return r.json()["cards"][0]["uuid"]


def test_an_assessed_call_commits_its_record_and_its_links_once(client, settings):
    engine = store_for(settings).engine
    _sign(client)  # the first call's start-up writes (a purge of expired rows) left out
    commits: list[int] = []

    def counted(conn) -> None:
        commits.append(1)

    event.listen(engine, "commit", counted)
    try:
        card = _sign(client)
    finally:
        event.remove(engine, "commit", counted)
    assert len(commits) == 1
    assert client.get(f"/assessments/{card}").status_code == 200  # the link opens as soon as answered
    assert len(rows(store_for(settings))) == 2


def test_a_failing_links_upsert_loses_the_links_never_the_record_or_the_card(
    client, settings, monkeypatch, caplog
):
    broken = text("INSERT INTO no_such_table (id) VALUES (:id)")
    monkeypatch.setattr(state_store, "_upsert_statement", lambda *args: broken)
    with caplog.at_level(logging.ERROR):
        card = _sign(client)
    (row,) = rows(store_for(settings))
    assert row.status_code == 200 and row.assessments  # the record, with what the card answered
    assert client.get(f"/assessments/{card}").status_code == 404
    assert "checklist links" in caplog.text


def test_without_the_audit_middleware_the_route_keeps_its_links_itself(loaded, settings, monkeypatch):
    monkeypatch.setattr(audit, "install", lambda app: None)
    with TestClient(create_app(replace(loaded, settings=settings))) as client:
        card = _sign(client)
        assert client.get(f"/assessments/{card}").status_code == 200


def _job(instance: str, assessment_id: str, link_id: str, state) -> Job:
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
    with state.collecting() as links:
        state.put_assessments({link_id: {"id": link_id}}, expires_at=2e9, now=1e9)
    return Job(call, [assessment], [], links)


def test_a_record_the_store_refuses_still_leaves_its_cards_links(client, settings):
    store, state = store_for(settings), state_for(settings)
    batch = [
        _job("a", "card-1", "link-a", state),
        _job("b", "card-1", "link-b", state),  # b reuses a's card id: its record is refused
    ]
    store._write_batch(batch)
    assert [j.future.exception() is None for j in batch] == [True, False]
    assert [r.hook_instance for r in rows(store)] == ["a"]
    assert state.get_assessment("link-a", now=1e9) and state.get_assessment("link-b", now=1e9)


def test_collected_links_are_not_written_until_committed(settings, client):
    state = state_for(settings)
    with state.collecting() as links:
        state.put_assessments({"held": {"id": "held"}}, expires_at=2e9, now=1e9)
    assert len(links) == 1 and state.get_assessment("held", now=1e9) is None
    state.write(links)
    assert state.get_assessment("held", now=1e9) == {"id": "held"}
