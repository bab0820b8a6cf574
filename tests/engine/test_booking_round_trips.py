"""A booking's round trips (issue 12): a flash crowd pays for every statement of `do_book`, so their number
is kept, and the checks folded into fewer statements still answer as before."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from booking.cards.moves import do_move_cards
from booking.engine.services import BookingError, do_book, do_hold
from booking.models import Booking, BookingEvent, Card, CardEvent, Hold, Slot
from booking.rules.card_states import CardState
from tests import factories

pytestmark = pytest.mark.django_db

# rules, savepoint, card lock (+ its booking check), pattern lock, schedule read (closed days and the slot
# row with it), holds, booking, its event, the card's move and its event, release; +1 for a slot not yet made
MOST_STATEMENTS = 12


def test_a_booking_at_a_slot_not_yet_made_and_at_a_made_one(
    kyoto: None, django_assert_max_num_queries: Any
) -> None:
    first, second = factories.issue_cards(2)
    place, service = factories.place(), factories.card_issuance()
    free = factories.next_free_slot()
    assert not Slot.objects.filter(place=place, starts_at=free.starts_at).exists()

    with django_assert_max_num_queries(MOST_STATEMENTS):
        made = do_book(first, place, service, free.starts_at)
    with django_assert_max_num_queries(MOST_STATEMENTS - 1):
        again = do_book(second, place, service, free.starts_at)

    assert made.slot_id == again.slot_id
    slot = Slot.objects.get(pk=made.slot_id)
    assert slot.taken == 2 and slot.ends_at == free.ends_at and slot.capacity == free.capacity
    assert made.slot.service.code == "card_issuance" and made.slot.place_id == place.pk
    for card, booking in ((first, made), (second, again)):
        assert Card.objects.get(pk=card.pk).state == CardState.BOOKED
        assert card.state == CardState.BOOKED  # the caller's object follows the row
        moved = CardEvent.objects.get(card=card, to_state=CardState.BOOKED)
        assert (moved.from_state, moved.note) == (CardState.NOTICE_SENT, "予約")
        assert BookingEvent.objects.filter(booking=booking, kind=BookingEvent.Kind.BOOKED).count() == 1


def test_a_card_with_a_booking_is_refused_under_its_lock_and_nothing_moves(kyoto: None) -> None:
    card = factories.issue_card().card
    first, second = factories.next_free_slot_list(2)
    do_book(card, factories.place(), factories.card_issuance(), first.starts_at)
    events = CardEvent.objects.filter(card=card).count()

    with pytest.raises(BookingError) as refused:
        do_book(card, factories.place(), factories.card_issuance(), second.starts_at)

    assert refused.value.code == "already_booked"
    assert Booking.objects.filter(card=card).count() == 1
    assert CardEvent.objects.filter(card=card).count() == events
    assert not Slot.objects.filter(starts_at=second.starts_at, taken__gt=0).exists()


def test_a_returned_card_moves_to_booked_and_a_booked_one_stays(kyoto: None) -> None:
    returned, booked = factories.issue_cards(2)
    do_move_cards([returned.pk], CardState.RETURNED, actor="test")
    do_move_cards([booked.pk], CardState.BOOKED, actor="test")  # its booking kept elsewhere (a migration)
    first, second = factories.next_free_slot_list(2)

    do_book(returned, factories.place(), factories.card_issuance(), first.starts_at)
    do_book(booked, factories.place(), factories.card_issuance(), second.starts_at)

    assert Card.objects.get(pk=returned.pk).state == CardState.BOOKED
    assert CardEvent.objects.filter(
        card=returned, from_state=CardState.RETURNED, to_state=CardState.BOOKED
    ).exists()
    assert Card.objects.get(pk=booked.pk).state == CardState.BOOKED
    assert CardEvent.objects.filter(card=booked, to_state=CardState.BOOKED).count() == 1  # the test's own


def test_booking_ends_the_persons_hold_and_the_slots_expired_holds(kyoto: None) -> None:
    booker, stale = factories.issue_cards(2)
    place, service = factories.place(), factories.card_issuance()
    held, target = factories.next_free_slot_list(2)
    do_hold(booker, place, service, held.starts_at)
    do_hold(stale, place, service, target.starts_at, now=timezone.now() - dt.timedelta(hours=2))

    do_book(booker, place, service, target.starts_at)

    assert not Hold.objects.filter(card__in=[booker, stale]).exists()
    assert Slot.objects.get(place=place, starts_at=held.starts_at).taken == 0
    assert Slot.objects.get(place=place, starts_at=target.starts_at).taken == 1


def test_a_keyed_api_booking_runs_in_its_keys_transaction_and_a_refusal_keeps_nothing(kyoto: None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from booking.models import IdempotentRequest
    from tests.citizen.test_citizen_api import Api
    from tests.conftest import KYOTO_HOST

    api = Api(KYOTO_HOST)
    issued = factories.issue_card()
    assert api.login(issued).status_code == 201
    full, free = factories.next_free_slot_list(2)
    for other in factories.issue_cards(full.capacity):
        do_book(other, factories.place(), factories.card_issuance(), full.starts_at)

    def post(start: dt.datetime) -> Any:
        body = {"location": factories.place().pk, "service": "card_issuance", "start": start.isoformat()}
        return api.client.post(
            "/api/v1/citizen/booking/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="key-1",
            **api.headers(),
        )

    with CaptureQueriesContext(connection) as refused_queries:
        refused = post(full.starts_at)  # refused by the capacity constraint, inside the transaction
    assert refused.status_code == 409 and refused.json()["code"] == "slot_full"
    assert not IdempotentRequest.objects.exists()
    assert not Booking.objects.filter(card=issued.card).exists()
    assert Card.objects.get(pk=issued.card.pk).state == CardState.NOTICE_SENT
    assert not CardEvent.objects.filter(card=issued.card, to_state=CardState.BOOKED).exists()
    assert Slot.objects.get(place=factories.place(), starts_at=full.starts_at).taken == full.capacity

    with CaptureQueriesContext(connection) as booked_queries:
        booked = post(free.starts_at)  # the same key again: the refusal was not kept
    assert booked.status_code == 201
    assert IdempotentRequest.objects.get(key="key-1").status_code == 201
    assert Card.objects.get(pk=issued.card.pk).state == CardState.BOOKED
    # The booking's statements run in the key's transaction itself, with no savepoint of their own (the
    # test's own transaction makes the key's transaction a savepoint here: that one only)
    for captured in (refused_queries, booked_queries):
        made = [q["sql"] for q in captured.captured_queries if q["sql"].upper().startswith("SAVEPOINT")]
        assert len(made) == 1, made
