"""Alembic environment for the audit trail.

At start-up the service hands over its own connection (config.attributes["connection"]);
from the command line (`alembic upgrade head` in the project root) the URL comes
from IDDS_DATABASE_URL like the service's.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

import cds_service.state.models  # noqa: F401  (the shared-state tables, revision 0002)
from cds_service.audit.db import database_url
from cds_service.audit.models import Base
from cds_service.settings import Settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=database_url(Settings()), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        engine = create_engine(database_url(Settings()))
        with engine.begin() as connection:
            _run(connection)
        engine.dispose()
