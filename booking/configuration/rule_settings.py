"""The booking rules (AD-04 ②③, BK-13, AD-08): the booking window and deadline, the citizen's contact
fields, and the card rules; all columns of the tenant's one BookingSettings row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.configuration.changes import Seen, SettingsInvalid, tokyo_today, update_rules, values_of
from booking.lib.dates import TOKYO, plausible_day
from booking.lib.phone import phone_number
from booking.models import BookingSettings, FieldRequirement
from booking.rules import windows


@dataclass(frozen=True)
class WindowInput:
    first_days_ahead: int
    bookable_until: dt.date | None
    deadline_days_before: int
    deadline_time: dt.time
    hold_minutes: int
    booking_horizon_days: int


@dataclass(frozen=True)
class ContactInput:
    callcenter_phone: str  # as typed: "075-123-4567", full-width digits, "(075) 123-4567"; stored as digits
    callcenter_hours: str
    callcenter_hours_en: str


MAX_HOURS_TEXT = 100
MAX_HORIZON_DAYS = 366


@dataclass(frozen=True)
class CardRulesInput:
    transfer_cutoff_days_before: int
    transfer_cutoff_time: dt.time
    card_waiting_days: int


@dataclass(frozen=True)
class FieldsInput:
    phone_requirement: str
    email_requirement: str


# --- ② the booking window and the deadline ---------------------------------------------------------------


def window_problems(data: WindowInput, today: dt.date) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not 0 <= data.first_days_ahead <= 365:
        problems["first_days_ahead"] = _("0〜365日の間で入力してください（0は当日から予約可能）。")
    if not 0 <= data.deadline_days_before <= 60:
        problems["deadline_days_before"] = _("0〜60日の間で入力してください。")
    if not 1 <= data.hold_minutes <= 60:
        problems["hold_minutes"] = _("1〜60分の間で入力してください。")
    if not 1 <= data.booking_horizon_days <= MAX_HORIZON_DAYS:
        problems["booking_horizon_days"] = _("1〜%(max)d日の間で入力してください。") % {
            "max": MAX_HORIZON_DAYS
        }
    elif "first_days_ahead" not in problems and data.booking_horizon_days < data.first_days_ahead:
        problems["booking_horizon_days"] = _(
            "この設定では予約できる日がありません。何日先まで予約可能かを、何日後から予約可能か（%(first)d日）"
            "以上にしてください。"
        ) % {"first": data.first_days_ahead}
    until = data.bookable_until
    if until is not None:
        if not plausible_day(until):
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
    actor: oplog.Actor, data: WindowInput, now: dt.datetime | None = None, seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    """Save the booking window and deadline; returns what changed."""
    now = now or timezone.now()
    problems = window_problems(data, tokyo_today(now))
    if problems:
        raise SettingsInvalid(problems)
    return update_rules(actor, "settings.window", values_of(data), seen)


# --- the cards: when transfer lists are cut, when a card counts as waiting too long (BK-13, AD-08) ---------


def card_rules_problems(data: CardRulesInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not 0 <= data.transfer_cutoff_days_before <= 14:
        problems["transfer_cutoff_days_before"] = _("0〜14日の間で入力してください（0は当日）。")
    if not 1 <= data.card_waiting_days <= 365:
        problems["card_waiting_days"] = _("1〜365日の間で入力してください。")
    return problems


def do_update_card_rules(
    actor: oplog.Actor, data: CardRulesInput, seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    problems = card_rules_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return update_rules(actor, "settings.cards", values_of(data), seen)


# --- the call center residents are told to phone (issue 14 §5) ----------------------------------------------


def contact_problems(data: ContactInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    if data.callcenter_phone.strip() and phone_number(data.callcenter_phone) is None:
        problems["callcenter_phone"] = _(
            "電話番号の形式が正しくありません。075-123-4567 のように市外局番から入力してください。"
        )
    for name in ("callcenter_hours", "callcenter_hours_en"):
        value = getattr(data, name)
        if len(value.strip()) > MAX_HOURS_TEXT:
            problems[name] = _("%(max)d文字以内で入力してください。") % {"max": MAX_HOURS_TEXT}
        elif "\n" in value or "\r" in value:
            problems[name] = _("1行で入力してください（例: 平日 9:00〜17:00）。")
    if not problems and not data.callcenter_phone.strip() and data.callcenter_hours.strip():
        problems["callcenter_phone"] = _("受付時間を表示するには、電話番号も入力してください。")
    return problems


def do_update_contact(
    actor: oplog.Actor, data: ContactInput, seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    """Save the call center's number (as digits) and hours; returns what changed."""
    problems = contact_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    values = {
        "callcenter_phone": phone_number(data.callcenter_phone) or "",
        "callcenter_hours": data.callcenter_hours.strip(),
        "callcenter_hours_en": data.callcenter_hours_en.strip(),
    }
    return update_rules(actor, "settings.contact", values, seen)


# --- ③ the citizen's contact fields --------------------------------------------------------------------


def fields_problems(data: FieldsInput) -> dict[str, str]:
    return {
        name: _("「必須」「任意」「表示しない」から選んでください。")
        for name, value in values_of(data).items()
        if value not in FieldRequirement.values
    }


def do_update_fields(
    actor: oplog.Actor, data: FieldsInput, seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    problems = fields_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return update_rules(actor, "settings.fields", values_of(data), seen)


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
        day - dt.timedelta(days=rules.deadline_days_before), rules.deadline_time, tzinfo=TOKYO
    ) <= now.astimezone(TOKYO):
        day += dt.timedelta(days=1)
    return day
