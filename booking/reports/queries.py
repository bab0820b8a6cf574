"""The reports' figures, read from the current tenant's schema: a day's tallies and the bookings of the days
ahead (the daily report and its page), and a month's per-day counts and totals (the monthly report)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce, TruncDate

from booking.lib.dates import TOKYO
from booking.models import Booking, BookingEvent, CallLogEntry, Place, Service, Weekday
from booking.reports.days import day_note, following_days, is_operating_day, month_days, next_month, start_of


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class PlaceAhead:
    """Confirmed bookings of one place on each of the days shown (DailyFigures.ahead_days)."""

    name: str
    counts: tuple[int, ...]


@dataclass(frozen=True)
class DailyFigures:
    day: dt.date
    calls: tuple[Tally, ...]
    new_by_channel: tuple[Tally, ...]
    new_by_service: tuple[Tally, ...]
    changes: int
    cancellations: int
    ahead_days: tuple[dt.date, ...]
    ahead: tuple[PlaceAhead, ...]

    @property
    def calls_total(self) -> int:
        return sum(tally.count for tally in self.calls)

    @property
    def new_total(self) -> int:
        return sum(tally.count for tally in self.new_by_channel)

    @property
    def ahead_totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*(p.counts for p in self.ahead), strict=True)) or tuple(
            0 for _day in self.ahead_days
        )

    @property
    def operating(self) -> bool:
        return is_operating_day(self.day)

    @property
    def note(self) -> str:
        return day_note(self.day)


def _count_by(rows: QuerySet[Any], *fields: str) -> dict[Any, int]:
    """Row counts grouped by `fields`: one key (a value) for one field, a tuple for several."""
    grouped = rows.order_by().values(*fields).annotate(n=Count("pk")).values_list(*fields, "n")
    if len(fields) == 1:
        return {key: n for key, n in grouped}
    return {tuple(row[:-1]): row[-1] for row in grouped}


def _tallies(choices: list[tuple[str, Any]], counts: Mapping[Any, int]) -> tuple[Tally, ...]:
    return tuple(Tally(key, str(label), counts.get(key, 0)) for key, label in choices)


def daily_figures(day: dt.date) -> DailyFigures:
    """The day's figures in the current tenant's schema: what the daily report and the screen show."""
    start, end = start_of(day), start_of(day + dt.timedelta(days=1))
    events = BookingEvent.objects.filter(at__gte=start, at__lt=end)
    booked = events.filter(kind=BookingEvent.Kind.BOOKED)
    # The service booked is the event's slot's: the booking may since have moved to another service.
    by_service = _count_by(
        booked.annotate(service_key=Coalesce("to_slot__service_id", "booking__slot__service_id")),
        "service_key",
    )
    kinds = _count_by(events, "kind")
    ahead_days, ahead = _bookings_ahead(day)
    return DailyFigures(
        day=day,
        calls=_tallies(
            CallLogEntry.Kind.choices,
            _count_by(CallLogEntry.objects.filter(at__gte=start, at__lt=end), "kind"),
        ),
        new_by_channel=_tallies(Booking.Channel.choices, _count_by(booked, "channel")),
        new_by_service=tuple(
            Tally(service.code, service.label, by_service.get(service.pk, 0))
            for service in Service.objects.order_by("display_order", "code")
        ),
        changes=kinds.get(BookingEvent.Kind.CHANGED, 0),
        cancellations=kinds.get(BookingEvent.Kind.CANCELLED, 0),
        ahead_days=ahead_days,
        ahead=ahead,
    )


def _bookings_ahead(day: dt.date) -> tuple[tuple[dt.date, ...], tuple[PlaceAhead, ...]]:
    """Confirmed bookings per place on the coming days: operating days always, other days when booked."""
    days = following_days(day)
    bookings = Booking.objects.filter(
        status=Booking.Status.CONFIRMED,
        slot__starts_at__gte=start_of(days[0]),
        slot__starts_at__lt=start_of(days[-1] + dt.timedelta(days=1)),
    ).annotate(local_day=TruncDate("slot__starts_at", tzinfo=TOKYO))
    counts = _count_by(bookings, "slot__place_id", "local_day")
    booked_days = {local_day for _place, local_day in counts}
    shown = tuple(d for d in days if is_operating_day(d) or d in booked_days)
    places = Place.objects.filter(pk__in={place_id for place_id, _day in counts}).order_by(
        "display_order", "code"
    )
    return shown, tuple(
        PlaceAhead(place.label, tuple(counts.get((place.pk, d), 0) for d in shown)) for place in places
    )


@dataclass(frozen=True)
class Counts:
    calls: tuple[int, ...]  # per CallLogEntry.Kind, in its order
    new: tuple[int, ...]  # per Booking.Channel, in its order
    changes: int
    cancellations: int

    @property
    def calls_total(self) -> int:
        return sum(self.calls)

    @property
    def new_total(self) -> int:
        return sum(self.new)


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    counts: Counts

    @property
    def operating(self) -> bool:
        return is_operating_day(self.day)

    @property
    def note(self) -> str:
        return day_note(self.day)

    @property
    def weekday(self) -> str:
        return str(Weekday(self.day.weekday()).label)


@dataclass(frozen=True)
class MonthlyFigures:
    year: int
    month: int
    call_kinds: tuple[str, ...]
    channels: tuple[str, ...]
    rows: tuple[DayRow, ...]
    totals: Counts

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def month_code(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def monthly_figures(year: int, month: int) -> MonthlyFigures:
    """Per-day counts of a month (every calendar day: web bookings come at weekends too) and totals."""
    days = month_days(year, month)
    start, end = start_of(days[0]), start_of(next_month(year, month))
    calls = _count_by(
        CallLogEntry.objects.filter(at__gte=start, at__lt=end).annotate(
            local_day=TruncDate("at", tzinfo=TOKYO)
        ),
        "local_day",
        "kind",
    )
    events = _count_by(
        BookingEvent.objects.filter(at__gte=start, at__lt=end).annotate(
            local_day=TruncDate("at", tzinfo=TOKYO)
        ),
        "local_day",
        "kind",
        "channel",
    )
    rows = tuple(DayRow(day, _day_counts(day, calls, events)) for day in days)
    return MonthlyFigures(
        year=year,
        month=month,
        call_kinds=tuple(str(label) for _key, label in CallLogEntry.Kind.choices),
        channels=tuple(str(label) for _key, label in Booking.Channel.choices),
        rows=rows,
        totals=_sum_counts([row.counts for row in rows]),
    )


def _day_counts(day: dt.date, calls: Mapping[Any, int], events: Mapping[Any, int]) -> Counts:
    def events_of(kind: str) -> int:
        return sum(events.get((day, kind, channel), 0) for channel in Booking.Channel.values)

    return Counts(
        calls=tuple(calls.get((day, kind), 0) for kind in CallLogEntry.Kind.values),
        new=tuple(events.get((day, BookingEvent.Kind.BOOKED, ch), 0) for ch in Booking.Channel.values),
        changes=events_of(BookingEvent.Kind.CHANGED),
        cancellations=events_of(BookingEvent.Kind.CANCELLED),
    )


def _sum_counts(counts: list[Counts]) -> Counts:
    return Counts(
        calls=tuple(sum(column) for column in zip(*(c.calls for c in counts), strict=True)),
        new=tuple(sum(column) for column in zip(*(c.new for c in counts), strict=True)),
        changes=sum(c.changes for c in counts),
        cancellations=sum(c.cancellations for c in counts),
    )
