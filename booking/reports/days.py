"""The report calendar: the call center's operating days (only these get a daily report), when a day's or a
month's report is due, and the dates and months a report page is asked for."""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache

import holidays
from django.utils import translation
from django.utils.translation import gettext as _

from booking.lib.dates import TOKYO, parse_date, plausible_day
from booking.lib.dates import parse_month as first_of_month
from booking.rules import schedule

# The daily report lists the bookings of every calendar day up to this many operating days ahead.
AHEAD_OPERATING_DAYS = 3
# A day's report is due from this time (JST), when the call center has closed; the beat runs then.
DAILY_REPORT_TIME = dt.time(18, 0)


def is_operating_day(day: dt.date) -> bool:
    """The call center's working days (Kyoto's spec): Monday to Friday, not a national holiday, not the
    New Year break (29 Dec – 3 Jan). Only these days get a daily report."""
    return day.weekday() < 5 and not schedule.holiday_name(day) and not schedule.is_new_year_break(day)


@lru_cache(maxsize=16)
def _holiday_names(year: int, language: str) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year, language=language)


def day_note(day: dt.date) -> str:
    """Why a day has no reception beyond the weekend: the holiday's name (in Japanese unless the page is in
    English), or the New Year break; else empty."""
    if schedule.holiday_name(day):  # the booking calendar's own test, so report and calendar agree
        language = "en_US" if (translation.get_language() or "ja").startswith("en") else "ja"
        return str(_holiday_names(day.year, language).get(day) or schedule.holiday_name(day))
    return _("年末年始") if schedule.is_new_year_break(day) else ""


def following_days(day: dt.date, operating_days: int = AHEAD_OPERATING_DAYS) -> list[dt.date]:
    """Every calendar day after `day` up to its n-th next operating day: some places open at weekends,
    so a Friday's report also shows Saturday's and Sunday's bookings."""
    days: list[dt.date] = []
    found = 0
    current = day
    while found < operating_days:
        current += dt.timedelta(days=1)
        days.append(current)
        found += is_operating_day(current)
    return days


def start_of(day: dt.date) -> dt.datetime:
    """Midnight in Tokyo: where a local day's records begin, whatever the server's time zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=TOKYO)


def month_days(year: int, month: int) -> list[dt.date]:
    return [dt.date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]


def next_month(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1)


def previous_month(now: dt.datetime) -> tuple[int, int]:
    first = now.astimezone(TOKYO).date().replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


def latest_due_day(now: dt.datetime) -> dt.date:
    """The most recent day whose daily report is due: today from DAILY_REPORT_TIME, before it yesterday.

    A retry that runs after midnight therefore still reports the day it was started for."""
    local = now.astimezone(TOKYO)
    return local.date() if local.time() >= DAILY_REPORT_TIME else local.date() - dt.timedelta(days=1)


def parse_day(text: str) -> dt.date | None:
    """A YYYY-MM-DD date from a query string, or None (any other form, no such day, an implausible year)."""
    day = parse_date(text)
    return day if day is not None and plausible_day(day) else None


def parse_month(text: str) -> tuple[int, int] | None:
    """A YYYY-MM month from a query string as (year, month), or None (as `booking.lib.dates.parse_month`)."""
    first = first_of_month(text)
    return None if first is None else (first.year, first.month)
