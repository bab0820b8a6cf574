"""Mails in the language the person booked in (issue 15): confirmation, change, reminder and cancellation in
English for a booking made in English, in Japanese for one made in Japanese; the English mail text where the
municipality wrote one, the Japanese one (filled in Japanese) where it did not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from booking.engine.notifications import format_day, format_times
from booking.engine.outbox import do_queue_day_before_reminders, do_relay_outbox
from booking.engine.queries import booking_rules, closed_days_for
from booking.engine.services import do_book, do_cancel_booking, do_move_booking
from booking.lib.dates import TOKYO
from booking.models import Booking
from booking.rules import schedule
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("kyoto", "eager_celery")]
Capture = Callable[..., Any]


def test_english_dates_and_times_are_written_out_plainly() -> None:
    monday = dt.datetime(2025, 1, 6, 9, 0, tzinfo=TOKYO)
    assert format_day(monday, "en") == "Mon, Jan 6, 2025"
    assert format_day(monday) == "2025年1月6日（月）"
    assert format_times(monday, monday + dt.timedelta(minutes=15), "en") == "9:00–9:15"
    assert format_times(monday, monday + dt.timedelta(minutes=15), "ja") == "9:00〜9:15"
    # a moment late in the day in UTC is already the next day in Japan
    assert format_day(dt.datetime(2025, 1, 5, 20, 0, tzinfo=dt.UTC), "en") == "Mon, Jan 6, 2025"


def _two_starts(place_code: str = "kita") -> tuple[dt.datetime, dt.datetime]:
    """Two slots on one open day at least a week ahead (so that every deadline is still far)."""
    first = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=8), place_code=place_code)
    place = factories.place(place_code)
    day = first.astimezone(TOKYO).date()
    patterns = list(place.opening_patterns.filter(service__code="card_issuance"))
    slots = schedule.day_slots(place, patterns, day, closed_days_for(place, day, day))
    return slots[0].starts_at, slots[1].starts_at


def _walk_a_booking(capture: Capture, language: str) -> tuple[Booking, list[Any]]:
    """Book, change, remind, cancel; return the booking and the four mails, in that order."""
    first, second = _two_starts()
    long_before = first - dt.timedelta(days=7)
    the_day_before = dt.datetime.combine(
        first.astimezone(TOKYO).date() - dt.timedelta(days=1), dt.time(10), tzinfo=TOKYO
    )
    card = factories.issue_card().card
    place, service = factories.place("kita"), factories.card_issuance()
    with capture(execute=True):
        booking = do_book(
            card, place, service, first, contact_email="p@example.jp", language=language, now=long_before
        )
    with capture(execute=True):
        do_move_booking(booking, place, second, now=long_before)
    assert do_queue_day_before_reminders(the_day_before) == 1
    assert do_relay_outbox(the_day_before) == 1  # the confirmation and the change went out at their commit
    booking.refresh_from_db()
    with capture(execute=True):
        do_cancel_booking(booking, now=long_before)
    assert len(mail.outbox) == 4 and {m.to[0] for m in mail.outbox} == {"p@example.jp"}
    return booking, list(mail.outbox)


def test_a_booking_made_in_english_gets_every_mail_in_english(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    rules = booking_rules()
    rules.text_bring_en = "The postcard and a photo ID."
    rules.confirmation_mail_text_en = (
        "Booked: {date} {time} at {place} ({address}). Bring: {bring}. Until {deadline}."
    )
    rules.reminder_mail_text_en = "See you tomorrow, {date} {time}, at {place}."
    rules.save()
    booking, (booked, changed, reminder, cancelled) = _walk_a_booking(
        django_capture_on_commit_callbacks, "en"
    )
    assert booking.language == "en"
    place = factories.place("kita")
    assert place.name_en
    start = booking.slot.starts_at.astimezone(TOKYO)
    day = f"{start:%a}, {start:%b} {start.day}, {start.year}"  # as the English pages write it
    times = f"{start:%-H:%M}–{booking.slot.ends_at.astimezone(TOKYO):%-H:%M}"

    assert booked.subject == "[Booking confirmed] Your booking to collect your My Number Card"
    assert booked.body.startswith("Booked: ") and "Bring: The postcard and a photo ID." in booked.body
    assert place.name_en in booked.body and place.address in booked.body
    assert re.search(r"Until \w{3}, \w{3} \d{1,2}, \d{4} \d{1,2}:\d{2}\.", booked.body)

    assert changed.subject == "[Booking changed] Your booking to collect your My Number Card"
    assert changed.body.startswith("The date, time or place of your booking has been changed.")
    assert f"Booked: {day} {times} at {place.name_en}" in changed.body

    assert reminder.subject == "[Your booking is tomorrow] Collecting your My Number Card"
    assert reminder.body == f"See you tomorrow, {day} {times}, at {place.name_en}."

    assert cancelled.subject == "[Booking cancelled] Your booking to collect your My Number Card"
    assert cancelled.body.startswith("Your booking to collect your My Number Card has been cancelled.")
    assert f"Cancelled booking: {day} {times}" in cancelled.body
    for message in (booked, changed, reminder, cancelled):
        assert not re.search(r"[\u3040-\u30ff]", message.subject + message.body.replace(place.address, ""))


def test_a_booking_made_in_japanese_gets_every_mail_in_japanese(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    booking, (booked, changed, reminder, cancelled) = _walk_a_booking(
        django_capture_on_commit_callbacks, "ja"
    )
    assert booking.language == "ja"
    place = factories.place("kita")
    start = booking.slot.starts_at.astimezone(TOKYO)
    assert booked.subject == "【予約確認】マイナンバーカード交付のご予約"
    assert booked.body.startswith(f"{place.name}でのマイナンバーカード交付のご予約を承りました。")
    assert changed.subject == "【予約変更】マイナンバーカード交付のご予約"
    assert (
        f"{start.year}年{start.month}月{start.day}日" in changed.body and f"{start:%-H:%M}〜" in changed.body
    )
    assert reminder.subject == "【明日のご予約】マイナンバーカード交付"
    assert reminder.body.startswith("明日はマイナンバーカード交付のご予約日です。")
    assert cancelled.subject == "【予約取消】マイナンバーカード交付のご予約"
    assert cancelled.body.startswith("マイナンバーカード交付のご予約を取り消しました。")
    assert "Booking" not in booked.body + changed.body + reminder.body + cancelled.body


def test_without_an_english_mail_text_the_japanese_one_is_sent_filled_in_japanese(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    rules = booking_rules()
    rules.confirmation_mail_text_en = ""
    rules.save()
    start = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=8), place_code="kita")
    with django_capture_on_commit_callbacks(execute=True):
        do_book(
            factories.issue_card().card,
            factories.place("kita"),
            factories.card_issuance(),
            start,
            contact_email="p@example.jp",
            language="en",
            now=start - dt.timedelta(days=7),
        )
    (message,) = mail.outbox
    assert message.subject == "[Booking confirmed] Your booking to collect your My Number Card"
    local = start.astimezone(TOKYO)
    assert message.body.startswith(factories.place("kita").name + "での")  # the Japanese text, Japanese name
    assert f"{local.year}年{local.month}月{local.day}日" in message.body and rules.text_bring in message.body


def test_a_cancellation_without_an_address_sends_nothing(django_capture_on_commit_callbacks: Capture) -> None:
    start = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=8), place_code="kita")
    now = start - dt.timedelta(days=7)
    booking = do_book(
        factories.issue_card().card, factories.place("kita"), factories.card_issuance(), start, now=now
    )
    with django_capture_on_commit_callbacks(execute=True):
        do_cancel_booking(booking, now=now)
    assert mail.outbox == []
