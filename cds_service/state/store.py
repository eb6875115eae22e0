"""The shared state, read and written through the audit trail's engine (one pool per process).

Every operation is one short transaction and atomic across workers and hosts:
- an assessment is upserted under its id and read back only before it expires;
- a SMART launch is consumed by a DELETE whose row count says who won: a `state`
  is used once, whichever worker the callback reaches;
- a `jti` is an INSERT … ON CONFLICT DO NOTHING after deleting its own expired row,
  so of two workers seeing the same token at the same moment exactly one accepts it.
Expired rows are never returned and are purged at most every `purge_every` seconds
per process.

A hook call's assessments (the cards' checklist links) can instead be collected
(`collecting`) and handed to the audit trail's writer, which upserts them in the
same transaction as the call's audit record: one commit per call (per batch under
load) instead of two, still committed before the answer leaves.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Table, bindparam, delete, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import TextClause

from ..audit.rows import clean
from ..audit.store import store_for
from ..settings import Settings
from .models import RecentAssessment, SeenJti, SmartLaunch, SmartSession

log = logging.getLogger("idds.state")
TABLES = (RecentAssessment, SmartLaunch, SmartSession, SeenJti)


def row_key(secret: str, purpose: str) -> str:
    """What the database holds instead of a secret: a reader of the table cannot replay it."""
    return hashlib.sha256(f"{purpose}:{secret}".encode("utf-8", "replace")).hexdigest()


def _fernet(secret: str, purpose: str) -> Fernet:
    """A key derived from the secret the browser holds: the database alone decrypts nothing."""
    digest = hmac.new(
        secret.encode("utf-8", "replace"), f"idds-state-{purpose}-v1".encode(), hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str, purpose: str, payload: dict[str, Any]) -> bytes:
    return _fernet(secret, purpose).encrypt(orjson.dumps(payload))


def unseal(secret: str, purpose: str, sealed: bytes) -> dict[str, Any] | None:
    try:
        payload = orjson.loads(_fernet(secret, purpose).decrypt(bytes(sealed)))
    except (InvalidToken, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


@functools.lru_cache(maxsize=16)
def _upsert_statement(table: Table, key_column: str, columns: tuple[str, ...]) -> TextClause:
    """INSERT … ON CONFLICT (key) DO UPDATE SET each column = excluded.column: the same words in
    SQLite and PostgreSQL. As a text statement (typed binds, so JSON columns are still encoded)
    because SQLAlchemy 2.0 never caches the dialects' on_conflict constructs: built that way,
    every hook call compiled its upsert anew, about as long as assessing a small chart."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key_column)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({key_column}) DO UPDATE SET {updates}"
    )
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))


# The statement and rows of a deferred upsert: what the audit writer executes in its transaction.
Upsert = tuple[TextClause, list[dict[str, Any]]]


class SharedState:
    def __init__(self, engine: Engine, purge_every: float = 60.0):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.purge_every = purge_every
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()
        self._collecting = threading.local()

    @contextmanager
    def collecting(self) -> Iterator[list[Upsert]]:
        """Within it, in this thread, `put_assessments` writes nothing: its upserts are appended to
        the list yielded, for the caller to have committed (the audit writer's transaction)."""
        pending: list[Upsert] = []
        previous = getattr(self._collecting, "pending", None)
        self._collecting.pending = pending
        try:
            yield pending
        finally:
            self._collecting.pending = previous

    def write(self, upserts: list[Upsert]) -> None:
        """Collected upserts committed on their own (when no audit record can carry them)."""
        if upserts:
            with self.engine.begin() as conn:
                for statement, rows in upserts:
                    conn.execute(statement, rows)

    # -- expiry -------------------------------------------------------------------------

    def purge(self, now: float) -> int:
        """Delete every expired row; the number deleted."""
        deleted = 0
        with self.engine.begin() as conn:
            for model in TABLES:
                deleted += conn.execute(delete(model).where(model.expires_at <= now)).rowcount or 0
        return deleted

    def _maybe_purge(self, now: float) -> None:
        if now < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = now + self.purge_every
            self.purge(now)
        except Exception:  # a purge that fails leaves rows that are never read as live
            log.exception("purge of expired shared state failed")
        finally:
            self._purge_lock.release()

    def _upsert(self, model: Any, key_column: str, rows: list[dict[str, Any]]) -> None:
        statement = _upsert_statement(model.__table__, key_column, tuple(rows[0]))
        pending: list[Upsert] | None = getattr(self._collecting, "pending", None)
        if pending is not None:
            pending.append((statement, rows))
            return
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    # -- assessments ----------------------------------------------------------------------

    def put_assessments(self, items: dict[str, Any], expires_at: float, now: float) -> None:
        if not items:
            return
        self._upsert(
            RecentAssessment,
            "id",
            [{"id": k[:64], "expires_at": expires_at, "body": clean(v)} for k, v in items.items()],
        )
        self._maybe_purge(now)

    def get_assessment(self, key: str, now: float) -> Any | None:
        if not key or len(key) > 64:
            return None
        with self.engine.connect() as conn:
            return conn.execute(
                select(RecentAssessment.body).where(
                    RecentAssessment.id == key, RecentAssessment.expires_at > now
                )
            ).scalar_one_or_none()

    # -- sealed rows (SMART launches and sessions) --------------------------------------------

    def put_sealed(
        self, model: Any, secret: str, purpose: str, payload: dict[str, Any], expires_at: float, now: float
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(model).values(
                    key=row_key(secret, purpose), expires_at=expires_at, sealed=seal(secret, purpose, payload)
                )
            )
        self._maybe_purge(now)

    def get_sealed(self, model: Any, secret: str, purpose: str, now: float) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            sealed = conn.execute(
                select(model.sealed).where(model.key == row_key(secret, purpose), model.expires_at > now)
            ).scalar_one_or_none()
        return None if sealed is None else unseal(secret, purpose, sealed)

    def take_sealed(self, model: Any, secret: str, purpose: str, now: float) -> bool:
        """Delete the live row; True for the one caller that deleted it."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    delete(model)
                    .where(model.key == row_key(secret, purpose), model.expires_at > now)
                    .returning(model.key)
                ).scalar_one_or_none()
                is not None
            )

    # -- replay ------------------------------------------------------------------------------

    def first_use(self, key: tuple[str, str], until: float, now: float) -> bool:
        """True once per (iss, jti) while `until` has not passed, across every worker sharing the database."""
        k = hashlib.sha256("\x00".join(key).encode("utf-8", "replace")).hexdigest()
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        with self.engine.begin() as conn:
            conn.execute(delete(SeenJti).where(SeenJti.key == k, SeenJti.expires_at <= now))
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
            inserted = conn.execute(
                dialect.insert(SeenJti)
                .values(key=k, expires_at=until)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(SeenJti.key)
            ).scalar_one_or_none()
        self._maybe_purge(now)
        return inserted is not None


_states: dict[int, SharedState] = {}
_lock = threading.Lock()


def state_for(settings: Settings) -> SharedState:
    """One SharedState per database per process, on the audit store's engine (migrated)."""
    store = store_for(settings)
    with _lock:
        found = _states.get(id(store))
        if found is None:
            found = _states[id(store)] = SharedState(store.engine)
        return found


__all__ = ["SharedState", "Upsert", "row_key", "seal", "state_for", "unseal"]
