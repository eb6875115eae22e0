"""The audit writer's prepared statements write exactly what SQLAlchemy's own execution writes.

The writer compiles its inserts (and the shared state's upserts it carries) once and runs them
on the DBAPI cursor (cds_service/audit/prepared.py); the values stored, read back raw (no
result processing), must be the very ones `Connection.execute` stores: the same JSON text,
the same datetime text, the same NULLs. On SQLite, and on PostgreSQL when
IDDS_TEST_POSTGRES_URL names a database.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, text

from cds_service.audit.db import json_text
from cds_service.audit.prepared import Prepared, prepared_insert
from cds_service.audit.rows import ASSESSMENT, FEEDBACK, HOOK_CALL, Columns, Job
from cds_service.audit.store import AuditStore, database_url
from cds_service.settings import Settings
from cds_service.state.models import RecentAssessment
from cds_service.state.store import _upsert_statement

from .shared_db import PG_URL, fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request, tmp_path):
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("IDDS_TEST_POSTGRES_URL not set")
    with fresh_database(request.param, tmp_path) as url:
        store = AuditStore(database_url(Settings(database_url=url)))
        store.migrate()
        yield store
        store.close()


def _call(call_id: str) -> dict[str, Any]:
    return HOOK_CALL.fit(
        {
            "id": call_id,
            "received_at": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
            "hook": "order-sign",
            "hook_instance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "service_id": "idds-order-sign",
            "caller": None,
            "patient_id": "pat-ü-\U0001f489",
            "fhir_server": "https://ehr.example.org/fhir",
            "request_summary": {
                "user": "Practitioner/1",
                "orders": [
                    {"reference": "ServiceRequest/sr-1", "codes": ["http://www.ama-assn.org/go/cpt|62350"]}
                ],
                "prefetch": {"patient": 1, "coverage": "missing"},
                "selections": [],
            },
            "cards": 2,
            "system_actions": 1,
            "duration_ms": 12.34,
            "status_code": 200,
        }
    )


def _raw(store: AuditStore, table: str, key: str, value: str) -> tuple[Any, ...]:
    """The row as the database holds it (the DBAPI's values, no SQLAlchemy result processing)."""
    with store.engine.connect() as conn:
        row = conn.execute(text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value}).one()
    return tuple(row)


def _written_both_ways(store: AuditStore, columns: Columns, rows: list[dict[str, Any]], key: str):
    prepared = prepared_insert(columns.table, columns.names, store.engine.dialect)
    with store.engine.begin() as conn:
        conn.execute(insert(columns.table), [rows[0]])
        prepared.run(conn, [rows[1]])
    return _raw(store, columns.table.name, key, rows[0][key]), _raw(
        store, columns.table.name, key, rows[1][key]
    )


def _without(row: tuple[Any, ...], *positions: int) -> tuple[Any, ...]:
    return tuple(v for i, v in enumerate(row) if i not in positions)


def test_a_hook_call_row_is_stored_as_sqlalchemy_stores_it(store):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    by_sqlalchemy, prepared = _written_both_ways(store, HOOK_CALL, [_call(a), _call(b)], "id")
    assert prepared[0] == b and _without(prepared, 0) == _without(by_sqlalchemy, 0)


def test_assessment_rows_are_stored_as_sqlalchemy_stores_them(store):
    call_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(insert(HOOK_CALL.table), [_call(call_id)])
    rows = [
        ASSESSMENT.fit(
            {
                "id": card,
                "hook_call_id": call_id,
                "policy_id": "cms-lcd-l39212",
                "policy_version": "2024-01",
                "order_ref": "ServiceRequest/sr-1",
                "order_code": None,
                "phase": "trial",
                "indication": None,
                "determination": "criteria-unknown",
                "criteria": [{"id": "c1", "status": "met", "evidence": ["Condition/c-1", {"note": "ü"}]}],
            }
        )
        for card in (str(uuid.uuid4()), str(uuid.uuid4()))
    ]
    by_sqlalchemy, prepared = _written_both_ways(store, ASSESSMENT, rows, "id")
    assert _without(prepared, 0) == _without(by_sqlalchemy, 0)


def test_feedback_rows_are_stored_as_sqlalchemy_stores_them(store):
    rows = [
        FEEDBACK.fit(
            {
                "service_id": "idds-order-sign",
                "card_id": card,
                "outcome": "overridden",
                "override_reason": {"reason": {"code": "patient-refused"}, "userComment": "später"},
                "accepted_suggestions": [],
                "outcome_timestamp": "2026-03-04T05:06:07Z",
                "received_at": datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC),
                "caller": "https://ehr.example.org",
            }
        )
        for card in ("card-a", "card-b")
    ]
    by_sqlalchemy, prepared = _written_both_ways(store, FEEDBACK, rows, "card_id")
    # the autoincrement key (first) and the card id differ; everything else is the same
    assert _without(prepared, 0, 2) == _without(by_sqlalchemy, 0, 2)


def test_the_links_upsert_prepared_inserts_and_then_updates_as_sqlalchemy_does(store):
    table = RecentAssessment.__table__
    statement = _upsert_statement(table, "id", ("id", "expires_at", "body"))
    prepared = Prepared(statement, store.engine.dialect)

    def both(expires: float, body: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        with store.engine.begin() as conn:
            conn.execute(statement, [{"id": "by-sqlalchemy", "expires_at": expires, "body": body}])
            prepared.run(conn, [{"id": "prepared", "expires_at": expires, "body": body}])
        return _raw(store, table.name, "id", "by-sqlalchemy"), _raw(store, table.name, "id", "prepared")

    first = both(2e9, {"id": "x", "determination": "criteria-met", "criteria": [{"id": "c1"}]})
    assert _without(first[0], 0) == _without(first[1], 0)
    second = both(2e9 + 60, {"id": "x", "determination": "criteria-unknown"})  # the conflict: updated
    assert _without(second[0], 0) == _without(second[1], 0) != _without(first[0], 0)


def test_json_columns_take_what_orjson_refuses_as_the_standard_library_did():
    """orjson writes the JSON columns; an integer past 64 bits or a non-string key still encodes."""
    odd = {"n": 2**70, "by_number": {1: "one"}}
    assert json.loads(json_text(odd)) == json.loads(json.dumps(odd))
    assert json.loads(json_text({"user": "Practitioner/ü-\U0001f489", "x": [1.5, None]})) == {
        "user": "Practitioner/ü-\U0001f489",
        "x": [1.5, None],
    }


def _job(instance: str) -> Job:
    return Job(_call(str(uuid.uuid4())) | {"hook_instance": instance}, [], [])


def test_a_writer_connection_lost_between_calls_costs_no_record(store, caplog):
    """The writer keeps its connection between transactions; lost under it (a database restarted),
    the next record is still written, on a fresh connection, and nothing is logged as an error."""
    first = [_job("first")]
    store._write_batch(first)
    kept = store._kept.conn
    assert kept is not None and first[0].future.exception() is None
    kept.connection.dbapi_connection.close()  # gone, as a server's restart leaves it
    second = [_job("second")]
    with caplog.at_level(logging.WARNING):
        store._write_batch(second)
    assert second[0].future.exception() is None and store._kept.conn is not kept
    with store.engine.connect() as conn:
        instances = conn.execute(text("SELECT hook_instance FROM hook_call")).scalars().all()
    assert sorted(instances) == ["first", "second"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_writer_checkpoints_sqlite_itself_after_the_answers_not_inside_a_commit(store):
    """SQLite copies its log back into the database inside the commit that takes it past 1,000
    pages, and that call's answer waited for it; the writer's connection has automatic
    checkpoints off and the writer runs the checkpoint after the batch's answers are released."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite's checkpoints")
    store.CHECKPOINT_EVERY = 1
    released, checkpoints = threading.Event(), []
    checkpoint = store._kept.checkpoint

    def held() -> None:  # a checkpoint that cannot finish before the test has its answer
        checkpoints.append(released.wait(timeout=10))
        checkpoint()

    store._kept.checkpoint = held
    try:
        store.submit_call(_job("first").call, []).result(timeout=10)  # answered, the checkpoint pending
        released.set()
        store.submit_call(_job("second").call, []).result(timeout=10)
    finally:
        released.set()
    assert checkpoints[:1] == [True]
    with store._kept.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    store._kept.release()  # the writer's connection, with its own setting, is not handed to the pool
    connections = [store.engine.connect() for _ in range(8)]
    try:
        assert {c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() for c in connections} == {1000}
    finally:
        for c in connections:
            c.close()


def test_closing_the_store_never_waits_forever_for_a_writer_stuck_in_its_transaction(store):
    inside, done = threading.Event(), threading.Event()

    def stuck() -> None:  # a transaction that does not end (a database that stopped answering)
        with store._kept.transaction():
            inside.set()
            done.wait(timeout=10)

    writer = threading.Thread(target=stuck)
    writer.start()
    try:
        assert inside.wait(timeout=10)
        store._kept.release(timeout=0.05)  # returns; the connection is left to its writer
        assert store._kept.conn is not None
    finally:
        done.set()
        writer.join(timeout=10)
    store._kept.release()
    assert store._kept.conn is None
