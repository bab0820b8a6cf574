"""The confirm page confirms the hold it showed, checked under the hold's lock.

A resident with two tabs holds a time in one, then another time in the other (the card's one hold moves
there); the first tab's confirm must not book the second tab's time as if it were its own. The check sits in
`do_confirm_hold`, under the lock on the card and its hold, so nothing can move the hold between the check
and the booking (it was a look in the view before the service locked anything).
"""

from __future__ import annotations

import pytest

from booking.engine.services import BookingError, do_confirm_hold, do_hold
from booking.models import Booking, Hold
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_confirm_for_a_hold_moved_since_books_nothing(kyoto: None) -> None:
    card = factories.issue_card().card
    place, service = factories.place(), factories.card_issuance()
    first, second = factories.next_free_slot_list(2)
    shown = do_hold(card, place, service, first.starts_at)
    moved = do_hold(card, place, service, second.starts_at)  # the other tab
    assert moved.pk != shown.pk

    with pytest.raises(BookingError) as refused:
        do_confirm_hold(card, hold_id=shown.pk)
    assert refused.value.code == "hold_changed"
    assert not Booking.objects.filter(card=card).exists()
    assert Hold.objects.get(card=card).pk == moved.pk, "the other tab's time is still held for it"

    booking = do_confirm_hold(card, hold_id=moved.pk)
    assert booking.slot.starts_at == second.starts_at


def test_a_confirm_without_a_hold_id_takes_the_cards_hold(kyoto: None) -> None:
    """The API and a page sent without the field: the card's one hold, as before."""
    card = factories.issue_card().card
    (slot,) = factories.next_free_slot_list(1)
    do_hold(card, factories.place(), factories.card_issuance(), slot.starts_at)
    assert do_confirm_hold(card).slot.starts_at == slot.starts_at


@pytest.mark.parametrize("posted", ["²", "99999999999999999999999", "abc"])
def test_a_hold_field_that_is_no_id_confirms_nothing(kyoto: None, posted: str) -> None:
    """A hand-made confirm form: asked again (int("²") would be a 500), nothing booked."""
    from django.test import Client

    from tests.callcenter.test_idempotent_forms import card_mark
    from tests.citizen.test_citizen_site import log_in, walk_to_hold
    from tests.citizen.test_idempotent_writes import form_token
    from tests.conftest import KYOTO_HOST

    client, issued = Client(HTTP_HOST=KYOTO_HOST), factories.issue_card()
    log_in(client, issued)
    walk_to_hold(client, factories.next_free_slot().starts_at)
    client.post("/details/", {"phone": "075-000-1111", "email": ""})
    page = client.get("/confirm/")
    sent = {"form_token": form_token(page), "hold": posted, "card_mark": card_mark(page)}
    assert client.post("/confirm/", sent)["Location"] == "/confirm/"
    assert not Booking.objects.filter(card=issued.card).exists()
