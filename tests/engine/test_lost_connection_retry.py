"""A booking survives a dropped database connection (issue 11), proved with real connections killed by
PostgreSQL itself (`pg_terminate_backend`), on connections that really commit (`committed_kyoto`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connection, transaction

from booking.engine import retry, services
from booking.engine.services import BookingError, do_book, do_book_visit, do_confirm_hold, do_hold
from booking.models import Booking, Slot
from tests import factories, lost_connections

pytestmark = pytest.mark.django_db
Committed = Callable[[Callable[[], Any]], Any]


def _slot_taken(slot: Any) -> int:
    return Slot.objects.get(place=factories.place(), starts_at=slot.starts_at).taken


def test_a_connection_killed_before_the_booking_is_retried(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        connection.ensure_connection()
        lost_connections.terminate()

        booking = do_book(card, place, service, slot.starts_at)  # its first statement finds it dead

        assert Booking.objects.filter(card=card, status="confirmed").get().pk == booking.pk
        assert _slot_taken(slot) == 1

    committed_kyoto(scenario)


def test_a_connection_lost_inside_the_transaction_is_retried(
    committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lock, lost = services._lock_bookable_card, list[bool]()

    def lock_after_losing_the_connection_once(card: Any) -> None:
        if not lost:
            lost.append(True)
            lost_connections.die()
        real_lock(card)

    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        monkeypatch.setattr(services, "_lock_bookable_card", lock_after_losing_the_connection_once)
        do_hold(card, factories.place(), factories.card_issuance(), slot.starts_at)  # lost once, retried
        assert lost == [True]
        lost.clear()
        booking = do_confirm_hold(card)  # lost once more, retried
        assert lost == [True]
        assert Booking.objects.filter(card=card, status="confirmed").get().pk == booking.pk
        assert _slot_taken(slot) == 1

    committed_kyoto(scenario)


def _lose_the_answer_after_the_first_commit(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The first booking's transaction commits, then its connection dies before the service returns: as
    when a COMMIT's acknowledgement is lost with the connection."""
    real_event, lost = services._event, list[bool]()

    def event_then_lose_the_answer(*args: Any, **kwargs: Any) -> None:
        real_event(*args, **kwargs)
        if not lost:
            lost.append(True)
            # runs after the COMMIT, inside the service's atomic block's exit
            transaction.on_commit(lost_connections.die)

    monkeypatch.setattr(services, "_event", event_then_lose_the_answer)
    return lost


def test_a_lost_commit_answer_on_confirm_answers_with_the_same_booking(
    committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        do_hold(card, factories.place(), factories.card_issuance(), slot.starts_at)
        lost = _lose_the_answer_after_the_first_commit(monkeypatch)

        booking = do_confirm_hold(card, contact_email="taro@example.jp")  # not "hold_expired"

        assert lost == [True]
        assert Booking.objects.filter(card=card).count() == 1
        assert Booking.objects.get(card=card, status="confirmed").pk == booking.pk
        assert booking.slot.starts_at == slot.starts_at and _slot_taken(slot) == 1

    committed_kyoto(scenario)


def test_a_lost_commit_answer_on_book_answers_with_the_same_booking(
    committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        lost = _lose_the_answer_after_the_first_commit(monkeypatch)

        booking = do_book(
            card, factories.place(), factories.card_issuance(), slot.starts_at
        )  # not "already_booked"

        assert lost == [True]
        assert list(Booking.objects.filter(card=card).values_list("pk", flat=True)) == [booking.pk]
        assert _slot_taken(slot) == 1

    committed_kyoto(scenario)


def test_a_lost_commit_answer_on_a_phone_visit_answers_with_the_same_booking(
    committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scenario() -> None:
        slot = factories.next_free_slot()
        lost = _lose_the_answer_after_the_first_commit(monkeypatch)
        booking = do_book_visit(
            factories.place(),
            factories.card_issuance(),
            slot.starts_at,
            caller_name_kana="キョウト タロウ",
            contact_phone="0752223111",
            actor="op1",
        )
        assert lost == [True]
        assert list(Booking.objects.filter(card=None).values_list("pk", flat=True)) == [booking.pk]
        assert _slot_taken(slot) == 1

    committed_kyoto(scenario)


def test_no_retry_inside_an_outer_transaction(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        try:
            with pytest.raises(OperationalError), transaction.atomic():
                lost_connections.die()
                do_book(card, factories.place(), factories.card_issuance(), slot.starts_at)
        finally:
            connection.close()
        assert not Booking.objects.filter(card=card).exists()

    committed_kyoto(scenario)


def test_refusals_and_other_errors_are_not_retried(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        for error in (IntegrityError("duplicate"), BookingError("already_booked")):
            tries: list[int] = []

            def refuse(error: Exception = error, tries: list[int] = tries) -> None:
                tries.append(1)
                raise error

            with pytest.raises(type(error)):
                retry.retry_on_lost_connection(refuse)
            assert tries == [1]

        calls: list[int] = []

        def time_out() -> None:  # a statement timeout is no lost connection
            calls.append(1)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 10")
                cursor.execute("SELECT pg_sleep(1)")

        with pytest.raises(OperationalError):
            retry.retry_on_lost_connection(time_out)
        assert calls == [1]

        calls = []

        def always_lost() -> None:  # bounded: at most ATTEMPTS tries
            calls.append(1)
            lost_connections.die()

        with pytest.raises(OperationalError):
            retry.retry_on_lost_connection(always_lost, backoff=0)
        assert len(calls) == retry.ATTEMPTS
        connection.close()

    committed_kyoto(scenario)


def test_a_keyed_write_is_retried_whole_and_kept_once(committed_kyoto: Committed) -> None:
    """With an idempotency key the service runs inside the key's transaction: that one is run again."""
    from booking.engine import idempotency
    from booking.models import IdempotentRequest

    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        tries: list[int] = []

        def write() -> idempotency.Answer:
            tries.append(1)
            if len(tries) == 1:
                lost_connections.die()
            do_book(card, place, service, slot.starts_at)
            return idempotency.Answer(201)

        answer, repeated = idempotency.do_once("test-retry", "key-1", "print", write)
        assert (answer.status, repeated, len(tries)) == (201, False, 2)
        assert Booking.objects.filter(card=card).count() == 1
        assert IdempotentRequest.objects.filter(scope="test-retry", key="key-1").count() == 1
        IdempotentRequest.objects.filter(scope="test-retry").delete()

    committed_kyoto(scenario)
