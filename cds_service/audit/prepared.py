"""The audit writer's statements, compiled once for the engine's dialect, run on the DBAPI cursor.

Why: through `Connection.execute` each statement of each hook call paid SQLAlchemy's
per-execution work again (the statement built, its cache key walked, an execution context
made, every parameter processed through it): about three quarters of the writer's time for
a small call, more than SQLite's own insert and commit (measured in process).
Nothing else changes: the SQL is SQLAlchemy's, compiled for the dialect (SQLite, or
PostgreSQL through psycopg with its casts and paramstyle); every value still passes its
column type's own bind processor (JSON encoded with the engine's serializer, datetimes as
the dialect stores them); the cursor is the transaction's own connection's, so the rows are
written, and committed, in the one transaction `engine.begin()` opened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Row = dict[str, Any]
Processor = Callable[[Any], Any]


class Prepared:
    """One statement's SQL for a dialect and, for each bound name in order, its value's processor."""

    __slots__ = ("binds", "positional", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys or ()) or None)
        if not isinstance(compiled, SQLCompiler):  # DDL compiles otherwise; only DML is prepared
            raise TypeError(f"not a SQL statement: {type(statement).__name__}")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement with parameters rendered at execution cannot be prepared")
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        processors: dict[str, Processor | None] = {
            name: param.type.dialect_impl(dialect).bind_processor(dialect)
            for param, name in compiled.bind_names.items()
        }
        order = list(compiled.positiontup or ()) if self.positional else list(processors)
        escaped = compiled.escaped_bind_names
        # (the row's key, the name the SQL gives it, the value's processor or None)
        self.binds: list[tuple[str, str, Processor | None]] = [
            (name, escaped.get(name, name), processors[name]) for name in order
        ]

    def parameters(self, rows: list[Row]) -> list[Any]:
        """The rows as the DBAPI takes them: a tuple each (positional paramstyles) or a dict."""
        binds = self.binds
        if self.positional:
            return [tuple(r[k] if p is None else p(r[k]) for k, _, p in binds) for r in rows]
        return [{sql: (r[k] if p is None else p(r[k])) for k, sql, p in binds} for r in rows]

    def run(self, conn: Connection, rows: list[Row]) -> None:
        """executemany on the connection's own DBAPI cursor, inside its open transaction."""
        if not rows:
            return
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(self.sql, self.parameters(rows))
        finally:
            cursor.close()


def prepared_insert(table: Table, names: Sequence[str], dialect: Dialect) -> Prepared:
    """`INSERT INTO table (names…) VALUES (…)`, as `Connection.execute(insert(table), rows)` compiles it."""
    return Prepared(insert(table), dialect, names)
