"""Which database the audit trail (and the shared state) lives in, and its engine.

SQLite by default (a file under var/), PostgreSQL through psycopg 3 when
IDDS_DATABASE_URL says so; one sync SQLAlchemy engine keeps both behind the
same few lines of the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from ..settings import Settings

ROOT = Path(__file__).resolve().parents[2]
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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL: readers never wait for the writer."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def json_text(value: Any) -> str:
    """JSON columns' text, by orjson: the audit writer encodes a call's request summary, its
    criteria and its links' assessments on every call, and the standard library took about a
    third of the writer's statement time for them. The same JSON (read back alike); what orjson
    will not encode (an integer past 64 bits, a key that is not a string…) the standard library
    still does, as before."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str) -> Engine:
    """hide_parameters everywhere: a failed insert must not print a row (ids, codes) into the log.
    JSON columns written by `json_text`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            json_serializer=json_text,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        hide_parameters=True,
        json_serializer=json_text,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
    )
