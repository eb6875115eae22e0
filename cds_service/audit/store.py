"""Where the audit trail is written: SQLite by default, PostgreSQL when configured, one code path.

A sync SQLAlchemy engine used from a thread pool: the writes are short, and
a sync driver keeps SQLite and psycopg behind the same few lines. The schema
is Alembic's (`upgrade head` at start-up), so a deployed database follows the
code without a manual step.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import String, create_engine, event, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..settings import Settings
from .models import AssessmentRow, Base, FeedbackRow, HookCall

log = logging.getLogger("idds.audit")

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_SQLITE = ROOT / "var" / "audit.sqlite"


def database_url(settings: Settings) -> str:
    """IDDS_DATABASE_URL, with plain postgresql:// routed to psycopg 3; empty → var/audit.sqlite."""
    url = settings.database_url.strip()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: a failed insert must not print a row (ids, codes) into the log.
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers never wait for the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, hide_parameters=True, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _clean(value: Any) -> Any:
    """PostgreSQL refuses NUL in text and JSON; strip it everywhere so any request can be recorded."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _fit(model: type[Base], data: dict[str, Any]) -> dict[str, Any]:
    """Clean every value and cut strings to their column's length (PostgreSQL enforces it, SQLite not)."""
    out = {}
    for key, value in data.items():
        value = _clean(value)
        column = model.__table__.columns.get(key)
        if isinstance(value, str) and column is not None and isinstance(column.type, String) and column.type.length:
            value = value[: column.type.length]
        out[key] = value
    return out


class AuditStore:
    def __init__(self, url: str):
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time; queue the threads here instead of on its busy timeout.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else nullcontext()

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """alembic upgrade head; tolerant of another process doing the same at the same moment."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    if self.dialect == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(7160421)"))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def add_call(self, call: dict[str, Any], assessments: list[dict[str, Any]]) -> None:
        row = HookCall(**_fit(HookCall, call))
        row.assessments = [AssessmentRow(**_fit(AssessmentRow, a)) for a in assessments]
        with self._write_lock, Session(self.engine) as session, session.begin():
            session.add(row)

    def add_feedback(self, rows: list[dict[str, Any]]) -> None:
        with self._write_lock, Session(self.engine) as session, session.begin():
            session.add_all(FeedbackRow(**_fit(FeedbackRow, r)) for r in rows)

    def count(self, model: type[Base] = HookCall) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def dispose(self) -> None:
        self.engine.dispose()


_stores: dict[str, AuditStore] = {}
_stores_lock = threading.Lock()


def store_for(settings: Settings) -> AuditStore:
    """One store (engine and pool) per database URL per process, migrated on first use."""
    url = database_url(settings)
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = AuditStore(url)
            store.migrate()
            _stores[url] = store
            log.info("audit trail: %s", store.describe())
        return store
