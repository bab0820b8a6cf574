"""Mails to citizens: the booking confirmation, the change and cancellation notices and the day-before
reminder, in the tenant's wording and in the language the person booked in (`Booking.language`).

This module writes them; `booking.engine.outbox` queues them in the booking's transaction and sends them."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from booking.engine.queries import booking_rules
from booking.engine.texts import bring_for, callcenter_contact, language_of, text_in
from booking.lib import dates
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingSettings
from booking.rules import windows
from integrations.mail import send_text_mail

PLACEHOLDERS = ("date", "time", "place", "address", "bring", "deadline", "callcenter")
# What a booking mail says happened: a new booking, a change of its day or place, its cancellation.
BOOKED, CHANGED, CANCELLED = "booked", "changed", "cancelled"
# The day-before reminder (`OutboxMail.Kind` names the same four).
REMINDER = "reminder"
MAIL_KINDS = (BOOKED, CHANGED, CANCELLED, REMINDER)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # an unknown placeholder is shown as written, never an error


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Fill {date}, {time}, {place}, {address}, {bring}, {deadline}, {callcenter}; anything else stays as
    typed."""
    formatter = string.Formatter()
    try:
        return formatter.vformat(template, (), _Blank(values))
    except (ValueError, IndexError):
        return template  # braces that are not placeholders: the staff's text as it is


def _language_code(language: str) -> str:
    return "en" if language_of(language) == Booking.Language.EN else "ja"


def format_day(when: dt.datetime, language: str = "ja") -> str:
    """The day of a moment in Japan, as the pages write it (`booking.lib.dates`, one way for both):
    2026年11月20日（金）, or Fri, Nov 20, 2026."""
    return dates.local_date(when.astimezone(TOKYO).date(), _language_code(language))


def format_times(start: dt.datetime, end: dt.datetime, language: str = "ja") -> str:
    """A slot's times in Japan: 9:00〜9:15 in Japanese, 9:00–9:15 (an en dash) in English."""
    return dates.time_range(
        start.astimezone(TOKYO).time(), end.astimezone(TOKYO).time(), _language_code(language)
    )


def format_moment(when: dt.datetime, language: str = "ja") -> str:
    """A deadline: 2025年1月2日（木） 17:00, or Thu, Jan 2, 2025 17:00."""
    return dates.local_moment(when, _language_code(language))


def booking_values(booking: Booking, language: str = "ja") -> dict[str, str]:
    """The placeholders of `booking` in `language` (Japanese unless asked: the call center's script is read
    out in Japanese). The place's English name where it has one; addresses exist in Japanese only."""
    rules = booking_rules()
    slot = booking.slot
    deadline = windows.deadline_for(slot.starts_at, rules)
    english = language_of(language) == Booking.Language.EN
    return {
        "date": format_day(slot.starts_at, language),
        "time": format_times(slot.starts_at, slot.ends_at, language),
        "place": (slot.place.name_en or slot.place.name) if english else slot.place.name,
        "address": slot.place.address,
        "bring": bring_for(rules, slot.service, language).text,  # the booked service's own, if it has one
        "deadline": format_moment(deadline, language),
        "callcenter": callcenter_contact(rules, language),
    }


def _mail_body(booking: Booking, text_name: str, language: str) -> str:
    """The tenant's mail text in `language`, filled in: the English text where there is one, else the
    Japanese text filled in Japanese (an English date inside a Japanese sentence reads worse)."""
    rules = booking_rules()
    text = text_in(rules, text_name, language)
    filled_in = Booking.Language.JA if text.lang == "ja" else language
    return render_text(text.text, booking_values(booking, filled_in)) + _contact_footer(
        rules, text.text, filled_in
    )


def _contact_footer(rules: BookingSettings, text: str, language: str) -> str:
    """Every mail names the call center's number, once: a line at the end unless the municipality's text
    already says {callcenter} (texts written before the placeholder existed get it too)."""
    if not rules.callcenter_phone or "{callcenter}" in text:
        return ""
    with translation.override(language):
        return "\n\n" + _("お問い合わせ: %(callcenter)s") % {
            "callcenter": callcenter_contact(rules, language)
        }


def _cancellation_body(booking: Booking, language: str) -> str:
    values = booking_values(booking, language)
    return (
        _(
            "マイナンバーカード交付のご予約を取り消しました。\n"
            "取り消したご予約: %(date)s %(time)s\n"
            "場所: %(place)s（%(address)s）\n"
            "改めて予約する場合は、予約サイトから行ってください。"
        )
        % values
    ) + _contact_footer(booking_rules(), "", language)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def compose_booking_mail(booking: Booking, kind: str, language: str | None = None) -> Mail | None:
    """The mail about a booking (made, changed, cancelled, or tomorrow's reminder) in `language` (the
    booking's by default), written when it is sent; None when there is nothing to send any more.

    A mail goes out only while the booking is still in the state it describes: a booking cancelled before
    its confirmation or reminder went out gets only the cancellation."""
    if not booking.contact_email or kind not in MAIL_KINDS:
        return None
    cancelled = booking.status == Booking.Status.CANCELLED
    if (kind == CANCELLED) != cancelled:
        return None
    language = language_of(language or booking.language)
    with translation.override(language):
        if kind == CANCELLED:
            subject = _("【予約取消】マイナンバーカード交付のご予約")
            body = _cancellation_body(booking, language)
        elif kind == CHANGED:
            subject = _("【予約変更】マイナンバーカード交付のご予約")
            lead = _("ご予約の日時・場所を変更しました。変更後のご予約は次のとおりです。")
            body = f"{lead}\n\n{_mail_body(booking, 'confirmation_mail_text', language)}"
        elif kind == REMINDER:
            subject = _("【明日のご予約】マイナンバーカード交付")
            body = _mail_body(booking, "reminder_mail_text", language)
        else:
            subject = _("【予約確認】マイナンバーカード交付のご予約")
            body = _mail_body(booking, "confirmation_mail_text", language)
    return Mail(booking.contact_email, str(subject), body)


def send_mail(mail: Mail) -> None:
    """Hand one mail to the mail server (SMTP errors are OSErrors: the outbox's relay retries them)."""
    send_text_mail(mail.to, mail.subject, mail.body)


def reminders_due(now: dt.datetime | None = None) -> list[Booking]:
    """Tomorrow's confirmed bookings with an address whose reminder is not yet queued."""
    tomorrow = (now or timezone.now()).astimezone(TOKYO).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(tomorrow, dt.time.min, tzinfo=TOKYO)
    return list(
        Booking.objects.select_related("slot__place")
        .filter(
            status=Booking.Status.CONFIRMED,
            reminder_sent_at__isnull=True,
            slot__starts_at__gte=start,
            slot__starts_at__lt=start + dt.timedelta(days=1),
        )
        .exclude(contact_email="")
    )
