"""Rows as the database takes them: every column present, NUL stripped, strings cut to fit.

A `Job` is the rows of one hook call (or one feedback body) with the future
its caller awaits; the store's writer thread writes jobs in batches.
"""

from __future__ import annotations

from concurrent.futures import Future, InvalidStateError
from typing import Any

import orjson
from sqlalchemy import String, Table
from sqlalchemy.sql.elements import TextClause

from .models import AssessmentRow, FeedbackRow, HookCall

Row = dict[str, Any]
# A job's (hook_call rows, assessment rows, feedback rows), ready to insert.
JobRows = tuple[list[Row], list[Row], list[Row]]
# Statements the shared state hands over to be executed in the same transaction (the cards' links).
Extra = list[tuple[TextClause, list[Row]]]


def clean(value: Any) -> Any:
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


class Columns:
    """A table's insert shape: every column (an autoincrement key left to the database) and the string lengths."""

    def __init__(self, table: Table):
        self.table = table
        self.names = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        self.lengths: dict[str, int] = {
            c.name: c.type.length for c in table.columns if isinstance(c.type, String) and c.type.length
        }

    def fit(self, data: Row) -> Row:
        """Every column (absent → NULL, as the ORM did), cleaned, strings cut to their column's length
        (PostgreSQL enforces it, SQLite not)."""
        out = {}
        for name in self.names:
            value = clean(data.get(name))
            limit = self.lengths.get(name)
            if limit and isinstance(value, str):
                value = value[:limit]
            out[name] = value
        return out


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


HOOK_CALL = Columns(_table(HookCall))
ASSESSMENT = Columns(_table(AssessmentRow))
FEEDBACK = Columns(_table(FeedbackRow))


class Job:
    """Rows of one hook call (or one feedback body), written together, and the future its caller awaits."""

    __slots__ = ("assessments", "call", "extra", "feedback", "future")

    def __init__(
        self, call: Row | None, assessments: list[Row], feedback: list[Row], extra: Extra | None = None
    ):
        self.call, self.assessments, self.feedback = call, assessments, feedback
        self.extra: Extra = extra or []
        self.future: Future[None] = Future()

    def rows(self) -> JobRows:
        if self.call is None:
            return [], [], [FEEDBACK.fit(r) for r in self.feedback]
        call = HOOK_CALL.fit(self.call)
        return [call], [ASSESSMENT.fit(a | {"hook_call_id": call["id"]}) for a in self.assessments], []


def settle(future: Future[None], error: BaseException | None = None) -> None:
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except InvalidStateError:  # the awaiting side gave up (cancelled); the rows are written all the same
        pass
