"""Mails to citizens: the booking confirmation and the day-before reminder, in the tenant's wording."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping

from django.utils import timezone

from booking.engine.queries import booking_rules
from booking.lib.dates import TOKYO, japanese_date
from booking.models import Booking
from booking.rules import windows
from integrations.mail import send_text_mail

PLACEHOLDERS = ("date", "time", "place", "address", "bring", "deadline")


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


def format_day(when: dt.datetime) -> str:
    """The day of a moment in Japan, as the mails write it: 2026年11月20日（金）."""
    return japanese_date(when.astimezone(TOKYO).date())


def booking_values(booking: Booking) -> dict[str, str]:
    rules = booking_rules()
    slot = booking.slot
    start = slot.starts_at.astimezone(TOKYO)
    deadline = windows.deadline_for(slot.starts_at, rules)
    return {
        "date": format_day(start),
        "time": f"{start:%-H:%M}〜{slot.ends_at.astimezone(TOKYO):%-H:%M}",
        "place": slot.place.name,
        "address": slot.place.address,
        "bring": rules.text_bring,
        "deadline": f"{format_day(deadline)} {deadline:%-H:%M}",
    }


def send_confirmation(booking: Booking) -> bool:
    if not booking.contact_email or booking.status != Booking.Status.CONFIRMED:
        return False
    body = render_text(booking_rules().confirmation_mail_text, booking_values(booking))
    send_text_mail(booking.contact_email, "【予約確認】マイナンバーカード交付のご予約", body)
    return True


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
    body = render_text(booking_rules().reminder_mail_text, booking_values(booking))
    send_text_mail(booking.contact_email, "【明日のご予約】マイナンバーカード交付", body)


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
