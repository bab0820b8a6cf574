"""Mails to citizens: the booking confirmation, the change and cancellation notices and the day-before
reminder, in the tenant's wording and in the language the person booked in (`Booking.language`)."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from booking.engine.queries import booking_rules
from booking.engine.texts import language_of, text_in
from booking.lib.dates import TOKYO, japanese_date
from booking.models import Booking
from booking.rules import windows
from integrations.mail import send_text_mail

PLACEHOLDERS = ("date", "time", "place", "address", "bring", "deadline")
# What a booking mail says happened: a new booking, a change of its day or place, its cancellation.
BOOKED, CHANGED, CANCELLED = "booked", "changed", "cancelled"
MAIL_KINDS = (BOOKED, CHANGED, CANCELLED)

# English names written out here rather than taken from the locale: a mail reads the same on every server,
# whatever C library locales it has.
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # an unknown placeholder is shown as written, never an error


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Fill {date}, {time}, {place}, {address}, {bring}, {deadline}; anything else stays as typed."""
    formatter = string.Formatter()
    try:
        return formatter.vformat(template, (), _Blank(values))
    except (ValueError, IndexError):
        return template  # braces that are not placeholders: the staff's text as it is


def format_day(when: dt.datetime, language: str = "ja") -> str:
    """The day of a moment in Japan, as the mails write it: 2026年11月20日（金）, or Fri 20 November 2026."""
    day = when.astimezone(TOKYO).date()
    if language_of(language) == Booking.Language.EN:
        return f"{_WEEKDAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return japanese_date(day)


def format_times(start: dt.datetime, end: dt.datetime, language: str = "ja") -> str:
    """A slot's times in Japan: 9:00〜9:15 in Japanese, 9:00–9:15 (an en dash) in English."""
    dash = "–" if language_of(language) == Booking.Language.EN else "〜"
    return f"{start.astimezone(TOKYO):%-H:%M}{dash}{end.astimezone(TOKYO):%-H:%M}"


def format_moment(when: dt.datetime, language: str = "ja") -> str:
    """A deadline: 2025年1月2日（木） 17:00, or Thu 2 January 2025 17:00."""
    return f"{format_day(when, language)} {when.astimezone(TOKYO):%-H:%M}"


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
        "bring": text_in(rules, "text_bring", language).text,
        "deadline": format_moment(deadline, language),
    }


def _mail_body(booking: Booking, text_name: str) -> str:
    """The tenant's mail text in the booking's language, filled in: the English text where there is one,
    else the Japanese text filled in Japanese (an English date inside a Japanese sentence reads worse)."""
    text = text_in(booking_rules(), text_name, booking.language)
    language = Booking.Language.JA if text.lang == "ja" else booking.language
    return render_text(text.text, booking_values(booking, language))


def _cancellation_body(booking: Booking) -> str:
    values = booking_values(booking, booking.language)
    return (
        _(
            "マイナンバーカード交付のご予約を取り消しました。\n"
            "取り消したご予約: %(date)s %(time)s\n"
            "場所: %(place)s（%(address)s）\n"
            "改めて予約する場合は、予約サイトから行ってください。"
        )
        % values
    )


def send_booking_mail(booking: Booking, kind: str = BOOKED) -> bool:
    """Mail the person about their booking (made, changed or cancelled), in the language they booked in.

    Sent only while the booking is still in the state the mail describes: a booking cancelled before its
    confirmation went out gets only the cancellation."""
    if not booking.contact_email:
        return False
    cancelled = booking.status == Booking.Status.CANCELLED
    if (kind == CANCELLED) != cancelled:
        return False
    with translation.override(booking.language):
        if kind == CANCELLED:
            subject = _("【予約取消】マイナンバーカード交付のご予約")
            body = _cancellation_body(booking)
        elif kind == CHANGED:
            subject = _("【予約変更】マイナンバーカード交付のご予約")
            lead = _("ご予約の日時・場所を変更しました。変更後のご予約は次のとおりです。")
            body = f"{lead}\n\n{_mail_body(booking, 'confirmation_mail_text')}"
        else:
            subject = _("【予約確認】マイナンバーカード交付のご予約")
            body = _mail_body(booking, "confirmation_mail_text")
    send_text_mail(booking.contact_email, subject, body)
    return True


def send_confirmation(booking: Booking) -> bool:
    """The confirmation of a new booking (kept for callers that name it)."""
    return send_booking_mail(booking, BOOKED)


def reminders_due(now: dt.datetime | None = None) -> list[Booking]:
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


def send_reminder(booking: Booking) -> None:
    with translation.override(booking.language):
        subject = _("【明日のご予約】マイナンバーカード交付")
        body = _mail_body(booking, "reminder_mail_text")
    send_text_mail(booking.contact_email, subject, body)


def do_send_day_before_reminders(now: dt.datetime | None = None) -> int:
    """Mail everyone booked for tomorrow who gave an address, once each."""
    now = now or timezone.now()
    sent = 0
    for booking in reminders_due(now):
        # Marked before sending: a crash between the two loses one reminder rather than sending it twice.
        marked = Booking.objects.filter(pk=booking.pk, reminder_sent_at__isnull=True).update(
            reminder_sent_at=now
        )
        if marked:
            send_reminder(booking)
            sent += 1
    return sent
