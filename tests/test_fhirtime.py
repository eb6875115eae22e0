"""FHIR date and dateTime reading (cds_service/fhirtime.py): partial dates, time zones, calendar months.

A date is its first instant (UTC); where a partial date could cover several days, `last_day`
reads it at the latest one, so a period is never credited with time it may not cover.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cds_service import fhirtime

# -- parse: every FHIR precision, and what is not a date ---------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-06", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-14", datetime(2026, 6, 14, tzinfo=UTC)),
        ("2026-06-14T09:30:00Z", datetime(2026, 6, 14, 9, 30, tzinfo=UTC)),
        ("2026-06-14T09:30:00.250Z", datetime(2026, 6, 14, 9, 30, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_each_fhir_precision_reads_as_its_first_instant_in_utc(value, expected):
    assert fhirtime.parse(value) == expected


def test_an_offset_is_kept_so_the_instant_is_the_one_written():
    """23:30 in New York on the 14th is 03:30 UTC on the 15th: the same instant, not the same day."""
    dt = fhirtime.parse("2026-06-14T23:30:00-04:00")
    assert dt == datetime(2026, 6, 15, 3, 30, tzinfo=UTC)
    assert dt.utcoffset() == timedelta(hours=-4)


def test_a_datetime_without_a_zone_is_read_as_utc_not_as_the_servers_local_time():
    assert fhirtime.parse("2026-06-14T09:30:00") == datetime(2026, 6, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    ["", "26", "2026-13", "2026-02-30", "14/06/2026", "2026-06-14T25:00:00Z", "yesterday", "2026-6-1"],
)
def test_what_is_not_a_fhir_date_reads_as_none(value):
    assert fhirtime.parse(value) is None


@pytest.mark.parametrize("value", [None, 20260614, 2026.0, ["2026-06-14"], {"start": "2026-06-14"}])
def test_a_value_that_is_not_a_string_reads_as_none(value):
    assert fhirtime.parse(value) is None and fhirtime.parse_date(value) is None


def test_parse_date_is_the_day_as_written():
    assert fhirtime.parse_date("2026-06") == date(2026, 6, 1)
    assert fhirtime.parse_date("2026-06-14T09:30:00+02:00") == date(2026, 6, 14)


# -- last_day: a partial date read at the latest day it may mean -----------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", date(2026, 12, 31)),
        ("2026-06", date(2026, 6, 30)),
        ("2026-02", date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 29)),  # a leap year
        ("2026-06-14", date(2026, 6, 14)),
        ("2026-06-14T23:59:00Z", date(2026, 6, 14)),
    ],
)
def test_last_day_of_a_partial_date_is_the_end_of_what_it_covers(value, expected):
    assert fhirtime.last_day(value) == expected


def test_last_day_of_something_unreadable_is_none():
    assert fhirtime.last_day("2026-13") is None and fhirtime.last_day(None) is None


def test_end_of_day_is_the_last_instant_of_that_day_in_utc():
    end = fhirtime.end_of_day(date(2026, 6, 14))
    assert end.tzinfo is UTC and end.date() == date(2026, 6, 14)
    assert end + timedelta(microseconds=1) == datetime(2026, 6, 15, tzinfo=UTC)


# -- calendar months ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # the day clamped, not rolled into March
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),  # across a year
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 6, 14), 0, date(2026, 6, 14)),
    ],
)
def test_add_months_counts_calendar_months_and_clamps_the_day(start, months, expected):
    assert fhirtime.add_months(start, months) == expected


def test_six_months_from_new_year_is_the_days_to_the_first_of_july():
    assert fhirtime.months_in_days(date(2026, 1, 1), 6) == 181.0


def test_a_fraction_of_a_month_is_that_fraction_of_the_month_it_falls_in():
    # 2026-01-01 + 1 month = 2026-02-01; half of February (28 days) is 14 more.
    assert fhirtime.months_in_days(date(2026, 1, 1), 1.5) == 31 + 14


def test_a_negative_duration_in_months_is_refused():
    with pytest.raises(ValueError):
        fhirtime.months_in_days(date(2026, 1, 1), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 9, 14), date(2026, 12, 14), 3.0),
        (date(2026, 1, 31), date(2026, 2, 28), 1.0),  # a clamped month is a whole month
        (date(2026, 1, 1), date(2026, 1, 1), 0.0),
        (date(2026, 2, 1), date(2026, 2, 15), 0.5),
    ],
)
def test_months_between_counts_whole_calendar_months_then_the_fraction(start, end, expected):
    assert fhirtime.months_between(start, end) == pytest.approx(expected)


def test_months_between_is_the_inverse_of_months_in_days():
    start = date(2026, 3, 10)
    for months in (1, 2.5, 6, 13.25):
        end = start + timedelta(days=fhirtime.months_in_days(start, months))
        assert fhirtime.months_between(start, end) == pytest.approx(months, abs=1 / 31)


def test_months_between_refuses_an_end_before_its_start():
    with pytest.raises(ValueError):
        fhirtime.months_between(date(2026, 6, 14), date(2026, 6, 13))


@pytest.mark.parametrize(
    ("on", "expected"),
    [(date(2026, 3, 1), 57), (date(2026, 3, 2), 58), (date(2027, 3, 1), 58)],
)
def test_whole_years_turn_on_the_birthday_itself(on, expected):
    assert fhirtime.whole_years(date(1968, 3, 2), on) == expected


def test_a_leap_day_birthday_is_a_year_older_only_from_the_first_of_march_in_other_years():
    assert fhirtime.whole_years(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert fhirtime.whole_years(date(2008, 2, 29), date(2026, 3, 1)) == 18


# -- effective: when a resource happened ---------------------------------------------------------


def test_effective_reads_the_instant_the_resource_type_uses():
    assert fhirtime.effective({"effectiveDateTime": "2026-06-14"}) == datetime(2026, 6, 14, tzinfo=UTC)
    assert fhirtime.effective({"performedDateTime": "2026-05"}) == datetime(2026, 5, 1, tzinfo=UTC)
    assert fhirtime.effective({"occurrenceDateTime": "2026"}) == datetime(2026, 1, 1, tzinfo=UTC)
    assert fhirtime.effective({"issued": "2026-06-14T08:00:00+01:00"}) == datetime(2026, 6, 14, 7, tzinfo=UTC)


def test_effective_of_a_period_is_its_start_or_else_its_end():
    assert fhirtime.effective({"performedPeriod": {"start": "2026-04-01", "end": "2026-04-03"}}) == datetime(
        2026, 4, 1, tzinfo=UTC
    )
    assert fhirtime.effective({"effectivePeriod": {"end": "2026-04-03"}}) == datetime(2026, 4, 3, tzinfo=UTC)


def test_effective_with_no_date_or_an_unreadable_one_is_none():
    assert fhirtime.effective({"resourceType": "Observation"}) is None
    assert fhirtime.effective({"effectiveDateTime": "last spring"}) is None
    assert fhirtime.effective({"performedPeriod": "2026-04-01"}) is None


def test_an_instant_field_wins_over_a_period():
    found = fhirtime.effective(
        {"effectiveDateTime": "2026-06-14", "effectivePeriod": {"start": "2020-01-01"}}
    )
    assert found == datetime(2026, 6, 14, tzinfo=UTC)


def test_instants_in_different_zones_compare_as_instants():
    a = fhirtime.parse("2026-06-14T23:30:00-04:00")
    b = fhirtime.parse("2026-06-15T01:00:00Z")
    assert a is not None and b is not None and a > b
    assert a.astimezone(UTC).date() == date(2026, 6, 15)
