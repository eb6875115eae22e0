"""FHIR date/dateTime parsing without model validation.

Extractors compare many timestamps; parsing the strings directly keeps that
cheap and gives one rule for partial dates (a date is its first instant, UTC).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any


def parse(value: Any) -> datetime | None:
    """A FHIR date or dateTime string as an aware datetime; None when unreadable."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    return _parse(value)


@lru_cache(maxsize=65_536)
def _parse(value: str) -> datetime | None:
    """Remembered by the string (bounded): every policy and date of a request reads the same
    timestamps, and the same chart comes with each order-select of a visit. The answer is an
    immutable datetime, so sharing it is safe."""
    try:
        if len(value) == 4:
            return datetime(int(value), 1, 1, tzinfo=UTC)
        if len(value) == 7:
            return datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    dt = parse(value)
    return dt.date() if dt else None


def last_day(value: Any) -> date | None:
    """The last day a FHIR date covers: "2026-06" is 2026-06-30, "2026" is 2026-12-31.

    A period's start read at its latest day and its end at its earliest never
    credits a partial date with time it may not cover.
    """
    first = parse_date(value)
    if first is None or not isinstance(value, str):
        return first
    if len(value) == 4:
        return date(first.year, 12, 31)
    if len(value) == 7:
        return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
    return first


def end_of_day(d: date) -> datetime:
    return datetime.combine(d, time.max, UTC)


def add_months(d: date, months: int) -> date:
    """Calendar months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def months_in_days(start: date, months: float) -> float:
    """Days from `start` to `months` calendar months later (2026-01-01 + 6 = 181 days, to 2026-07-01).

    A fraction of a month is that fraction of the calendar month it falls in
    (the month after the whole ones), so no average month length is assumed.
    """
    whole = int(months)
    if whole < 0 or months - whole < 0:
        raise ValueError("a duration in months must not be negative")
    end = add_months(start, whole)
    days = float((end - start).days)
    if months > whole:
        days += (months - whole) * (add_months(start, whole + 1) - end).days
    return days


def months_between(start: date, end: date) -> float:
    """Calendar months from `start` to `end` (the inverse of months_in_days): whole months,
    then the fraction of the month the rest falls in. 2026-09-14 → 2026-12-14 is 3.0."""
    if end < start:
        raise ValueError("end before start")
    whole = 0
    while add_months(start, whole + 1) <= end:
        whole += 1
    base, nxt = add_months(start, whole), add_months(start, whole + 1)
    return whole + (end - base).days / (nxt - base).days


def whole_years(born: date, on: date) -> int:
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def effective(resource: dict[str, Any]) -> datetime | None:
    """When an Observation/Procedure/etc. happened: the instant, or a period's start."""
    for key in ("effectiveDateTime", "performedDateTime", "occurrenceDateTime", "effectiveInstant", "issued"):
        if key in resource:
            return parse(resource[key])
    for key in ("effectivePeriod", "performedPeriod", "occurrencePeriod"):
        period = resource.get(key)
        if isinstance(period, dict):
            return parse(period.get("start")) or parse(period.get("end"))
    return None


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
