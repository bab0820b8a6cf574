"""Writes of the administrator's settings (AD-04, AD-07, BK-12). Each `do_*` validates, writes in one
transaction and records what changed (old → new) in the operation log inside that transaction.

Changes take effect at once and never silently drop existing bookings: an opening pattern that would
leave a confirmed booking at a time no longer offered, or a slot with more people than its new capacity,
is refused with the list of what is in the way; a closed day on a booked day is refused unless staff say
they will contact the people affected (and then they are listed); a place with bookings is never deleted.

The checks below are also what the forms show (`*_problems`), so a form and its service never disagree.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import notifications, schedule, windows
from booking.models import (
    SLOT_MINUTES_CHOICES,
    Booking,
    BookingEvent,
    BookingSettings,
    ClosedDay,
    FieldRequirement,
    Hold,
    OpeningPattern,
    Place,
    Service,
    Slot,
    Weekday,
)
from booking.queries import describe_weekdays
from booking.services import release_expired_holds
from booking.staff import oplog

NON_FIELD = "__all__"  # Django's key for errors of a whole form
SLOT_MINUTES = tuple(minutes for minutes, _label in SLOT_MINUTES_CHOICES)
MAX_CAPACITY = 999
MAX_TEXT = 5000
CODE_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
PLACEHOLDER_HELP = {
    "date": "予約日（例: 2025年1月6日（月））",
    "time": "時間（例: 9:00〜9:15）",
    "place": "交付場所の名称",
    "address": "交付場所の所在地",
    "bring": "持ち物（「持ち物」欄の文章）",
    "deadline": "変更・取消の締切（例: 2025年1月2日（木） 17:00）",
}
MAIL_TEXT_FIELDS = ("confirmation_mail_text", "reminder_mail_text", "callcenter_script")


class SettingsInvalid(Exception):
    """Input that breaks a rule: one message per field (`NON_FIELD` for the form as a whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class AffectedSlot:
    """A slot whose people would not fit the capacity asked for."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    service: str
    taken: int  # confirmed bookings and live holds
    capacity: int  # the capacity asked for


@dataclass(frozen=True)
class AffectedBooking:
    booking_id: int
    starts_at: dt.datetime
    place: str
    service: str
    reservation_number: str


class SettingsRefused(Exception):
    """A change refused because of existing bookings; `slots` and `bookings` say which."""

    def __init__(
        self,
        message: str,
        *,
        slots: Sequence[AffectedSlot] = (),
        bookings: Sequence[AffectedBooking] = (),
    ) -> None:
        self.message = message
        self.slots = list(slots)
        self.bookings = list(bookings)
        super().__init__(message)


# --- inputs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowInput:
    first_days_ahead: int
    bookable_until: dt.date | None
    deadline_days_before: int
    deadline_time: dt.time
    hold_minutes: int


@dataclass(frozen=True)
class CardRulesInput:
    transfer_cutoff_days_before: int
    transfer_cutoff_time: dt.time
    card_waiting_days: int


@dataclass(frozen=True)
class FieldsInput:
    phone_requirement: str
    email_requirement: str


@dataclass(frozen=True)
class TextsInput:
    text_top: str
    text_bring: str
    text_done: str
    confirmation_mail_text: str
    reminder_mail_text: str
    callcenter_script: str
    report_emails: str


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


@dataclass(frozen=True)
class PatternInput:
    service: Service
    weekdays: tuple[int, ...]
    opens_at: dt.time
    closes_at: dt.time
    last_reception_at: dt.time
    slot_minutes: int
    capacity: int


@dataclass(frozen=True)
class ClosedDayInput:
    date: dt.date
    place: Place | None
    reason: str


def _values(data: Any) -> dict[str, Any]:
    return {f.name: getattr(data, f.name) for f in fields(data)}


def _shown(value: Any) -> Any:
    """A value as the operation log keeps it (JSON)."""
    if isinstance(value, Model):
        return getattr(value, "code", None) or str(value.pk)
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return list(value)
    return value


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old": …, "new": …}} of the fields that differ."""
    return {
        name: {"old": _shown(before.get(name)), "new": _shown(value)}
        for name, value in after.items()
        if _shown(before.get(name)) != _shown(value)
    }


def _apply(obj: Model, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(schedule.TOKYO).date()


def _locked_rules() -> BookingSettings:
    BookingSettings.objects.get_or_create(singleton=True)
    return BookingSettings.objects.select_for_update().get(singleton=True)


def _day_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in Tokyo time."""
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=schedule.TOKYO),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=schedule.TOKYO),
    )


def _affected(bookings: QuerySet[Booking]) -> list[AffectedBooking]:
    return [
        AffectedBooking(
            booking_id=b.pk,
            starts_at=b.slot.starts_at,
            place=b.slot.place.name,
            service=b.slot.service.name,
            reservation_number=b.card.reservation_number if b.card else "",
        )
        for b in bookings.select_related("slot__place", "slot__service", "card").order_by(
            "slot__starts_at", "pk"
        )
    ]


def _dates_plausible(values: Mapping[str, dt.date | None], problems: dict[str, str]) -> None:
    for name, day in values.items():
        if day is not None and not windows.plausible_day(day):
            problems[name] = _("日付は2000年から2099年の間で入力してください。")


# --- ② the booking window and the deadline ---------------------------------------------------------------


def window_problems(data: WindowInput, today: dt.date) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not 0 <= data.first_days_ahead <= 365:
        problems["first_days_ahead"] = _("0〜365日の間で入力してください（0は当日から予約可能）。")
    if not 0 <= data.deadline_days_before <= 60:
        problems["deadline_days_before"] = _("0〜60日の間で入力してください。")
    if not 1 <= data.hold_minutes <= 60:
        problems["hold_minutes"] = _("1〜60分の間で入力してください。")
    until = data.bookable_until
    if until is not None:
        if not windows.plausible_day(until):
            problems["bookable_until"] = _("日付は2000年から2099年の間で入力してください。")
        elif until < today:
            problems["bookable_until"] = _(
                "予約受付可能日が過去の日付です。今日以降の日付にするか、空欄（期限なし）にしてください。"
            )
        elif "first_days_ahead" not in problems and until < today + dt.timedelta(days=data.first_days_ahead):
            problems["bookable_until"] = _(
                "この設定では予約できる日がありません。予約受付可能日を%(first)s以降にしてください。"
            ) % {"first": f"{today + dt.timedelta(days=data.first_days_ahead):%Y-%m-%d}"}
    return problems


def do_update_window(
    actor: oplog.Actor, data: WindowInput, now: dt.datetime | None = None
) -> dict[str, dict[str, Any]]:
    """Save the booking window and deadline; returns what changed."""
    now = now or timezone.now()
    problems = window_problems(data, _today(now))
    if problems:
        raise SettingsInvalid(problems)
    return _update_rules(actor, "settings.window", _values(data))


def _update_rules(actor: oplog.Actor, action: str, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with transaction.atomic():
        rules = _locked_rules()
        changes = _diff({name: getattr(rules, name) for name in values}, values)
        if changes:
            _apply(rules, values)
            rules.save(update_fields=list(values))
            oplog.record(actor, action, "booking settings", {"changes": changes})
    return changes


# --- the cards: when transfer lists are cut, when a card counts as waiting too long (BK-13, AD-08) ---------


def card_rules_problems(data: CardRulesInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not 0 <= data.transfer_cutoff_days_before <= 14:
        problems["transfer_cutoff_days_before"] = _("0〜14日の間で入力してください（0は当日）。")
    if not 1 <= data.card_waiting_days <= 365:
        problems["card_waiting_days"] = _("1〜365日の間で入力してください。")
    return problems


def do_update_card_rules(actor: oplog.Actor, data: CardRulesInput) -> dict[str, dict[str, Any]]:
    problems = card_rules_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return _update_rules(actor, "settings.cards", _values(data))


# --- ③ the citizen's contact fields --------------------------------------------------------------------


def fields_problems(data: FieldsInput) -> dict[str, str]:
    return {
        name: _("「必須」「任意」「表示しない」から選んでください。")
        for name, value in _values(data).items()
        if value not in FieldRequirement.values
    }


def do_update_fields(actor: oplog.Actor, data: FieldsInput) -> dict[str, dict[str, Any]]:
    problems = fields_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return _update_rules(actor, "settings.fields", _values(data))


# --- ④ texts and mails ---------------------------------------------------------------------------------


def mail_text_problem(text: str) -> str | None:
    """Why a mail text cannot be used as it is: unbalanced braces or a placeholder that does not exist."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return _(
            "波かっこ { } の対応が正しくありません。差し込み項目は {date} のように書き、"
            "文字として { や } を使う場合は {{ や }} と書いてください。"
        )
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in notifications.PLACEHOLDERS:
            return _("使えない差し込み項目 {%(name)s} があります。使えるのは %(allowed)s です。") % {
                "name": name,
                "allowed": " ".join("{" + p + "}" for p in notifications.PLACEHOLDERS),
            }
        if spec or conversion:
            return _("差し込み項目 {%(name)s} に書式は指定できません。{%(name)s} とだけ書いてください。") % {
                "name": name
            }
    return None


def texts_problems(data: TextsInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, value in _values(data).items():
        if len(value) > MAX_TEXT:
            problems[name] = _("%(max)d文字以内で入力してください。") % {"max": MAX_TEXT}
    for name in ("text_bring", *MAIL_TEXT_FIELDS):
        if name not in problems and not getattr(data, name).strip():
            problems[name] = _("入力してください。")
    for name in MAIL_TEXT_FIELDS:
        if name not in problems:
            problem = mail_text_problem(getattr(data, name))
            if problem:
                problems[name] = problem
    bad = [
        line.strip()
        for line in data.report_emails.splitlines()
        if line.strip() and not _is_email(line.strip())
    ]
    if bad:
        problems["report_emails"] = _("メールアドレスの形式が正しくありません: %(bad)s") % {
            "bad": ", ".join(bad[:3])
        }
    return problems


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def do_update_texts(actor: oplog.Actor, data: TextsInput) -> dict[str, dict[str, Any]]:
    """Save the citizen-screen texts and mail texts (plain text, always shown escaped)."""
    problems = texts_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return _update_rules(actor, "settings.texts", _values(data))


def sample_values(rules: BookingSettings, bring: str, now: dt.datetime | None = None) -> dict[str, str]:
    """The placeholders filled as for a made-up booking at the first place, on the first bookable day."""
    now = now or timezone.now()
    place = Place.objects.order_by("display_order", "code").first()
    start = dt.datetime.combine(windows.first_bookable_day(now, rules), dt.time(10, 0), tzinfo=schedule.TOKYO)
    end = start + dt.timedelta(minutes=15)
    deadline = windows.deadline_for(start, rules)
    return {
        "date": notifications.format_day(start),
        "time": f"{start:%-H:%M}〜{end:%-H:%M}",
        "place": place.name if place else _("（交付場所の名称）"),
        "address": place.address if place else _("（交付場所の所在地）"),
        "bring": bring,
        "deadline": f"{notifications.format_day(deadline)} {deadline:%-H:%M}",
    }


def mail_previews(rules: BookingSettings, texts: TextsInput) -> dict[str, str]:
    values = sample_values(rules, texts.text_bring)
    return {name: notifications.render_text(getattr(texts, name), values) for name in MAIL_TEXT_FIELDS}


# --- places (AD-07) ------------------------------------------------------------------------------------


def place_problems(data: PlaceInput, place: Place | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not data.code or len(data.code) > 40 or not CODE_PATTERN.match(data.code):
        problems["code"] = _("英数字・ハイフン・アンダースコアの40文字以内で入力してください。")
    elif Place.objects.filter(code=data.code).exclude(pk=place.pk if place else 0).exists():
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
    _dates_plausible(dates, problems)
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
        outside |= Q(slot__starts_at__lt=_day_range(starts_on, starts_on)[0])
    if ends_on:
        outside |= Q(slot__starts_at__gte=_day_range(ends_on, ends_on)[1])
    if not outside:
        return []
    return _affected(
        Booking.objects.filter(
            outside, slot__place=place, status=Booking.Status.CONFIRMED, slot__starts_at__gt=now
        )
    )


def do_save_place(
    actor: oplog.Actor, place: Place | None, data: PlaceInput, now: dt.datetime | None = None
) -> tuple[Place, dict[str, dict[str, Any]]]:
    """Add a place (`place` None) or change one; moving its start or end past confirmed bookings is
    refused."""
    now = now or timezone.now()
    problems = place_problems(data, place)
    if problems:
        raise SettingsInvalid(problems)
    values = _values(data)
    try:
        with transaction.atomic():
            if place is None:
                target = Place()
                before: dict[str, Any] = {}
            else:
                target = Place.objects.select_for_update().get(pk=place.pk)
                before = {name: getattr(target, name) for name in values}
            changes = _diff(before, values)
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
            _apply(target, values)
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


# --- opening patterns (AD-04 ①) -------------------------------------------------------------------------


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
        day = row.starts_at.astimezone(schedule.TOKYO).date()
        if day not in offered_by_day:
            offered_by_day[day] = _offered(patterns, day)
        new = offered_by_day[day].get(row.starts_at)
        if new is None:
            gone.append(row.pk)
        elif new.capacity < row.taken:
            plan.over.append(
                AffectedSlot(row.starts_at, row.ends_at, place.name, service.name, row.taken, new.capacity)
            )
        elif new.capacity != row.capacity or new.ends_at != row.ends_at:
            row.capacity, row.ends_at = new.capacity, new.ends_at
            plan.updates.append(row)
    if gone:
        plan.orphans = _affected(Booking.objects.filter(slot_id__in=gone, status=Booking.Status.CONFIRMED))
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
) -> tuple[OpeningPattern, dict[str, dict[str, Any]], int]:
    """Add a pattern to `place` (`pattern` None) or change one; returns it, the changes and the number of
    future slots whose capacity or end was brought in line. Refused (SettingsRefused) when a future slot
    would hold more people than its new capacity or a confirmed booking would sit in a time no longer
    offered."""
    now = now or timezone.now()
    problems = pattern_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    values = {**_values(data), "weekdays": tuple(sorted(set(data.weekdays)))}
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
            before = _pattern_values(target)
            services = [target.service, data.service]
        changes = _diff(before, values)
        if pattern is not None and not changes:
            return target, changes, 0
        _apply(target, {**values, "weekdays": list(values["weekdays"])})
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
            "deleted": {name: _shown(value) for name, value in _pattern_values(target).items()},
        }
        updated = _replan(place, [target.service], [p for p in current if p.pk != target.pk], now)
        target.delete()
        oplog.record(
            actor,
            "settings.pattern.delete",
            f"place {place.code} pattern {detail['pattern_id']}",
            {**detail, "slots_updated": updated},
        )


# --- closed days (BK-12) -------------------------------------------------------------------------------


def closed_day_problems(data: ClosedDayInput, today: dt.date) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not windows.plausible_day(data.date):
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
        status=Booking.Status.CONFIRMED, slot__starts_at__gte=_day_range(day, day)[0]
    ).filter(slot__starts_at__lt=_day_range(day, day)[1])
    if place is not None:
        bookings = bookings.filter(slot__place=place)
    return _affected(bookings)


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
    problems = closed_day_problems(data, _today(now))
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


# --- reads for the screens -----------------------------------------------------------------------------


def describe_deadline(rules: BookingSettings) -> str:
    if rules.deadline_days_before == 0:
        return _("利用日当日の%(time)sまで") % {"time": f"{rules.deadline_time:%-H:%M}"}
    return _("利用日の%(days)d日前の%(time)sまで") % {
        "days": rules.deadline_days_before,
        "time": f"{rules.deadline_time:%-H:%M}",
    }


def earliest_bookable_day(rules: BookingSettings, now: dt.datetime | None = None) -> dt.date:
    """The first day a citizen can book now, counting both the window and the deadline."""
    now = now or timezone.now()
    day = windows.first_bookable_day(now, rules)
    while dt.datetime.combine(
        day - dt.timedelta(days=rules.deadline_days_before), rules.deadline_time, tzinfo=schedule.TOKYO
    ) <= now.astimezone(schedule.TOKYO):
        day += dt.timedelta(days=1)
    return day


@dataclass(frozen=True)
class PatternRow:
    pattern: OpeningPattern
    days: str  # e.g. "月・水"


def patterns_by_service(place: Place) -> list[tuple[Service, list[PatternRow]]]:
    grouped: dict[int, list[PatternRow]] = defaultdict(list)
    for pattern in place.opening_patterns.select_related("service").order_by("opens_at", "pk"):
        grouped[pattern.service_id].append(PatternRow(pattern, describe_weekdays(pattern.weekdays)))
    return [(service, grouped[service.pk]) for service in Service.objects.all() if service.pk in grouped]
