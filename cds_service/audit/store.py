"""Where the audit trail is written: SQLite by default, PostgreSQL when configured, one code path.

One writer thread per store (per process and database) owns the writes: each
call hands its rows over and gets a future; the writer takes whatever has
queued up meanwhile and writes it in one transaction with SQLAlchemy Core
`insert()` statements, compiled once and run with executemany on the transaction's DBAPI
cursor (`prepared`), then resolves every future. Alone, a call is one
short transaction; under load, the calls that arrived while the previous
batch was committing share the next one. A batch that fails is retried record
by record, so one bad record costs no other its place. A hook call's job can
carry the shared state's upserts of its cards' checklist links (`extra`):
they are executed in the same transaction, so a call pays one commit; if that
transaction fails, the record is written without them and they are tried on
their own (a fault there loses the links, never the record). The schema is Alembic's
(`upgrade head` at start-up), so a deployed database follows the code without
a manual step.

The app's lifespan closes the store at shutdown (`close`): the writer thread
finishes what was queued and stops, and the engine's pool is disposed, so no
connection or thread outlives the app. A closed store used again (a second
start in the same process, a test reading the rows) reconnects and starts a
new writer on first use: SQLAlchemy's `Engine.dispose` leaves the engine usable.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from ..settings import Settings
from .db import DEFAULT_SQLITE, database_url, make_engine
from .kept import KeptConnection
from .models import AssessmentRow, Base, HookCall
from .prepared import Prepared, prepared_insert
from .rows import ASSESSMENT, FEEDBACK, HOOK_CALL, Extra, Job, JobRows, Row, settle

__all__ = ["DEFAULT_SQLITE", "AuditStore", "database_url", "store_for"]

log = logging.getLogger("idds.audit")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class AuditStore:
    MAX_BATCH = 256  # hook calls per transaction at most
    # SQLite checkpoints by the writer (audit/kept.py), counted in records written since the last:
    # after the first number when no call is queued (about as often as SQLite's own at 1,000 log
    # pages: every forty-odd calls at 30 resources), after the second whatever is queued (the log
    # stays within a few times SQLite's own bound under a load that never lets the writer idle).
    CHECKPOINT_EVERY, CHECKPOINT_MOST = 48, 256

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        dialect = self.engine.dialect
        self._inserts = tuple(
            prepared_insert(c.table, c.names, dialect) for c in (HOOK_CALL, ASSESSMENT, FEEDBACK)
        )
        self._statements: dict[TextClause, Prepared] = {}
        self._kept = KeptConnection(self.engine)  # the writer's, from one transaction to the next
        self._since_checkpoint = 0

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
    def _sqlite_migration_lock(self) -> Iterator[None]:
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

    def submit_call(self, call: Row, assessments: list[Row], extra: Extra | None = None) -> Future[None]:
        """Queue one hook call with its assessments (and upserts to run in the same transaction);
        the future resolves after their commit (or fails)."""
        return self._submit(Job(call, assessments, [], extra))

    def submit_feedback(self, rows: list[Row]) -> Future[None]:
        return self._submit(Job(None, [], rows))

    def _submit(self, job: Job) -> Future[None]:
        # Under the lock, so `close` never stops a writer between this check and the put: a job
        # is either queued before the writer's stop mark (and written) or meets a new writer.
        with self._writer_lock:
            writer = self._writer
            if writer is None or not writer.is_alive():  # first write, after close, or a forked child
                self._queue = queue.SimpleQueue()
                self._writer = threading.Thread(
                    target=self._run, args=(self._queue,), name="audit-writer", daemon=True
                )
                self._writer.start()
            self._queue.put(job)
        return job.future

    def _run(self, jobs: queue.SimpleQueue[Job | None]) -> None:
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
                    settle(j.future, exc)
            self._since_checkpoint += len(batch)
            if self._since_checkpoint >= self.CHECKPOINT_MOST or (
                self._since_checkpoint >= self.CHECKPOINT_EVERY and jobs.empty()
            ):  # after the batch's answers are released; while nobody waits, unless the log grows long
                self._since_checkpoint = 0
                self._kept.checkpoint()

    def _write_batch(self, batch: list[Job]) -> None:
        ready: list[tuple[Job, JobRows]] = []
        for job in batch:
            try:
                ready.append((job, job.rows()))
            except Exception as exc:
                self._write_links(job)  # the record cannot be written; its links still can
                settle(job.future, exc)
        if not ready:
            return
        try:
            self._insert([rows for _, rows in ready], [u for job, _ in ready for u in job.extra] or None)
        except Exception:
            for job, rows in ready:  # one bad record must not cost the others theirs
                self._write_one(job, rows)
            return
        for job, _ in ready:
            settle(job.future)

    def _write_one(self, job: Job, rows: JobRows) -> None:
        """One record alone; if it fails with its extra upserts, the record without them, and they on
        their own, as they were before they rode with it (a links fault never costs the record, nor a
        record fault the links); the future last, so the answer leaves after both."""
        try:
            self._insert([rows], job.extra or None)
        except Exception as exc:
            if not job.extra:
                settle(job.future, exc)
                return
        else:
            settle(job.future)
            return
        error: BaseException | None = None
        try:
            self._insert([rows])
        except Exception as exc:
            error = exc
        self._write_links(job)
        settle(job.future, error)

    def _write_links(self, job: Job) -> None:
        if job.extra:
            try:
                self._insert([], job.extra)
            except Exception:
                log.exception("the checklist links of a hook call could not be kept")

    def _insert(self, jobs: list[JobRows], extra: Extra | None = None) -> None:
        """One transaction: the hook calls, then their assessments, then feedback (executemany each),
        then the extra upserts."""
        calls = [r for j in jobs for r in j[0]]
        assessments = [r for j in jobs for r in j[1]]
        feedback = [r for j in jobs for r in j[2]]
        with self._kept.transaction() as conn:
            self._inserts[0].run(conn, calls)
            self._inserts[1].run(conn, assessments)
            self._inserts[2].run(conn, feedback)
            for statement, rows in extra or ():
                self._prepared(statement).run(conn, rows)

    def _prepared(self, statement: TextClause) -> Prepared:
        """The extra upserts' statements (a few, built once by the shared state), compiled once each."""
        prepared = self._statements.get(statement)
        if prepared is None:
            if len(self._statements) >= 64:  # never more than a few; never unbounded either
                self._statements.clear()
            prepared = self._statements[statement] = Prepared(statement, self.engine.dialect)
        return prepared

    def known_cards(self, ids: list[str]) -> set[str]:
        """The ids among `ids` that are cards this service answered (assessment rows)."""
        if not ids:
            return set()
        with Session(self.engine) as session:
            return set(session.scalars(select(AssessmentRow.id).where(AssessmentRow.id.in_(ids))))

    def count(self, model: type[Base] = HookCall) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    @property
    def writing(self) -> bool:
        """A writer thread is running (it starts with the first write after opening or closing)."""
        writer = self._writer
        return writer is not None and writer.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Shutdown: the writer writes what is queued and stops; the pool's connections are closed."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
            if writer is not None and writer.is_alive():
                self._queue.put(None)
        if writer is not None:
            writer.join(timeout=timeout)
        self._kept.release()
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
