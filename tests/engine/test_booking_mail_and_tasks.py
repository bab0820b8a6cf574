"""Mails to citizens (confirmation, day-before reminder in the tenant's wording) and the periodic tasks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from booking.engine.notifications import render_text
from booking.engine.outbox import do_queue_day_before_reminders, do_relay_outbox
from booking.engine.queries import booking_rules
from booking.engine.services import do_book, do_hold
from booking.lib.dates import TOKYO
from booking.models import Booking, Hold
from tenants.tasks import for_each_tenant
from tests import factories
from tests.processes import celery_worker

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_placeholders_are_filled_and_anything_else_is_left_as_typed() -> None:
    values = {"date": "2026年12月1日（火）", "place": "北区役所"}
    assert render_text("{date} {place} {unknown} {", values) == "{date} {place} {unknown} {"
    assert render_text("{date}に{place}へ {unknown}", values) == "2026年12月1日（火）に北区役所へ {unknown}"


@pytest.mark.usefixtures("kyoto")
def test_day_before_reminder_once_in_the_tenants_wording() -> None:
    rules = booking_rules()
    rules.reminder_mail_text = "明日 {date} {time}、{place}でお待ちしています。持ち物: {bring}"
    rules.save()
    start = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=5), place_code="kita")
    the_day_before = dt.datetime.combine(
        start.astimezone(TOKYO).date() - dt.timedelta(days=1), dt.time(10), tzinfo=TOKYO
    )
    with_mail, without_mail = factories.issue_cards(2)
    do_book(
        with_mail,
        factories.place("kita"),
        factories.card_issuance(),
        start,
        contact_email="h@example.jp",
        now=the_day_before - dt.timedelta(days=5),
    )
    do_book(
        without_mail,
        factories.place("kita"),
        factories.card_issuance(),
        start,
        now=the_day_before - dt.timedelta(days=5),
    )

    assert (
        do_queue_day_before_reminders(the_day_before - dt.timedelta(days=1)) == 0
    )  # two days before: nothing
    assert do_queue_day_before_reminders(the_day_before) == 1
    assert do_queue_day_before_reminders(the_day_before) == 0  # never twice
    assert do_relay_outbox(the_day_before) == 2  # the booking's confirmation, then its reminder
    assert do_relay_outbox(the_day_before) == 0

    confirmation, message = mail.outbox
    assert confirmation.subject == "【予約確認】マイナンバーカード交付のご予約"
    assert message.subject == "【明日のご予約】マイナンバーカード交付"
    assert message.to == ["h@example.jp"]
    assert (
        message.body.startswith("明日 ") and "北区役所 カード交付コーナーでお待ちしています" in message.body
    )
    assert f"{start.astimezone(TOKYO):%-H:%M}〜" in message.body
    assert rules.text_bring in message.body
    assert Booking.objects.get(card=with_mail).reminder_sent_at == the_day_before


@pytest.mark.usefixtures("kyoto")
def test_cancelled_bookings_get_no_reminder() -> None:
    start = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=5), place_code="kita")
    the_day_before = dt.datetime.combine(
        start.astimezone(TOKYO).date() - dt.timedelta(days=1), dt.time(10), tzinfo=TOKYO
    )
    card = factories.issue_card().card
    booking = do_book(
        card,
        factories.place("kita"),
        factories.card_issuance(),
        start,
        contact_email="x@example.jp",
        now=the_day_before - dt.timedelta(days=5),
    )
    Booking.objects.filter(pk=booking.pk).update(status="cancelled", cancelled_at=the_day_before)
    assert do_queue_day_before_reminders(the_day_before) == 0


def test_beat_fan_out_runs_the_tenant_task_in_each_tenants_schema(
    committed_kyoto: Callable[[Callable[[], Any]], Any],
) -> None:
    """for_each_tenant → Redis → a real worker → the task runs in kyoto's schema and releases its holds."""

    def expired_hold() -> int:
        card = factories.issue_card().card
        hold = do_hold(
            card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at
        )
        Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
        return hold.pk

    hold_id = committed_kyoto(expired_hold)
    with celery_worker() as worker:
        assert for_each_tenant("booking.release_expired_holds", queue=worker.queue) >= 2  # kyoto and mihon
        worker.wait_for(
            lambda: committed_kyoto(lambda: not Hold.objects.filter(pk=hold_id).exists()),
            "release the expired hold",
        )
