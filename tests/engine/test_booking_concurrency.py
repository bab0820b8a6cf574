"""Exclusive control (BK-09), proved with many real connections at once against PostgreSQL.

Each scenario runs through `committed_kyoto`, on connections that really commit, and its racing
attempts each run in a thread with a database connection of its own, released together by a barrier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from booking.engine.services import BookingError, do_book, do_change, do_hold, do_move_booking
from booking.models import Booking, Card, Hold, Slot
from tests import factories
from tests.concurrency import race

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]
Committed = Callable[[Callable[[], Any]], Any]


def test_more_cards_than_places_give_exactly_capacity_bookings(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        cards = factories.issue_cards(slot.capacity + 14)

        outcome = race([partial(do_book, card, place, service, slot.starts_at) for card in cards])

        assert outcome == Counter({"ok": slot.capacity, "slot_full": 14})
        row = Slot.objects.get(place=place, starts_at=slot.starts_at)
        assert row.taken == row.capacity == slot.capacity
        assert Booking.objects.filter(slot=row, status="confirmed").count() == slot.capacity

    committed_kyoto(scenario)


def test_one_card_booking_from_twenty_threads_gets_one_booking(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        place, service = factories.place(), factories.card_issuance()
        starts = [s.starts_at for s in factories.next_free_slot_list(20)]

        outcome = race([partial(do_book, card, place, service, start) for start in starts])

        assert outcome == Counter({"ok": 1, "already_booked": 19})
        assert Booking.objects.filter(card=card, status="confirmed").count() == 1
        assert sum(Slot.objects.values_list("taken", flat=True)) == 1

    committed_kyoto(scenario)


def test_same_card_same_slot_twenty_times_gets_one_booking(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()

        outcome = race([lambda: do_book(card, place, service, slot.starts_at) for _ in range(20)])

        assert outcome == Counter({"ok": 1, "already_booked": 19})
        assert Slot.objects.get(starts_at=slot.starts_at, place=place).taken == 1

    committed_kyoto(scenario)


def test_holds_count_against_capacity_under_concurrency(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        cards = factories.issue_cards(slot.capacity + 6)

        outcome = race([partial(do_hold, card, place, service, slot.starts_at) for card in cards])

        assert outcome == Counter({"ok": slot.capacity, "slot_full": 6})
        assert Hold.objects.count() == slot.capacity

    committed_kyoto(scenario)


def test_changes_racing_for_the_last_place_move_one_and_keep_the_others(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        place, service = factories.place(), factories.card_issuance()
        target, origin = factories.next_free_slot_list(2)
        for card in factories.issue_cards(target.capacity - 1):
            do_book(card, place, service, target.starts_at)
        movers = factories.issue_cards(origin.capacity)
        for card in movers:
            do_book(card, place, service, origin.starts_at)

        outcome = race([partial(do_change, card, place, target.starts_at) for card in movers])

        assert outcome == Counter({"ok": 1, "slot_full": len(movers) - 1})
        assert Slot.objects.get(place=place, starts_at=target.starts_at).taken == target.capacity
        assert Slot.objects.get(place=place, starts_at=origin.starts_at).taken == len(movers) - 1
        assert Booking.objects.filter(card__in=movers, status="confirmed").count() == len(movers)

    committed_kyoto(scenario)


def test_the_database_refuses_overbooking_whatever_the_code_path(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        slot_time, other = factories.next_free_slot_list(2)
        place, service = factories.place(), factories.card_issuance()
        cards = factories.issue_cards(slot_time.capacity + 1)
        for card in cards[:-1]:
            do_book(card, place, service, slot_time.starts_at)
        slot = Slot.objects.get(place=place, starts_at=slot_time.starts_at)
        # Straight SQL, as a buggy script or a hand in psql would write it: PostgreSQL says no.
        with (
            pytest.raises(IntegrityError, match="slot_taken_within_capacity"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO booking_booking (card_id, slot_id, status, channel, contact_phone,"
                " contact_email, created_at) VALUES (%s, %s, 'confirmed', 'web', '', '', now())",
                [cards[-1].pk, slot.pk],
            )
        other_slot = Slot.objects.create(
            place=place,
            service=service,
            starts_at=other.starts_at,
            ends_at=other.ends_at,
            capacity=other.capacity,
        )
        with pytest.raises(IntegrityError, match="booking_one_active_per_card"), transaction.atomic():
            Booking.objects.create(card=cards[0], slot=other_slot)
        assert Card.objects.filter(bookings__status="confirmed").count() == slot_time.capacity
        assert Slot.objects.get(pk=slot.pk).taken == slot_time.capacity

    committed_kyoto(scenario)


def test_the_counter_works_on_its_own_schema_whatever_the_callers_search_path(tenants: Any) -> None:
    """A write into kyoto's tables from a session whose path points at mihon still counts in kyoto."""
    with schema_context("kyoto"):
        slot_time = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        cards = factories.issue_cards(slot_time.capacity + 1)
        for card in cards[:-1]:
            do_book(card, place, service, slot_time.starts_at)
        slot = Slot.objects.get(place=place, starts_at=slot_time.starts_at)
    # A trigger following the caller's path would update mihon's booking_slot (no such row) and let it in.
    with (
        schema_context("mihon"),
        connection.cursor() as cursor,
        pytest.raises(IntegrityError, match="slot_taken_within_capacity"),
        transaction.atomic(),
    ):
        cursor.execute(
            "INSERT INTO kyoto.booking_booking (card_id, slot_id, status, channel, contact_phone,"
            " contact_email, created_at) VALUES (%s, %s, 'confirmed', 'web', '', '', now())",
            [cards[-1].pk, slot.pk],
        )


def test_a_change_from_a_stale_read_never_undoes_a_change_made_meanwhile(kyoto: None) -> None:
    """Two changes of one booking at once (the API's partial PATCH fills what it was not given from the
    booking as it read it): the later one, read before the first moved it, is refused as changed meanwhile
    rather than writing its old place or time back; the booking stays where the first put it."""
    first, second, third = factories.next_free_slot_list(3)
    place, service = factories.place(), factories.card_issuance()
    card = factories.issue_card().card
    do_book(card, place, service, first.starts_at)
    read_before = Booking.objects.get(card=card, status="confirmed")
    do_change(card, None, second.starts_at)  # another request moved it meanwhile
    with pytest.raises(BookingError) as refused:
        do_move_booking(read_before, place, third.starts_at)
    assert refused.value.code == "changed_meanwhile" and refused.value.message
    assert Booking.objects.get(card=card, status="confirmed").slot.starts_at == second.starts_at
    taken = dict(Slot.objects.filter(place=place, service=service).values_list("starts_at", "taken"))
    assert (taken[first.starts_at], taken[second.starts_at], taken.get(third.starts_at, 0)) == (0, 1, 0)
