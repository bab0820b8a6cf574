"""The booking window and the change/cancel deadline (BK-05, BK-07), as pure functions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from booking.lib.dates import TOKYO

if TYPE_CHECKING:
    from booking.models import BookingSettings, Place


def deadline_for(starts_at: dt.datetime, rules: BookingSettings) -> dt.datetime:
    """The last moment to book, change or cancel a slot: e.g. 17:00 two days before its day."""
    day = starts_at.astimezone(TOKYO).date() - dt.timedelta(days=rules.deadline_days_before)
    return dt.datetime.combine(day, rules.deadline_time, tzinfo=TOKYO)


def first_bookable_day(now: dt.datetime, rules: BookingSettings, place: Place | None = None) -> dt.date:
    earliest = now.astimezone(TOKYO).date() + dt.timedelta(days=rules.first_days_ahead)
    if place is not None and place.bookable_from and place.bookable_from > earliest:
        return place.bookable_from
    return earliest


def last_bookable_day(now: dt.datetime, rules: BookingSettings, place: Place | None = None) -> dt.date:
    """The last day a resident (or an operator, or the API) can book now: the earlier of the fixed
    bookable-until date (the place's, else the municipality's) and the rolling horizon, today + N days.
    The one place the window's end is computed: pages, the calendar, the hold and do_book all ask here."""
    horizon = now.astimezone(TOKYO).date() + dt.timedelta(days=rules.booking_horizon_days)
    fixed = (place.bookable_until if place is not None else None) or rules.bookable_until
    return min(fixed, horizon) if fixed else horizon


def within_window(starts_at: dt.datetime, now: dt.datetime, rules: BookingSettings, place: Place) -> bool:
    """A new booking (or a move to this slot) is allowed: inside the window and before the slot's deadline."""
    day = starts_at.astimezone(TOKYO).date()
    return (
        starts_at > now
        and first_bookable_day(now, rules, place) <= day <= last_bookable_day(now, rules, place)
        and now < deadline_for(starts_at, rules)
    )


def can_change(
    starts_at: dt.datetime, now: dt.datetime, rules: BookingSettings, *, by_operator: bool = False
) -> bool:
    """Residents change or cancel until the deadline; after it they are told to phone, so a call-center
    operator may still cancel or move the booking until it starts (a new time still obeys the window)."""
    return now < (starts_at if by_operator else deadline_for(starts_at, rules))
