"""When a place offers a service: the opening rules as pure functions (no writes).

A day is closed on Japan's national holidays (the `holidays` package), over the New Year (29 Dec – 3 Jan),
on the tenant's closed days, and outside the place's start and end dates (BK-12). On an open day each
opening pattern whose weekdays include it gives slots from its opening time to its last reception,
one every `slot_minutes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import holidays

from booking.lib.dates import TOKYO

if TYPE_CHECKING:
    from booking.models import OpeningPattern, Place


class ClosedReason:
    HOLIDAY = "holiday"
    NEW_YEAR = "new_year"
    CLOSED_DAY = "closed_day"
    NOT_STARTED = "not_started"
    ENDED = "ended"


@dataclass(frozen=True)
class SlotTime:
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int


@lru_cache(maxsize=16)
def _japan_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def holiday_name(day: dt.date) -> str | None:
    name = _japan_holidays(day.year).get(day)
    return str(name) if name else None


def is_new_year_break(day: dt.date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def closed_reason(day: dt.date, place: Place, closed_days: set[dt.date]) -> str | None:
    """Why `place` takes no bookings on `day`, or None when it is open (subject to its patterns).

    `closed_days` are the tenant's closed days that apply to this place (its own and the all-place ones).
    """
    if place.starts_on and day < place.starts_on:
        return ClosedReason.NOT_STARTED
    if place.ends_on and day > place.ends_on:
        return ClosedReason.ENDED
    if holiday_name(day):
        return ClosedReason.HOLIDAY
    if is_new_year_break(day):
        return ClosedReason.NEW_YEAR
    if day in closed_days:
        return ClosedReason.CLOSED_DAY
    return None


def pattern_slots(pattern: OpeningPattern, day: dt.date) -> list[SlotTime]:
    if day.weekday() not in pattern.weekdays:
        return []
    step = dt.timedelta(minutes=pattern.slot_minutes)
    start = dt.datetime.combine(day, pattern.opens_at, tzinfo=TOKYO)
    last = dt.datetime.combine(day, pattern.last_reception_at, tzinfo=TOKYO)
    close = dt.datetime.combine(day, pattern.closes_at, tzinfo=TOKYO)
    slots = []
    while start <= last:
        slots.append(SlotTime(starts_at=start, ends_at=min(start + step, close), capacity=pattern.capacity))
        start += step
    return slots


def day_slots(
    place: Place, patterns: Iterable[OpeningPattern], day: dt.date, closed_days: set[dt.date]
) -> list[SlotTime]:
    """The slots of one place and service on one day (patterns already filtered to that place and service)."""
    if closed_reason(day, place, closed_days):
        return []
    by_start: dict[dt.datetime, SlotTime] = {}
    for pattern in patterns:
        for slot in pattern_slots(pattern, day):
            by_start.setdefault(slot.starts_at, slot)
    return [by_start[start] for start in sorted(by_start)]
