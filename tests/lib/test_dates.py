"""Dates in Japan (booking.lib.dates): the forms files and people give, plausible years, the written form."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.lib.dates import (
    COMPACT_DATE,
    ISO_DATE,
    JAPANESE_DATE,
    SLASHED_DATE,
    TOKYO,
    date_parts,
    japanese_date,
    parse_date,
    parse_month,
    plausible_day,
)

ALL_FORMS = (ISO_DATE, COMPACT_DATE, SLASHED_DATE, JAPANESE_DATE)


@pytest.mark.parametrize(
    ("text", "formats", "expected"),
    [
        ("1980-04-01", (ISO_DATE,), dt.date(1980, 4, 1)),
        ("１９８０－０４－０１", (ISO_DATE,), dt.date(1980, 4, 1)),  # full-width, as a person types it
        (" 1980-04-01 ", (ISO_DATE,), dt.date(1980, 4, 1)),
        ("19800401", (COMPACT_DATE,), dt.date(1980, 4, 1)),  # J-LIS fixed-width records
        ("1980/4/1", (SLASHED_DATE,), dt.date(1980, 4, 1)),  # a CSV saved by Excel
        ("1980/04/01", (SLASHED_DATE,), dt.date(1980, 4, 1)),
        ("1980年4月1日", (JAPANESE_DATE,), dt.date(1980, 4, 1)),  # written by hand
        ("１９８０年 ４月 １日", (JAPANESE_DATE,), dt.date(1980, 4, 1)),
        ("19800401", (COMPACT_DATE, ISO_DATE), dt.date(1980, 4, 1)),  # the first form that fits
        ("1980-04-01", (COMPACT_DATE, ISO_DATE), dt.date(1980, 4, 1)),
        ("19800401", (ISO_DATE,), None),  # a form the caller does not accept
        ("1980-4-1", (ISO_DATE,), None),  # ISO has two-digit months and days
        ("1980/04/01", (ISO_DATE, COMPACT_DATE), None),
        ("2026-02-30", ALL_FORMS, None),  # no such day
        ("2026-13-01", ALL_FORMS, None),
        ("令和8年4月1日", ALL_FORMS, None),  # Japanese eras are not read (yet): refused, not guessed
        ("", ALL_FORMS, None),
    ],
)
def test_parse_date(text: str, formats: tuple[str, ...], expected: dt.date | None) -> None:
    assert parse_date(text, formats) == expected


def test_date_parts_leaves_the_calendar_check_to_the_caller() -> None:
    assert date_parts("2026-02-30") == (2026, 2, 30)
    assert date_parts("20260230", (COMPACT_DATE,)) == (2026, 2, 30)
    assert date_parts("2026-02", (ISO_DATE,)) is None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2000, 1, 1), True),
        (dt.date(2099, 12, 31), True),
        (dt.date(2026, 12, 6), True),
        (dt.date(1999, 12, 31), False),  # a two-digit year typed as 1999 or the like
        (dt.date(2100, 1, 1), False),
        (dt.date(9999, 12, 31), False),  # would overflow date arithmetic
        (dt.date(1, 1, 1), False),
    ],
)
def test_plausible_day(day: dt.date, expected: bool) -> None:
    assert plausible_day(day) is expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 20), "2026年11月20日（金）"),
        (dt.date(2026, 12, 6), "2026年12月6日（日）"),  # no zero before one-digit months and days
        (dt.date(2027, 1, 4), "2027年1月4日（月）"),
    ],
)
def test_japanese_date(day: dt.date, expected: str) -> None:
    assert japanese_date(day) == expected


def test_tokyo_is_nine_hours_ahead_of_utc_all_year() -> None:
    for month in (1, 7):
        assert dt.datetime(2026, month, 1, tzinfo=TOKYO).utcoffset() == dt.timedelta(hours=9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12", dt.date(2026, 12, 1)),
        ("２０２６－１２", dt.date(2026, 12, 1)),  # full-width, as an IME types it
        (" 2026-01 ", dt.date(2026, 1, 1)),
        ("2000-01", dt.date(2000, 1, 1)),
        ("2099-12", dt.date(2099, 12, 1)),
        ("1999-12", None),  # outside the plausible years
        ("2100-01", None),
        ("0000-01", None),  # the year 0: no date at all, and no exception either
        ("9999-12", None),
        ("2026-00", None),
        ("2026-13", None),
        ("2026-1", None),  # two-digit months, as the pages' links write them
        ("2026-12-01", None),
        ("202612", None),
        ("٢٠٢٦-١٢", None),  # Arabic-Indic digits: int() would read them
        ("", None),
        ("x", None),
    ],
)
def test_parse_month(text: str, expected: dt.date | None) -> None:
    assert parse_month(text) == expected
