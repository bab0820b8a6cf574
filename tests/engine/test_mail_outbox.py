"""The mail outbox (issue 11): a booking and its mail are committed together; the relay sends each mail
once, also with two relays at once; a broker outage delays a mail and an SMTP outage retries it with
backoff until it fails for good; a tenant's relay sends only its own tenant's mails."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from kombu.exceptions import OperationalError

from booking.engine import outbox, tasks
from booking.engine.services import do_book, do_cancel_booking
from booking.jobs import enqueue
from booking.models import Booking, OperationLogEntry, OutboxMail, Place, Service, Slot
from tests import factories, lost_connections
from tests.concurrency import race

pytestmark = pytest.mark.django_db
Capture = Callable[..., Any]
Status = OutboxMail.Status


class SmtpDown(BaseEmailBackend):
    """A mail server that refuses every connection, as smtplib reports it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise smtplib.SMTPConnectError(421, b"mail.example.jp closing transmission channel")


def _book(email: str = "p@example.jp", **kwargs: Any) -> Booking:
    free = factories.next_free_slot(after_days=kwargs.pop("after_days", 7))
    return do_book(
        factories.issue_card().card,
        factories.place(),
        factories.card_issuance(),
        free.starts_at,
        contact_email=email,
        **kwargs,
    )


@pytest.mark.usefixtures("kyoto")
def test_a_booking_writes_its_mail_in_its_own_transaction() -> None:
    booking = _book(language="en")
    row = OutboxMail.objects.get()
    assert (row.booking_id, row.kind, row.language, row.status) == (
        booking.pk,
        "booked",
        "en",
        Status.PENDING,
    )
    assert row.attempts == 0 and row.sent_at is None and row.last_error == ""
    assert mail.outbox == []  # written, not yet sent

    # the same booking rolled back: neither the booking nor its mail
    card = factories.issue_card().card
    with pytest.raises(RuntimeError), transaction.atomic():
        do_book(
            card,
            factories.place(),
            factories.card_issuance(),
            factories.next_free_slot(after_days=8).starts_at,
            contact_email="q@example.jp",
        )
        raise RuntimeError("the request failed after the booking")
    assert not Booking.objects.filter(card=card).exists()
    assert OutboxMail.objects.count() == 1

    _book(email="", after_days=9)  # no address: no mail
    assert OutboxMail.objects.count() == 1
    do_cancel_booking(booking)
    assert list(OutboxMail.objects.order_by("pk").values_list("kind", flat=True)) == ["booked", "cancelled"]


@pytest.mark.usefixtures("kyoto")
def test_the_relay_sends_a_mail_once_and_marks_it_sent() -> None:
    _book()
    assert outbox.do_relay_outbox() == 1
    row = OutboxMail.objects.get()
    assert row.status == Status.SENT and row.sent_at is not None and row.attempts == 1
    (message,) = mail.outbox
    assert message.to == ["p@example.jp"] and message.subject == "【予約確認】マイナンバーカード交付のご予約"
    assert outbox.do_relay_outbox() == 0
    assert outbox.do_relay_outbox(timezone.now() + dt.timedelta(days=1)) == 0  # sent is final
    assert len(mail.outbox) == 1

    # cancelled before its confirmation went out: only the cancellation is sent
    later = _book(after_days=10)
    do_cancel_booking(later)
    assert outbox.do_relay_outbox() == 1
    assert [m.subject for m in mail.outbox[1:]] == ["【予約取消】マイナンバーカード交付のご予約"]
    statuses = dict(OutboxMail.objects.filter(booking=later).values_list("kind", "status"))
    assert statuses == {"booked": Status.SKIPPED, "cancelled": Status.SENT}


def test_two_relays_at_once_send_each_mail_once(committed_kyoto: Callable[[Callable[[], Any]], Any]) -> None:
    def six_bookings() -> list[int]:
        return [_book(email=f"r{n}@example.jp", after_days=7 + n).pk for n in range(6)]

    committed_kyoto(six_bookings)
    outcomes = race([lambda: outbox.do_relay_outbox(batch=2) for _ in range(4)])
    assert outcomes == Counter({"ok": 4})
    sent_to = Counter(m.to[0] for m in mail.outbox)
    assert sent_to == Counter({f"r{n}@example.jp": 1 for n in range(6)})
    rows = committed_kyoto(lambda: list(OutboxMail.objects.values_list("status", "attempts")))
    assert sorted(rows) == [(Status.SENT, 1)] * 6


@pytest.mark.usefixtures("kyoto", "eager_celery")
def test_with_the_broker_down_the_booking_stands_and_beats_relay_sends_the_mail(
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the broker up (eager here): the kick after the commit sends the mail at once
    with django_capture_on_commit_callbacks(execute=True):
        _book(email="up@example.jp")
    assert [m.to for m in mail.outbox] == [["up@example.jp"]]

    class Unreachable:
        def delay(self, *args: object) -> None:
            raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(enqueue, "registered_task", lambda name: Unreachable())
    with (
        caplog.at_level(logging.WARNING, logger="booking.engine.outbox"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        booking = _book(email="down@example.jp", after_days=8)
    assert Booking.objects.filter(pk=booking.pk, status="confirmed").exists()
    assert OutboxMail.objects.get(booking=booking).status == Status.PENDING
    assert len(mail.outbox) == 1
    assert "mail relay not kicked" in caplog.text and "down@example.jp" not in caplog.text

    assert tasks.relay_mail_outbox() == 1  # what beat's entry runs in each tenant every minute
    assert mail.outbox[-1].to == ["down@example.jp"]
    assert OutboxMail.objects.get(booking=booking).status == Status.SENT


@pytest.mark.usefixtures("kyoto")
def test_smtp_errors_are_retried_with_backoff_then_the_mail_fails(settings: Any) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.SmtpDown"
    booking = _book()
    now = timezone.now()
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        assert outbox.do_relay_outbox(now) == 0
        row = OutboxMail.objects.get()
        assert (row.status, row.attempts) == (Status.PENDING, attempt)
        assert row.last_error == "SMTPConnectError 421"  # no message text: it may name the address
        waits.append(row.next_attempt_at - now)
        assert outbox.do_relay_outbox(row.next_attempt_at - dt.timedelta(seconds=1)) == 0  # not yet due
        assert OutboxMail.objects.get().attempts == attempt
        now = row.next_attempt_at
    assert waits[:4] == [dt.timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert all(wait <= outbox.LONGEST_RETRY for wait in waits)

    assert outbox.do_relay_outbox(now) == 0  # the last try
    row = OutboxMail.objects.get()
    assert (row.status, row.attempts, row.sent_at) == (Status.FAILED, outbox.MAX_ATTEMPTS, None)
    entry = OperationLogEntry.objects.get(action="mail.failed")
    assert entry.username == "system" and entry.target == f"outbox {row.pk}"
    assert entry.detail["booking"] == booking.pk and entry.detail["error"] == "SMTPConnectError 421"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.do_relay_outbox(now + dt.timedelta(days=1)) == 0  # failed is final
    assert mail.outbox == []


@pytest.mark.usefixtures("kyoto")
def test_a_mail_server_back_after_an_error_gets_the_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.SmtpDown"
    _book()
    now = timezone.now()
    assert outbox.do_relay_outbox(now) == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retry = OutboxMail.objects.get().next_attempt_at
    assert outbox.do_relay_outbox(retry) == 1
    row = OutboxMail.objects.get()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 2, "")
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("kyoto")
def test_a_claim_left_by_a_dead_worker_is_taken_again_after_its_lease() -> None:
    _book()
    now = timezone.now()
    OutboxMail.objects.update(status=Status.SENDING, attempts=1, next_attempt_at=now + outbox.LEASE)
    assert outbox.do_relay_outbox(now) == 0  # another worker's claim: left alone
    assert outbox.do_relay_outbox(now + outbox.LEASE) == 1  # the worker died: sent (at least once)
    assert OutboxMail.objects.get().attempts == 2


def test_a_tenants_relay_never_sends_another_tenants_mail(tenants: Any) -> None:
    with schema_context("mihon"):
        service, _created = Service.objects.get_or_create(
            code="card_issuance", defaults={"name": "カード交付"}
        )
        place = Place.objects.create(code="mihon-hall", name="見本市役所", address="見本市本町1-1")
        starts = timezone.now() + dt.timedelta(days=7)
        slot = Slot.objects.create(
            place=place,
            service=service,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=15),
            capacity=1,
        )
        theirs = Booking.objects.create(
            slot=slot,
            caller_name_kana="ミホン タロウ",
            contact_phone="0751234567",
            contact_email="m@example.jp",
        )
        outbox.queue_booking_mail(theirs, "booked")
    with schema_context("kyoto"):
        _book(email="k@example.jp")
        assert outbox.do_relay_outbox() == 1
    assert [m.to for m in mail.outbox] == [["k@example.jp"]]
    with schema_context("mihon"):
        assert OutboxMail.objects.get().status == Status.PENDING
        assert outbox.do_relay_outbox() == 1
    assert [m.to for m in mail.outbox] == [["k@example.jp"], ["m@example.jp"]]


def test_a_mail_taken_over_by_another_relay_is_not_sent_again(kyoto: None) -> None:
    """A relay slower than its lease (a hung mail server) must not send what another relay took meanwhile."""
    row = OutboxMail.objects.create(kind=OutboxMail.Kind.BOOKED, language="ja", recipient="a@example.jp")
    now = timezone.now()
    (claimed,) = outbox._claim(now, 10)
    OutboxMail.objects.filter(pk=row.pk).update(attempts=claimed.attempts + 1)  # another relay's claim
    assert outbox._deliver(claimed, now) == 0
    assert mail.outbox == []


@pytest.mark.parametrize("cut_at", ["lease", "compose", "after-send"])
def test_a_relay_cut_off_by_a_failover_gives_back_the_mails_it_had_not_sent(
    committed_kyoto: Callable[[Callable[[], Any]], Any], cut_at: str
) -> None:
    """The HA rehearsal's leader crash: the relay's connection is lost at its second mail. The first is sent;
    the second is given back with the rest (they go with the next relay at once, not ten minutes later)
    when it was lost before its send (its lease, its texts), and stays leased when lost after it (it may
    have gone out: the lease guards a second copy)."""

    def four_bookings() -> list[int]:
        return [_book(email=f"f{n}@example.jp", after_days=7 + n).pk for n in range(4)]

    committed_kyoto(four_bookings)
    refreshes: list[str] = []
    cut: list[str] = []

    def cut_at_the_second_mail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if 'SET "next_attempt_at"' in sql:  # a mail's own lease, taken as its sending starts
            refreshes.append(sql)
        second = len(refreshes) == 2 and not cut
        if (
            second
            and {
                "lease": 'SET "next_attempt_at"' in sql,
                "compose": sql.lstrip().upper().startswith("SELECT"),  # its texts (the booking rules)
                "after-send": '"sent_at"' in sql,
            }[cut_at]
        ):
            cut.append(sql)
            lost_connections.die()
        return execute(sql, params, many, context)

    committed_kyoto(_relay_cut_off_by(cut_at_the_second_mail))
    assert cut, "the connection was never cut"
    sent_first = ["f0@example.jp", "f1@example.jp"] if cut_at == "after-send" else ["f0@example.jp"]
    assert [m.to[0] for m in mail.outbox] == sent_first
    assert committed_kyoto(outbox.do_relay_outbox) == 4 - len(sent_first)  # the unsent ones, at once
    assert sorted(m.to[0] for m in mail.outbox) == [f"f{n}@example.jp" for n in range(4)]
    rows = committed_kyoto(lambda: sorted(OutboxMail.objects.values_list("status", "attempts")))
    leased = [(Status.SENDING, 1)] if cut_at == "after-send" else [(Status.SENT, 1)]
    assert rows == sorted([*leased, (Status.SENT, 1), (Status.SENT, 1), (Status.SENT, 1)])


def _relay_cut_off_by(wrapper: lost_connections.ExecuteWrapper) -> Callable[[], None]:
    """A relay run whose connection the execute wrapper cuts: it fails with the database's error."""
    from django.db import DatabaseError, connection

    def relay() -> None:
        with connection.execute_wrapper(wrapper), pytest.raises(DatabaseError):
            outbox.do_relay_outbox()
        connection.close()

    return relay


@pytest.mark.parametrize("carried_out", [False, True], ids=["commit-not-done", "commit-done-answer-lost"])
def test_a_claim_whose_commit_is_lost_leaves_no_mail_leased(
    committed_kyoto: Callable[[Callable[[], Any]], Any], carried_out: bool
) -> None:
    """The HA rehearsal's leader crash at the claim's COMMIT: its fate is unknown. Carried out, it would
    leave the mails leased, unsent, for ten minutes; they are given back, and the next relay sends them."""

    def two_bookings() -> list[int]:
        return [_book(email=f"c{n}@example.jp", after_days=7 + n).pk for n in range(2)]

    committed_kyoto(two_bookings)
    cut: list[str] = []

    lose = lost_connections.lose_commit_once(
        cut,
        lambda sql: '"attempts" = (' in sql,
        carried_out=carried_out,  # the claim's UPDATE
    )

    committed_kyoto(_relay_cut_off_by(lose))
    assert cut, "the connection was never cut"
    assert mail.outbox == []
    assert committed_kyoto(outbox.do_relay_outbox) == 2  # at once, not after the lease
    rows = committed_kyoto(lambda: sorted(OutboxMail.objects.values_list("status", "attempts")))
    assert rows == [(Status.SENT, 1), (Status.SENT, 1)]
