"""The audit writer's connection, kept from one transaction to the next, and its SQLite checkpoints.

Why kept: checked out of the pool for every hook call's transaction, a connection paid the
checkout, the reset on its return and, on PostgreSQL, the pool's pre-ping (a round trip to
the server) on every call. Kept, a transaction is only BEGIN … COMMIT. A transaction that
fails throws the connection away (no reset tried on what may be broken): the next one, the
writer's record-by-record retry, starts on a fresh connection the pool has pinged, so a
connection lost between calls (a database restarted) costs no record.

Why its own checkpoints (SQLite): in WAL mode SQLite copies the log back into the database
file (a checkpoint, with its fsyncs) inside whichever COMMIT takes the log past 1,000 pages:
every forty-odd hook calls at 30 resources one call's answer waited some 4 ms for it (the
p99 of the writer's commit, measured in process). On the kept connection automatic checkpoints
are off and the writer runs the same PASSIVE checkpoint itself after the answers of its batch
have been released (`checkpoint`). Nothing about a commit changes: each record is committed to
the log before its answer leaves, as before; the checkpoint only moves committed pages. The
pool's other connections keep SQLite's automatic checkpoints, and the kept connection, with
its changed setting, is closed rather than handed back to the pool.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("idds.audit")


class KeptConnection:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.conn: Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()  # the writer thread's, and a test's or close's now and then

    def _open(self) -> Connection:
        conn = self.engine.connect()
        if self.sqlite:
            self._pragma(conn, "PRAGMA wal_autocheckpoint=0")
        return conn

    @staticmethod
    def _pragma(conn: Connection, sql: str) -> None:
        """On the DBAPI connection, outside any transaction (SQLite's PRAGMAs begin none)."""
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql)
            cursor.fetchall()
        finally:
            cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the kept connection (opened first if there is none, or if it is a
        parent process's): committed when the block ends, rolled back and the connection thrown
        away when it raises."""
        with self._lock:
            conn = self.conn
            if conn is None or conn.closed or self._pid != os.getpid():
                conn, self._pid = self._open(), os.getpid()
                self.conn = conn
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                self._release(discard=True)
                raise

    def checkpoint(self) -> None:
        """SQLite: a PASSIVE checkpoint (what SQLite runs inside a commit, without waiting for
        readers or other writers). A failure is logged and leaves the log to the next one."""
        if not self.sqlite:
            return
        with self._lock:
            conn = self.conn
            if conn is None or conn.closed or self._pid != os.getpid():
                return
            try:
                self._pragma(conn, "PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:
                log.exception("audit trail checkpoint failed; the log is kept for the next one")
                self._release(discard=True)

    def release(self, timeout: float = 5.0) -> None:
        """Closed (the store's close, before its engine is disposed). A writer still inside a
        transaction past `timeout` (its thread did not stop in time) keeps it: shutdown never hangs."""
        if not self._lock.acquire(timeout=timeout):
            log.warning("the audit writer is still writing; its connection is left to it")
            return
        try:
            self._release()
        finally:
            self._lock.release()

    def _release(self, discard: bool = False) -> None:
        conn, self.conn = self.conn, None
        if conn is None or self._pid != os.getpid():  # a parent process's connection is left alone
            return
        try:
            if discard or self.sqlite:  # broken, or with its own checkpoint setting: not for the pool
                conn.invalidate()
            conn.close()
        except Exception:  # already broken: the pool discards it
            log.debug("releasing the audit writer's connection failed", exc_info=True)
