"""Closed days (BK-12): one place or all of them; a day with confirmed bookings is refused unless staff say
they will contact the people affected, who are then listed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.configuration.changes import (
    AffectedBooking,
    SettingsInvalid,
    SettingsRefused,
    affected_bookings,
    day_range,
    tokyo_today,
)
from booking.lib.dates import plausible_day
from booking.models import Booking, ClosedDay, Place


@dataclass(frozen=True)
class ClosedDayInput:
    date: dt.date
    place: Place | None
    reason: str


def closed_day_problems(data: ClosedDayInput, today: dt.date) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not plausible_day(data.date):
        problems["date"] = _("日付は2000年から2099年の間で入力してください。")
    elif data.date < today:
        problems["date"] = _("過去の日付は休止日にできません。")
    elif ClosedDay.objects.filter(date=data.date, place__isnull=True).exists():
        problems["date"] = _("この日は既に全ての交付場所の休止日です。")
    elif data.place is not None and ClosedDay.objects.filter(date=data.date, place=data.place).exists():
        problems["date"] = _("この日は既にこの交付場所の休止日です。")
    if len(data.reason) > 200:
        problems["reason"] = _("200文字以内で入力してください。")
    return problems


def bookings_on(day: dt.date, place: Place | None) -> list[AffectedBooking]:
    """Confirmed bookings on `day` at `place` (at every place when None)."""
    bookings = Booking.objects.filter(
        status=Booking.Status.CONFIRMED, slot__starts_at__gte=day_range(day, day)[0]
    ).filter(slot__starts_at__lt=day_range(day, day)[1])
    if place is not None:
        bookings = bookings.filter(slot__place=place)
    return affected_bookings(bookings)


def do_add_closed_day(
    actor: oplog.Actor,
    data: ClosedDayInput,
    *,
    despite_bookings: bool = False,
    now: dt.datetime | None = None,
) -> tuple[ClosedDay, list[AffectedBooking]]:
    """Close one place or all of them on a day. Confirmed bookings that day are refused (and listed)
    unless `despite_bookings`, when the day is closed and the bookings returned so staff can contact them.
    """
    now = now or timezone.now()
    problems = closed_day_problems(data, tokyo_today(now))
    if problems:
        raise SettingsInvalid(problems)
    try:
        with transaction.atomic():
            affected = bookings_on(data.date, data.place)
            if affected and not despite_bookings:
                raise SettingsRefused(
                    _(
                        "この日に予約があります。先に予約を別の日に変更するか、"
                        "「予約があっても休止日にする」を選んで登録し、予約者に連絡してください。"
                    ),
                    bookings=affected,
                )
            closed = ClosedDay.objects.create(date=data.date, place=data.place, reason=data.reason)
            oplog.record(
                actor,
                "settings.closed_day.create",
                f"closed {data.date:%Y-%m-%d} {data.place.code if data.place else 'all'}",
                {
                    "closed_day_id": closed.pk,
                    "date": data.date,
                    "place": data.place.code if data.place else None,
                    "reason": data.reason,
                    "despite_bookings": bool(affected),
                    "affected_bookings": [b.booking_id for b in affected],
                },
            )
    except IntegrityError as error:  # the same day added at the same moment by someone else
        raise SettingsInvalid({"date": _("この日は既に休止日です。")}) from error
    return closed, affected


def do_delete_closed_day(actor: oplog.Actor, closed: ClosedDay) -> None:
    with transaction.atomic():
        deleted, _count = ClosedDay.objects.filter(pk=closed.pk).delete()
        if deleted:
            oplog.record(
                actor,
                "settings.closed_day.delete",
                f"closed {closed.date:%Y-%m-%d} {closed.place.code if closed.place else 'all'}",
                {
                    "closed_day_id": closed.pk,
                    "date": closed.date,
                    "place": closed.place.code if closed.place else None,
                    "reason": closed.reason,
                },
            )
