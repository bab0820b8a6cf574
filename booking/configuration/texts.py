"""The citizen-screen texts and the mail texts (AD-04 ④), each with its English version (issue 15; empty: the
Japanese one is used), with the placeholders they may use and a preview of each mail as a citizen would get
it, in Japanese and in English."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.audit import oplog
from booking.configuration.changes import (
    NON_FIELD,
    Seen,
    SettingsInvalid,
    check_unchanged,
    diff,
    update_rules,
    values_of,
)
from booking.engine import notifications
from booking.engine.texts import LocalText, callcenter_contact, text_in
from booking.lib.dates import TOKYO
from booking.models import BookingSettings, Place, Service
from booking.rules import windows

MAX_TEXT = 5000
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60\u3000-\u303f]")
# Lazy: read at import time, shown in the language of the page that lists them.
PLACEHOLDER_HELP = {
    "date": gettext_lazy("予約日（例: 2025年1月6日（月））"),
    "time": gettext_lazy("時間（例: 9:00〜9:15）"),
    "place": gettext_lazy("交付場所の名称"),
    "address": gettext_lazy("交付場所の所在地"),
    "bring": gettext_lazy("持ち物（「持ち物」欄の文章）"),
    "deadline": gettext_lazy("変更・取消の締切（例: 2025年1月2日（木） 17:00）"),
    "callcenter": gettext_lazy(
        "コールセンターの電話番号と受付時間（例: コールセンター（075-123-4567、平日 9:00〜17:00））"
    ),
}
MAIL_TEXT_FIELDS = ("confirmation_mail_text", "reminder_mail_text", "callcenter_script")
# The English mail texts: checked like the Japanese ones, but may be empty (then the Japanese one is sent).
# The call center's script has none: operators read it out in Japanese.
ENGLISH_MAIL_TEXT_FIELDS = ("confirmation_mail_text_en", "reminder_mail_text_en")


@dataclass(frozen=True)
class TextsInput:
    # Each English version beside its Japanese text: the form shows them in this order.
    text_top: str
    text_top_en: str
    text_bring: str
    text_bring_en: str
    text_done: str
    text_done_en: str
    confirmation_mail_text: str
    confirmation_mail_text_en: str
    reminder_mail_text: str
    reminder_mail_text_en: str
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
    for name in (*MAIL_TEXT_FIELDS, *ENGLISH_MAIL_TEXT_FIELDS):
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


def do_update_texts(
    actor: oplog.Actor, data: TextsInput, seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    """Save the citizen-screen texts and mail texts (plain text, always shown escaped); refused when they
    are no longer what the page showed (`seen`)."""
    problems = texts_problems(data)
    if problems:
        raise SettingsInvalid(problems)
    return update_rules(actor, "settings.texts", values_of(data), seen)


def sample_values(
    rules: BookingSettings, bring: str, now: dt.datetime | None = None, language: str = "ja"
) -> dict[str, str]:
    """The placeholders filled as for a made-up booking at the first place, on the first bookable day, in
    `language` (as `notifications.booking_values` fills them for a real booking)."""
    now = now or timezone.now()
    place = Place.objects.order_by("display_order", "code").first()
    start = dt.datetime.combine(windows.first_bookable_day(now, rules), dt.time(10, 0), tzinfo=TOKYO)
    for _day in range(366):  # a day that could be booked now: its deadline not yet passed
        if windows.deadline_for(start, rules) > now:
            break
        start += dt.timedelta(days=1)
    pattern = place.opening_patterns.order_by("pk").first() if place else None
    end = start + dt.timedelta(minutes=pattern.slot_minutes if pattern else 15)  # the place's own slot length
    deadline = windows.deadline_for(start, rules)
    english = language == "en"
    if place is None:
        place_name, address = _("（交付場所の名称）"), _("（交付場所の所在地）")
    else:
        place_name = (place.name_en or place.name) if english else place.name
        address = place.address
    return {
        "date": notifications.format_day(start, language),
        "time": notifications.format_times(start, end, language),
        "place": place_name,
        "address": address,
        "bring": bring,
        "deadline": notifications.format_moment(deadline, language),
        "callcenter": callcenter_contact(rules, language),
    }


def mail_previews(rules: BookingSettings, texts: TextsInput) -> dict[str, LocalText]:
    """Each mail as a person who booked in Japanese gets it, and (`…_en`) as one who booked in English does:
    the English text, or the Japanese one filled in Japanese where there is none (`lang` "ja")."""
    japanese = sample_values(rules, texts.text_bring)
    previews = {
        name: LocalText(notifications.render_text(getattr(texts, name), japanese))
        for name in MAIL_TEXT_FIELDS
    }
    # The typed texts, not the saved ones: a preview shows what saving would send.
    typed = BookingSettings(**{f: getattr(texts, f) for f in values_of(texts) if f != "report_emails"})
    english_bring = text_in(typed, "text_bring", "en").text
    for name in ("confirmation_mail_text", "reminder_mail_text"):
        text = text_in(typed, name, "en")
        if text.lang == "ja":
            preview = notifications.render_text(text.text, japanese)
        else:
            preview = _english_preview(text.text, sample_values(rules, english_bring, language="en"))
        previews[f"{name}_en"] = LocalText(preview, text.lang)
    return previews


def _english_preview(text: str, values: dict[str, str]) -> str:
    """The English mail as HTML, each Japanese value in it (an address, a place with no English name) marked
    lang="ja" for screen readers. Braces survive escaping, so the escaped text is filled like the mail."""
    marked = {
        name: format_html('<span lang="ja">{}</span>', value) if _JAPANESE.search(value) else escape(value)
        for name, value in values.items()
    }
    return mark_safe(notifications.render_text(escape(text), marked))  # noqa: S308 (all of it escaped above)


# --- what to bring, per service (issue 14 §5) -------------------------------------------------------------


@dataclass(frozen=True)
class BringInput:
    """One service's own "what to bring"; empty: the general text (`text_bring`) is used for it."""

    code: str
    bring_text: str
    bring_text_en: str


def bring_problems(items: Sequence[BringInput]) -> dict[str, str]:
    """Keyed "<code>__<field>", as the form names its fields."""
    known = set(Service.objects.values_list("code", flat=True))
    problems: dict[str, str] = {}
    for item in items:
        if item.code not in known:
            problems[NON_FIELD] = _("このサービスはありません。画面を開き直してください。")
            continue
        for name in ("bring_text", "bring_text_en"):
            if len(getattr(item, name)) > MAX_TEXT:
                problems[f"{item.code}__{name}"] = _("%(max)d文字以内で入力してください。") % {
                    "max": MAX_TEXT
                }
    return problems


def bring_values(services: Iterable[Service]) -> dict[str, str]:
    """Each service's "what to bring", keyed as the form names its fields."""
    return {
        f"{service.code}__{name}": getattr(service, name)
        for service in services
        for name in ("bring_text", "bring_text_en")
    }


def do_update_bring_texts(
    actor: oplog.Actor, items: Sequence[BringInput], seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    """Save each service's "what to bring" and log what changed, in one transaction; refused when they are
    no longer what the page showed (`seen`)."""
    problems = bring_problems(items)
    if problems:
        raise SettingsInvalid(problems)
    all_changes: dict[str, dict[str, Any]] = {}
    with transaction.atomic():
        services = {
            s.code: s for s in Service.objects.select_for_update().filter(code__in=[i.code for i in items])
        }
        if len(services) < len(items):  # a service deleted since the check above
            raise SettingsInvalid({NON_FIELD: _("このサービスはありません。画面を開き直してください。")})
        check_unchanged(seen, bring_values(services.values()))
        for item in items:
            service = services[item.code]
            values = {"bring_text": item.bring_text.strip(), "bring_text_en": item.bring_text_en.strip()}
            changes = diff({name: getattr(service, name) for name in values}, values)
            if changes:
                Service.objects.filter(pk=service.pk).update(**values)
                all_changes.update({f"{item.code}.{name}": change for name, change in changes.items()})
        if all_changes:
            oplog.record(actor, "settings.bring", "services", {"changes": all_changes})
    return all_changes
