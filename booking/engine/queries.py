"""Reads of the booking domain (in the current tenant's schema)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.lib.dates import TOKYO
from booking.models import BookingSettings, ClosedDay, OpeningPattern, Place, Service, Slot, Weekday
from booking.rules import schedule, windows


@dataclass(frozen=True)
class PlaceHours:
    place: Place
    opens_later: bool  # starts on a day after the one asked about: say from when
    # one line per service and pattern, e.g. "マイナンバーカードの交付: 月・水 17:00〜19:00（最終受付 18:45）"
    lines: list[str]


def describe_weekdays(weekdays: list[int]) -> str:
    # 月・水 in Japanese, "Mon, Wed" in English (the separator is translated like the names).
    return _("・").join(str(Weekday(day).label) for day in sorted(weekdays))


def describe_pattern(pattern: OpeningPattern) -> str:
    return _("%(days)s %(opens)s〜%(closes)s（最終受付 %(last)s）") % {
        "days": describe_weekdays(pattern.weekdays),
        "opens": f"{pattern.opens_at:%-H:%M}",
        "closes": f"{pattern.closes_at:%-H:%M}",
        "last": f"{pattern.last_reception_at:%-H:%M}",
    }


def places_in_service(on: dt.date | None = None) -> list[PlaceHours]:
    """Places open on or after `on` (today by default), with their hours per service."""
    on = on or timezone.localdate()
    places = (
        Place.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .prefetch_related(
            Prefetch(
                "opening_patterns",
                queryset=OpeningPattern.objects.select_related("service").order_by(
                    "service__display_order", "opens_at"
                ),
            )
        )
        .order_by("display_order", "code")
    )
    return [
        PlaceHours(
            place=place,
            opens_later=place.starts_on is not None and place.starts_on > on,
            lines=[f"{p.service.label}: {describe_pattern(p)}" for p in place.opening_patterns.all()],
        )
        for place in places
    ]


# --- rules and availability ----------------------------------------------------------------------------


def booking_rules() -> BookingSettings:
    """The tenant's booking settings: one SELECT, never a write.

    The row is made when the tenant is provisioned (booking.provisioning.apply_preset; migration 0015 for
    tenants made before), and a settings change makes it if it is still missing. Should it be missing when
    read, the defaults come back unsaved: they are exactly what a new row would hold, so citizens and staff
    see the same rules either way, while a read stays a read (no insert, no lock, no failure on a read-only
    transaction, and no race of two first readers on the singleton's unique key).
    """
    rules = BookingSettings.objects.filter(singleton=True).first()
    return rules if rules is not None else BookingSettings(singleton=True)


@dataclass(frozen=True)
class FreeSlot:
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    remaining: int


def web_services() -> QuerySet[Service]:
    return Service.objects.filter(web_bookable=True)


def places_offering_any(on: dt.date | None = None) -> QuerySet[Place]:
    """Places that offer some service and have not ended."""
    on = on or timezone.localdate()
    return (
        Place.objects.filter(opening_patterns__isnull=False)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .distinct()
        .order_by("display_order", "code")
    )


def places_offering(service: Service, on: dt.date | None = None) -> QuerySet[Place]:
    on = on or timezone.localdate()
    return (
        Place.objects.filter(opening_patterns__service=service)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .distinct()
        .order_by("display_order", "code")
    )


def closed_days_for(place: Place, first: dt.date, last: dt.date) -> set[dt.date]:
    """The tenant's closed days from `first` to `last` that apply to `place` (its own and all-place ones)."""
    return set(
        ClosedDay.objects.filter(date__range=(first, last))
        .filter(Q(place__isnull=True) | Q(place=place))
        .values_list("date", flat=True)
    )


@dataclass(frozen=True)
class SlotTemplate:
    """A place and service's slots of each weekday (Monday first) as (start after midnight, length, capacity).

    Built once from the opening patterns, so a month of availability adds offsets to each day's midnight
    instead of walking every pattern again each day (schedule.day_slots does that for one day): the same
    slots, the first pattern winning when two start at the same time, in start order.
    """

    by_weekday: tuple[tuple[tuple[dt.timedelta, dt.timedelta, int], ...], ...]


def patterns_of(place: Place, service: Service) -> QuerySet[OpeningPattern]:
    """A place's opening patterns for a service in the one order every reader uses (booking.engine.slot_rows
    too): where two patterns offer the same time, the first one's capacity and length count."""
    return place.opening_patterns.filter(service=service).order_by("opens_at", "pk")


# The md5 of a place's patterns for a service as PostgreSQL writes their rows: the one-call booking
# (booking.engine.one_call, migration 0023) compares it, under the patterns' lock, with the one read here.
_PATTERNS_PRINT = (
    "(SELECT md5(string_agg(q::text, '|' ORDER BY q.id)) FROM booking_openingpattern q"
    " WHERE q.place_id = %(place)s AND q.service_id = %(service)s)"
)


def patterns_with_print(place: Place, service: Service) -> tuple[list[OpeningPattern], str | None]:
    """`patterns_of` and their print (None: no patterns), read in one statement so that both are of the
    same moment."""
    patterns = list(
        OpeningPattern.objects.raw(
            f"SELECT p.*, {_PATTERNS_PRINT} AS patterns_print FROM booking_openingpattern p"  # noqa: S608
            " WHERE p.place_id = %(place)s AND p.service_id = %(service)s ORDER BY p.opens_at, p.id",
            {"place": place.pk, "service": service.pk},
        )
    )
    return patterns, (getattr(patterns[0], "patterns_print", None) if patterns else None)


def slot_template(patterns: Iterable[OpeningPattern]) -> SlotTemplate:
    by_weekday: list[dict[dt.timedelta, tuple[dt.timedelta, int]]] = [{} for _ in range(7)]
    for pattern in patterns:
        step = dt.timedelta(minutes=pattern.slot_minutes)
        start, last, close = (
            _after_midnight(pattern.opens_at),
            _after_midnight(pattern.last_reception_at),
            _after_midnight(pattern.closes_at),
        )
        for weekday in set(pattern.weekdays):
            at = start
            while at <= last:
                by_weekday[weekday].setdefault(at, (min(step, close - at), pattern.capacity))
                at += step
    return SlotTemplate(tuple(tuple((at, *slots[at]) for at in sorted(slots)) for slots in by_weekday))


def _after_midnight(time: dt.time) -> dt.timedelta:
    return dt.timedelta(
        hours=time.hour, minutes=time.minute, seconds=time.second, microseconds=time.microsecond
    )


@dataclass(frozen=True)
class AvailabilitySetup:
    """What a place's free slots for one service are computed from, besides the slot counters: read once per
    configuration (booking.engine.availability_cache keeps it while nothing it comes from changes)."""

    place: Place
    service: Service
    rules: BookingSettings
    template: SlotTemplate
    closed: set[dt.date]  # the tenant's closed days for this place, at least over the days asked about
    # the patterns' print, of the moment the template was made from them (patterns_with_print); None: not read
    patterns_print: str | None = None


def offered_slot(setup: AvailabilitySetup, starts_at: dt.datetime) -> schedule.SlotTime | None:
    """The slot starting at `starts_at` as the setup offers it (what schedule.day_slots answers for that
    start, read from the template as free_slots_of reads it), or None: no such slot, or a closed day. The
    booking window is not judged here."""
    local = starts_at.astimezone(TOKYO)
    day = local.date()
    if schedule.closed_reason(day, setup.place, setup.closed):
        return None
    after = local - dt.datetime.combine(day, dt.time.min, tzinfo=TOKYO)
    for at, length, capacity in setup.template.by_weekday[day.weekday()]:
        if at == after:
            return schedule.SlotTime(starts_at=starts_at, ends_at=starts_at + length, capacity=capacity)
    return None


def bookable_range(
    place: Place, rules: BookingSettings, first: dt.date, last: dt.date, now: dt.datetime
) -> tuple[dt.date, dt.date]:
    """`first`..`last` cut to the booking window (and to 92 days); empty when last < first."""
    first = max(first, windows.first_bookable_day(now, rules, place))
    last = min(last, windows.last_bookable_day(now, rules, place), first + dt.timedelta(days=91))
    return first, last


def free_slots(
    place: Place, service: Service, first: dt.date, last: dt.date, now: dt.datetime | None = None
) -> list[FreeSlot]:
    """Bookable slots with room, from `first` to `last` inclusive (at most 92 days)."""
    now = now or timezone.now()
    rules = booking_rules()
    first, last = bookable_range(place, rules, first, last, now)
    if last < first:
        return []
    setup = AvailabilitySetup(
        place,
        service,
        rules,
        slot_template(patterns_of(place, service)),
        closed_days_for(place, first, last),
    )
    return free_slots_of(setup, first, last, now)


def free_slots_of(
    setup: AvailabilitySetup, first: dt.date, last: dt.date, now: dt.datetime
) -> list[FreeSlot]:
    """free_slots from a setup read before: one query (the slot counters), the rest in memory.

    A slot is offered when it is inside the window (windows.within_window: after now, on a bookable day,
    before its deadline); the window's days and each day's deadline are worked out once, not per slot.
    """
    place, rules = setup.place, setup.rules
    first, last = bookable_range(place, rules, first, last, now)
    if last < first:
        return []
    start_range = (
        dt.datetime.combine(first, dt.time.min, tzinfo=TOKYO),
        dt.datetime.combine(last, dt.time.max, tzinfo=TOKYO),
    )
    expired_holds = Count("holds", filter=Q(holds__expires_at__lte=now))
    # places used, by day and time after midnight (Tokyo): only the slot rows that exist are converted,
    # and a day without rows costs no lookup per slot
    used: dict[dt.date, dict[dt.timedelta, int]] = {}
    for starts_at, taken, expired in (
        Slot.objects.filter(place=place, service=setup.service, starts_at__range=start_range)
        .annotate(expired=expired_holds)
        .values_list("starts_at", "taken", "expired")
    ):
        local = starts_at.astimezone(TOKYO)
        at = local - dt.datetime.combine(local.date(), dt.time.min, tzinfo=TOKYO)
        used.setdefault(local.date(), {})[at] = taken - expired
    days_before = dt.timedelta(days=rules.deadline_days_before)
    result = []
    day = first
    while day <= last:
        times = setup.template.by_weekday[day.weekday()]
        # the deadline is the same for every slot of a day (windows.deadline_for)
        if (
            times
            and now < dt.datetime.combine(day - days_before, rules.deadline_time, tzinfo=TOKYO)
            and not schedule.closed_reason(day, place, setup.closed)
        ):
            midnight = dt.datetime.combine(day, dt.time.min, tzinfo=TOKYO)
            used_that_day = used.get(day, {})
            for after, length, capacity in times:
                starts_at = midnight + after  # Tokyo keeps no summer time: the wall-clock time of that day
                if starts_at <= now:
                    continue
                remaining = capacity - used_that_day.get(after, 0)
                if remaining > 0:
                    result.append(FreeSlot(starts_at, starts_at + length, capacity, remaining))
        day += dt.timedelta(days=1)
    return result


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    in_month: bool
    free: int  # free places that day (0: full or closed)
    open: bool  # has any slot at all within the window


def month_calendar(
    place: Place, service: Service, month: dt.date, now: dt.datetime | None = None
) -> list[list[CalendarDay]]:
    """Weeks (Monday first) of the month with each day's free places, for the citizen's calendar."""
    import calendar as pycalendar

    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    free_by_day: dict[dt.date, int] = {}
    for slot in free_slots(place, service, weeks[0][0], weeks[-1][-1], now=now):
        day = slot.starts_at.astimezone(TOKYO).date()
        free_by_day[day] = free_by_day.get(day, 0) + slot.remaining
    return [
        [
            CalendarDay(
                day=d, in_month=d.month == month.month, free=free_by_day.get(d, 0), open=d in free_by_day
            )
            for d in week
        ]
        for week in weeks
    ]
