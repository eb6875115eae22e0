"""A fresh database for a test: a SQLite file, or a schema of its own in IDDS_TEST_POSTGRES_URL (CI's)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from cds_service.audit.store import database_url
from cds_service.settings import Settings

PG_URL = os.environ.get("IDDS_TEST_POSTGRES_URL", "")


@contextmanager
def fresh_database(kind: str, tmp_path: Path):
    """Yields an IDDS_DATABASE_URL; kind is "sqlite" or "postgresql" (the caller skips without PG_URL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite'}"
        return
    schema = f"state_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(Settings(database_url=PG_URL)))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
