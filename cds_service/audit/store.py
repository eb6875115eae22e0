"""Where the audit trail is written: SQLite by default, PostgreSQL when configured, one code path.

One writer thread per store (per process and database) owns the writes: each
call hands its rows over and gets a future; the writer takes whatever has
queued up meanwhile and writes it in one transaction with SQLAlchemy Core
`insert()` (executemany), then resolves every future. Alone, a call is one
short transaction; under load, the calls that arrived while the previous
batch was committing share the next one. A batch that fails is retried record
by record, so one bad record costs no other its place. A sync engine keeps
SQLite and psycopg behind the same few lines. The schema is Alembic's
(`upgrade head` at start-up), so a deployed database follows the code without
a manual step.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import String, Table, create_engine, event, func, insert, select, text
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
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: a failed insert must not print a row (ids, codes) into the log.
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False}
        )

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
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (dict, list, tuple)):
        try:  # almost always no NUL anywhere: one C-speed look instead of a Python walk
            if b"\\u0000" not in orjson.dumps(value):
                return value
        except TypeError:  # orjson cannot say (non-str keys, huge ints…): walk it
            pass
        return _walk(value)
    return value


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_walk(k): _walk(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v) for v in value]
    return value


class _Columns:
    """A table's insert shape: every column (an autoincrement key left to the database) and the string lengths."""

    def __init__(self, table: Table):
        self.table = table
        self.names = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        self.lengths = {
            c.name: c.type.length for c in table.columns if isinstance(c.type, String) and c.type.length
        }

    def fit(self, data: dict[str, Any]) -> dict[str, Any]:
        """Every column (absent → NULL, as the ORM did), cleaned, strings cut to their column's length
        (PostgreSQL enforces it, SQLite not)."""
        out = {}
        for name in self.names:
            value = _clean(data.get(name))
            limit = self.lengths.get(name)
            if limit and isinstance(value, str):
                value = value[:limit]
            out[name] = value
        return out


HOOK_CALL = _Columns(HookCall.__table__)
ASSESSMENT = _Columns(AssessmentRow.__table__)
FEEDBACK = _Columns(FeedbackRow.__table__)


class _Job:
    """Rows of one hook call (or one feedback body), written together, and the future its caller awaits."""

    __slots__ = ("assessments", "call", "feedback", "future")

    def __init__(
        self, call: dict[str, Any] | None, assessments: list[dict[str, Any]], feedback: list[dict[str, Any]]
    ):
        self.call, self.assessments, self.feedback = call, assessments, feedback
        self.future: Future = Future()

    def rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        if self.call is None:
            return [], [], [FEEDBACK.fit(r) for r in self.feedback]
        call = HOOK_CALL.fit(self.call)
        return [call], [ASSESSMENT.fit(a | {"hook_call_id": call["id"]}) for a in self.assessments], []


def _settle(future: Future, error: BaseException | None = None) -> None:
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except InvalidStateError:  # the awaiting side gave up (cancelled); the rows are written all the same
        pass


class AuditStore:
    MAX_BATCH = 256  # hook calls per transaction at most

    def __init__(self, url: str):
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """alembic upgrade head, once, however many workers start at the same moment: on
        PostgreSQL behind a transaction-scoped advisory lock (every host), on SQLite behind an
        exclusive lock on a file beside the database (SQLite is one host); whoever comes
        second finds the schema at head and does nothing."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._sqlite_migration_lock():
            self._upgrade(cfg)

    @contextmanager
    def _sqlite_migration_lock(self):
        database = self.engine.url.database if self.dialect == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _upgrade(self, cfg: Config) -> None:
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

    # -- writing: hand rows to the writer thread, get a future resolved once they are committed --

    def submit_call(self, call: dict[str, Any], assessments: list[dict[str, Any]]) -> Future:
        """Queue one hook call with its assessments; the future resolves after their commit (or fails)."""
        return self._submit(_Job(call, assessments, []))

    def submit_feedback(self, rows: list[dict[str, Any]]) -> Future:
        return self._submit(_Job(None, [], rows))

    def add_call(self, call: dict[str, Any], assessments: list[dict[str, Any]]) -> None:
        """Blocking form of `submit_call` (not from the writer thread)."""
        self.submit_call(call, assessments).result()

    def add_feedback(self, rows: list[dict[str, Any]]) -> None:
        self.submit_feedback(rows).result()

    def _submit(self, job: _Job) -> Future:
        writer = self._writer
        if (
            writer is None or not writer.is_alive()
        ):  # first write, or a forked child (threads do not survive fork)
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._queue = queue.SimpleQueue()
                    self._writer = threading.Thread(
                        target=self._run, args=(self._queue,), name="audit-writer", daemon=True
                    )
                    self._writer.start()
        self._queue.put(job)
        return job.future

    def _run(self, jobs: queue.SimpleQueue) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < self.MAX_BATCH:  # whatever queued up while the last batch was committing
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    jobs.put(None)
                    break
                batch.append(job)
            try:
                self._write_batch(batch)
            except BaseException as exc:  # never lose the writer thread: fail the batch's futures instead
                for j in batch:
                    _settle(j.future, exc)

    def _write_batch(self, batch: list[_Job]) -> None:
        ready = []
        for job in batch:
            try:
                ready.append((job, job.rows()))
            except Exception as exc:
                _settle(job.future, exc)
        if not ready:
            return
        try:
            self._insert([rows for _, rows in ready])
        except Exception as exc:
            if len(ready) == 1:
                _settle(ready[0][0].future, exc)
                return
            for job, rows in ready:  # one bad record must not cost the others theirs
                try:
                    self._insert([rows])
                except Exception as one:
                    _settle(job.future, one)
                else:
                    _settle(job.future)
            return
        for job, _ in ready:
            _settle(job.future)

    def _insert(
        self, jobs: list[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]
    ) -> None:
        """One transaction: the hook calls, then their assessments, then feedback (executemany each)."""
        calls = [r for j in jobs for r in j[0]]
        assessments = [r for j in jobs for r in j[1]]
        feedback = [r for j in jobs for r in j[2]]
        with self.engine.begin() as conn:
            if calls:
                conn.execute(insert(HOOK_CALL.table), calls)
            if assessments:
                conn.execute(insert(ASSESSMENT.table), assessments)
            if feedback:
                conn.execute(insert(FEEDBACK.table), feedback)

    def known_cards(self, ids: list[str]) -> set[str]:
        """The ids among `ids` that are cards this service answered (assessment rows)."""
        if not ids:
            return set()
        with Session(self.engine) as session:
            return set(session.scalars(select(AssessmentRow.id).where(AssessmentRow.id.in_(ids))))

    def count(self, model: type[Base] = HookCall) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def dispose(self) -> None:
        writer = self._writer
        if writer is not None and writer.is_alive():
            self._queue.put(None)
            writer.join(timeout=10)
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
