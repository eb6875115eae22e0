"""The audit writer's connection, kept from one transaction to the next.

Why: checked out of the pool for every hook call's transaction, a connection paid the
checkout, the reset on its return and, on PostgreSQL, the pool's pre-ping (a round trip to
the server) on every call. Kept, a transaction is only BEGIN … COMMIT. A transaction that
fails throws the connection away (no reset tried on what may be broken): the next one, the
writer's record-by-record retry, starts on a fresh connection the pool has pinged, so a
connection lost between calls (a database restarted) costs no record.
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
        self.conn: Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()  # the writer thread's, and a test's or close's now and then

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on the kept connection (opened first if there is none, or if it is a
        parent process's): committed when the block ends, rolled back and the connection thrown
        away when it raises."""
        with self._lock:
            conn = self.conn
            if conn is None or conn.closed or self._pid != os.getpid():
                conn, self._pid = self.engine.connect(), os.getpid()
                self.conn = conn
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                self._release(discard=True)
                raise

    def release(self) -> None:
        """Back to the pool (the store's close, before its engine is disposed)."""
        with self._lock:
            self._release()

    def _release(self, discard: bool = False) -> None:
        conn, self.conn = self.conn, None
        if conn is None or self._pid != os.getpid():  # a parent process's connection is left alone
            return
        try:
            if discard:
                conn.invalidate()
            conn.close()
        except Exception:  # already broken: the pool discards it
            log.debug("releasing the audit writer's connection failed", exc_info=True)
