"""Opening patterns (AD-04 ①): a change takes effect at once on the future Slot rows of the place, and is
refused when a confirmed booking would sit in a time no longer offered or a slot would hold more people than
its new capacity."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.configuration.changes import (
    AffectedBooking,
    AffectedSlot,
    Seen,
    SettingsInvalid,
    SettingsRefused,
    affected_bookings,
    apply_values,
    check_unchanged,
    diff,
    shown,
    values_of,
)
from booking.engine.queries import describe_pattern, describe_weekdays
from booking.engine.services import release_expired_holds
from booking.lib.dates import TOKYO
from booking.models import SLOT_MINUTES_CHOICES, Booking, OpeningPattern, Place, Service, Slot, Weekday
from booking.rules import schedule

SLOT_MINUTES = tuple(minutes for minutes, _label in SLOT_MINUTES_CHOICES)
MAX_CAPACITY = 999


@dataclass(frozen=True)
class PatternInput:
    service: Service
    weekdays: tuple[int, ...]
    opens_at: dt.time
    closes_at: dt.time
    last_reception_at: dt.time
    slot_minutes: int
    capacity: int


def pattern_problems(data: PatternInput) -> dict[str, str]:
    """The database's checks on a pattern, in words staff can act on."""
    problems: dict[str, str] = {}
    if not data.weekdays or not set(data.weekdays) <= set(Weekday.values):
        problems["weekdays"] = _("曜日を1つ以上選んでください。")
    if data.opens_at >= data.closes_at:
        problems["closes_at"] = _("終了時刻は開始時刻より後にしてください。")
    elif not data.opens_at <= data.last_reception_at < data.closes_at:
        problems["last_reception_at"] = _(
            "最終受付は開始時刻以降、終了時刻より前にしてください（終了時刻ちょうどは不可）。"
        )
    if data.slot_minutes not in SLOT_MINUTES:
        problems["slot_minutes"] = _("1枠の長さは60分・30分・20分・15分・10分から選んでください。")
    if not 1 <= data.capacity <= MAX_CAPACITY:
        problems["capacity"] = _("1枠の予約可能人数は1〜%(max)d人で入力してください。") % {
            "max": MAX_CAPACITY
        }
    return problems


def _offered(patterns: Iterable[OpeningPattern], day: dt.date) -> dict[dt.datetime, schedule.SlotTime]:
    """The times the patterns give on `day` (the first pattern wins a shared start, as in day_slots)."""
    by_start: dict[dt.datetime, schedule.SlotTime] = {}
    for pattern in sorted(patterns, key=lambda p: (p.opens_at, p.pk or 0)):
        for slot in schedule.pattern_slots(pattern, day):
            by_start.setdefault(slot.starts_at, slot)
    return by_start


@dataclass
class _Plan:
    """What a change of a place's patterns for one service does to that service's future Slot rows."""

    updates: list[Slot]
    over: list[AffectedSlot]
    orphans: list[AffectedBooking]


def _plan(place: Place, service: Service, patterns: Sequence[OpeningPattern], now: dt.datetime) -> _Plan:
    """Match every future Slot row of place × service against the times `patterns` will offer.

    Rows are locked, so bookings of those slots wait until the change commits (or is refused).
    """
    rows = list(
        Slot.objects.select_for_update()
        .filter(place=place, service=service, starts_at__gt=now)
        .select_related("place", "service")
        .order_by("starts_at")
    )
    plan = _Plan(updates=[], over=[], orphans=[])
    if not rows:
        return plan
    gone: list[int] = []
    offered_by_day: dict[dt.date, dict[dt.datetime, schedule.SlotTime]] = {}
    for row in rows:
        day = row.starts_at.astimezone(TOKYO).date()
        if day not in offered_by_day:
            offered_by_day[day] = _offered(patterns, day)
        new = offered_by_day[day].get(row.starts_at)
        if new is None:
            gone.append(row.pk)
        elif new.capacity < row.taken:
            plan.over.append(
                AffectedSlot(row.starts_at, row.ends_at, place.label, service.label, row.taken, new.capacity)
            )
        elif new.capacity != row.capacity or new.ends_at != row.ends_at:
            row.capacity, row.ends_at = new.capacity, new.ends_at
            plan.updates.append(row)
    if gone:
        confirmed = Booking.objects.filter(slot_id__in=gone, status=Booking.Status.CONFIRMED)
        plan.orphans = affected_bookings(confirmed)
    return plan


def _refuse_or_apply(plans: Sequence[_Plan]) -> int:
    over = [slot for plan in plans for slot in plan.over]
    orphans = [booking for plan in plans for booking in plan.orphans]
    if over or orphans:
        reasons = []
        if orphans:
            reasons.append(
                _(
                    "この変更で受付がなくなる時間に予約があります。先に予約を別の日時に変更してから、"
                    "もう一度保存してください。"
                )
            )
        if over:
            reasons.append(
                _(
                    "予約可能人数より多くの予約（手続き中を含む）が入っている枠があります。"
                    "人数を見直すか、先に予約を別の日時に変更してください。"
                )
            )
        raise SettingsRefused(" ".join(reasons), slots=over, bookings=orphans)
    updates = [row for plan in plans for row in plan.updates]
    Slot.objects.bulk_update(updates, ["capacity", "ends_at"], batch_size=500)
    return len(updates)


def _pattern_values(pattern: OpeningPattern) -> dict[str, Any]:
    return {
        "service": pattern.service,
        "weekdays": tuple(sorted(pattern.weekdays)),
        "opens_at": pattern.opens_at,
        "closes_at": pattern.closes_at,
        "last_reception_at": pattern.last_reception_at,
        "slot_minutes": pattern.slot_minutes,
        "capacity": pattern.capacity,
    }


def _replan(
    place: Place, services: Iterable[Service], patterns: Sequence[OpeningPattern], now: dt.datetime
) -> int:
    """Check and bring the future Slot rows of these services at `place` in line with `patterns`."""
    release_expired_holds(now)
    plans = [
        _plan(place, service, [p for p in patterns if p.service_id == service.pk], now)
        for service in {s.pk: s for s in services}.values()
    ]
    try:
        with transaction.atomic():
            return _refuse_or_apply(plans)
    except IntegrityError as error:  # a booking landed between the check and the update
        raise SettingsRefused(_("他の予約と重なりました。もう一度お試しください。")) from error


def do_save_pattern(
    actor: oplog.Actor,
    place: Place,
    pattern: OpeningPattern | None,
    data: PatternInput,
    now: dt.datetime | None = None,
    seen: Seen | None = None,
) -> tuple[OpeningPattern, dict[str, dict[str, Any]], int]:
    """Add a pattern to `place` (`pattern` None) or change one; returns it, the changes and the number of
    future slots whose capacity or end was brought in line. Refused (SettingsRefused) when a future slot
    would hold more people than its new capacity or a confirmed booking would sit in a time no longer
    offered; refused too (`SettingsChangedMeanwhile`) when the pattern no longer holds what the page showed
    (`seen`), and (`OpeningPattern.DoesNotExist`) when it was deleted since."""
    now = now or timezone.now()
    problems = pattern_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    values = {**values_of(data), "weekdays": tuple(sorted(set(data.weekdays)))}
    with transaction.atomic():
        current = list(
            OpeningPattern.objects.select_for_update().filter(place=place).select_related("service")
        )
        if pattern is None:
            target = OpeningPattern(place=place)
            before: dict[str, Any] = {}
            services = [data.service]
        else:
            found = [p for p in current if p.pk == pattern.pk]
            if not found:
                raise OpeningPattern.DoesNotExist
            target = found[0]
            check_unchanged(seen, {name: getattr(target, name) for name in values})
            before = _pattern_values(target)
            services = [target.service, data.service]
        changes = diff(before, values)
        if pattern is not None and not changes:
            return target, changes, 0
        overlap = _overlapping(data, [p for p in current if p.pk != target.pk])
        if overlap is not None:
            raise SettingsInvalid({"opens_at": overlap})
        apply_values(target, {**values, "weekdays": list(values["weekdays"])})
        after = [p for p in current if p.pk != target.pk] + [target]
        updated = _replan(place, services, after, now)
        target.save()
        action = "settings.pattern.create" if pattern is None else "settings.pattern.update"
        oplog.record(
            actor,
            action,
            f"place {place.code} pattern {target.pk}",
            {
                "place": place.code,
                "service": data.service.code,
                "pattern_id": target.pk,
                "changes": changes,
                "slots_updated": updated,
            },
        )
    return target, changes, updated


def _overlapping(data: PatternInput, others: Iterable[OpeningPattern]) -> str | None:
    """Why `data` may not stand beside the place's other patterns of its service: a shared weekday whose
    hours overlap (which capacity and slot length then applies cannot be told: a new user's walk saved a
    copy of a pattern with another capacity, and the calendar showed the first)."""
    for other in others:
        shared = sorted(set(other.weekdays) & set(data.weekdays))
        if (
            other.service_id == data.service.pk
            and shared
            and data.opens_at < other.closes_at
            and other.opens_at < data.closes_at
        ):
            return _(
                "同じサービスの受付パターン（%(pattern)s）と、曜日と時間が重なっています。"
                "時間を分けるか、そのパターンを変更してください。"
            ) % {"pattern": describe_pattern(other)}
    return None


def do_delete_pattern(actor: oplog.Actor, pattern: OpeningPattern, now: dt.datetime | None = None) -> None:
    """Delete a pattern unless a confirmed future booking sits in a time only it offers."""
    now = now or timezone.now()
    place = pattern.place
    with transaction.atomic():
        current = list(
            OpeningPattern.objects.select_for_update().filter(place=place).select_related("service")
        )
        found = [p for p in current if p.pk == pattern.pk]
        if not found:
            raise OpeningPattern.DoesNotExist
        target = found[0]
        detail = {
            "place": place.code,
            "service": target.service.code,
            "pattern_id": target.pk,
            "deleted": {name: shown(value) for name, value in _pattern_values(target).items()},
        }
        updated = _replan(place, [target.service], [p for p in current if p.pk != target.pk], now)
        target.delete()
        oplog.record(
            actor,
            "settings.pattern.delete",
            f"place {place.code} pattern {detail['pattern_id']}",
            {**detail, "slots_updated": updated},
        )


@dataclass(frozen=True)
class PatternRow:
    pattern: OpeningPattern
    days: str  # e.g. "月・水"


def patterns_by_service(place: Place) -> list[tuple[Service, list[PatternRow]]]:
    grouped: dict[int, list[PatternRow]] = defaultdict(list)
    for pattern in place.opening_patterns.select_related("service").order_by("opens_at", "pk"):
        grouped[pattern.service_id].append(PatternRow(pattern, describe_weekdays(pattern.weekdays)))
    return [(service, grouped[service.pk]) for service in Service.objects.all() if service.pk in grouped]
