"""Places (AD-07): adding and changing one, and deleting one that never had a booking."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.configuration.changes import (
    AffectedBooking,
    Seen,
    SettingsInvalid,
    SettingsRefused,
    affected_bookings,
    apply_values,
    check_dates_plausible,
    check_unchanged,
    day_range,
    diff,
    values_of,
)
from booking.engine.services import release_expired_holds
from booking.models import Booking, BookingEvent, Hold, Place, Slot

CODE_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")


@dataclass(frozen=True)
class PlaceInput:
    code: str
    name: str
    name_en: str
    kind: str
    address: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    bookable_from: dt.date | None
    bookable_until: dt.date | None
    display_order: int


def place_problems(data: PlaceInput, place: Place | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not data.code or len(data.code) > 40 or not CODE_PATTERN.match(data.code):
        problems["code"] = _("英数字・ハイフン・アンダースコアの40文字以内で入力してください。")
    elif Place.objects.filter(code__iexact=data.code).exclude(pk=place.pk if place else 0).exists():
        problems["code"] = _("このコードは他の交付場所で使われています。")
    if not data.name.strip() or len(data.name) > 100:
        problems["name"] = _("1〜100文字で入力してください。")
    if len(data.name_en) > 150:
        problems["name_en"] = _("150文字以内で入力してください。")
    if data.kind not in Place.Kind.values:
        problems["kind"] = _("種別を選んでください。")
    if not data.address.strip() or len(data.address) > 200:
        problems["address"] = _("1〜200文字で入力してください。")
    if not 0 <= data.display_order <= 32767:
        problems["display_order"] = _("0〜32767の間で入力してください。")
    dates = {
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "bookable_from": data.bookable_from,
        "bookable_until": data.bookable_until,
    }
    check_dates_plausible(dates, problems)
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on and "ends_on" not in problems:
        problems["ends_on"] = _("実施終了日は実施開始日以降の日付にしてください。")
    if (
        data.bookable_from
        and data.bookable_until
        and data.bookable_until < data.bookable_from
        and "bookable_until" not in problems
    ):
        problems["bookable_until"] = _("予約受付可能日は予約受付開始日以降の日付にしてください。")
    return problems


def _bookings_outside_period(
    place: Place, starts_on: dt.date | None, ends_on: dt.date | None, now: dt.datetime
) -> list[AffectedBooking]:
    outside = Q()
    if starts_on:
        outside |= Q(slot__starts_at__lt=day_range(starts_on, starts_on)[0])
    if ends_on:
        outside |= Q(slot__starts_at__gte=day_range(ends_on, ends_on)[1])
    if not outside:
        return []
    return affected_bookings(
        Booking.objects.filter(
            outside, slot__place=place, status=Booking.Status.CONFIRMED, slot__starts_at__gt=now
        )
    )


def do_save_place(
    actor: oplog.Actor,
    place: Place | None,
    data: PlaceInput,
    now: dt.datetime | None = None,
    seen: Seen | None = None,
) -> tuple[Place, dict[str, dict[str, Any]]]:
    """Add a place (`place` None) or change one; moving its start or end past confirmed bookings is
    refused, and so is a change made from a page that showed other values than the place holds (`seen`)."""
    now = now or timezone.now()
    problems = place_problems(data, place)
    if problems:
        raise SettingsInvalid(problems)
    values = values_of(data)
    try:
        with transaction.atomic():
            if place is None:
                target = Place()
                before: dict[str, Any] = {}
            else:
                target = Place.objects.select_for_update().get(pk=place.pk)
                before = {name: getattr(target, name) for name in values}
                check_unchanged(seen, before)
            changes = diff(before, values)
            if place is not None and not changes:
                return target, changes
            if place is not None and ("starts_on" in changes or "ends_on" in changes):
                in_the_way = _bookings_outside_period(target, data.starts_on, data.ends_on, now)
                if in_the_way:
                    raise SettingsRefused(
                        _(
                            "実施期間の外になる日に予約があります。先に予約を別の日時・場所に変更してから、"
                            "もう一度保存してください。"
                        ),
                        bookings=in_the_way,
                    )
            apply_values(target, values)
            target.save()
            action = "settings.place.create" if place is None else "settings.place.update"
            oplog.record(actor, action, f"place {target.code}", {"place_id": target.pk, "changes": changes})
    except IntegrityError as error:  # the same code saved at the same moment by someone else
        raise SettingsInvalid({"code": _("このコードは他の交付場所で使われています。")}) from error
    return target, changes


def do_delete_place(actor: oplog.Actor, place: Place) -> None:
    """Delete a place that never had a booking (with its patterns and closed days); otherwise refuse."""
    with transaction.atomic():
        target = Place.objects.select_for_update().get(pk=place.pk)
        moved_away = BookingEvent.objects.filter(Q(from_slot__place=target) | Q(to_slot__place=target))
        if Booking.objects.filter(slot__place=target).exists() or moved_away.exists():
            raise SettingsRefused(
                _(
                    "この交付場所には予約（取消済みを含む）があるため削除できません。"
                    "受付を終える場合は「実施終了日」を設定してください。"
                )
            )
        release_expired_holds(timezone.now())
        if Hold.objects.filter(slot__place=target).exists():
            raise SettingsRefused(
                _(
                    "この交付場所の時間を選んで予約手続き中の人がいます。しばらくしてからもう一度お試しください。"
                )
            )
        detail = {
            "place_id": target.pk,
            "name": target.name,
            "patterns": target.opening_patterns.count(),
            "closed_days": target.closed_days.count(),
        }
        Slot.objects.filter(place=target).delete()
        target.delete()
        oplog.record(actor, "settings.place.delete", f"place {place.code}", detail)
