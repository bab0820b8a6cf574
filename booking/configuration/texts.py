"""The citizen-screen texts and the mail texts (AD-04 ④), with the placeholders they may use and a preview of
each mail as a citizen would get it."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.configuration.changes import SettingsInvalid, update_rules, values_of
from booking.engine import notifications
from booking.lib.dates import TOKYO
from booking.models import BookingSettings, Place
from booking.rules import windows

MAX_TEXT = 5000
PLACEHOLDER_HELP = {
    "date": "予約日（例: 2025年1月6日（月））",
    "time": "時間（例: 9:00〜9:15）",
    "place": "交付場所の名称",
    "address": "交付場所の所在地",
    "bring": "持ち物（「持ち物」欄の文章）",
    "deadline": "変更・取消の締切（例: 2025年1月2日（木） 17:00）",
}
MAIL_TEXT_FIELDS = ("confirmation_mail_text", "reminder_mail_text", "callcenter_script")


@dataclass(frozen=True)
class TextsInput:
    text_top: str
    text_bring: str
    text_done: str
    confirmation_mail_text: str
    reminder_mail_text: str
    callcenter_script: str
    report_emails: str


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
    for name, value in values_of(data).items():
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
    return update_rules(actor, "settings.texts", values_of(data))


def sample_values(rules: BookingSettings, bring: str, now: dt.datetime | None = None) -> dict[str, str]:
    """The placeholders filled as for a made-up booking at the first place, on the first bookable day."""
    now = now or timezone.now()
    place = Place.objects.order_by("display_order", "code").first()
    start = dt.datetime.combine(windows.first_bookable_day(now, rules), dt.time(10, 0), tzinfo=TOKYO)
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
