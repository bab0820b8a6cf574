"""An operator's bookings are in the operation log with the operator's user ID, in the booking's own
transaction (issue 13, finding 10; SO-14): a phone booking, its change and cancel on the citizen's screens, a
phone-only visit and its cancel. A resident's own booking is in BookingEvent only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from booking.engine.queries import free_slots
from booking.engine.services import do_book
from booking.models import Booking, OperationLogEntry, Service
from tests import factories
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(kyoto: None) -> tuple[Client, int]:
    profile = make_staff("log-op", "operator")
    return sign_in("log-op"), profile.user.pk


def actions_of(user_id: int) -> list[str]:
    return list(
        OperationLogEntry.objects.filter(user_id_snapshot=user_id)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_a_phone_booking_its_change_and_its_cancel_are_logged(operator: tuple[Client, int]) -> None:
    client, user_id = operator
    card = factories.issue_card().card
    client.post(
        "/staff/callcenter/", {"reservation_number": card.reservation_number, "birth_date": "1950-04-01"}
    )
    place = factories.place().pk
    for slot in factories.next_free_slot_list(2):
        client.post(
            f"/staff/caller/book/card_issuance/{place}/{slot.starts_at.date():%Y-%m-%d}/",
            {"start": slot.starts_at.isoformat()},
        )
        client.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
        client.post("/staff/caller/confirm/")
    client.post("/staff/caller/cancel/")
    booking = Booking.objects.get(card=card)
    assert booking.status == "cancelled"
    assert actions_of(user_id) == [
        "login",
        "caller.identify",
        "booking.hold",
        "booking.booked",
        "booking.hold",
        "booking.changed",
        "booking.cancelled",
    ]
    booked = OperationLogEntry.objects.get(user_id_snapshot=user_id, action="booking.booked")
    assert (booked.username, booked.target) == ("log-op", f"booking {booking.pk}")
    assert booked.detail["channel"] == "phone" and booked.detail["to"]["place"] == place


def test_a_phone_only_visit_and_its_cancel_are_logged(operator: tuple[Client, int]) -> None:
    client, user_id = operator
    place = factories.place("kita")
    service = Service.objects.get(code="ecert_renewal")
    today = timezone.localdate()
    slot = free_slots(place, service, today, today + dt.timedelta(days=60))[0]
    query = f"?service=ecert_renewal&place={place.pk}&day={slot.starts_at.date():%Y-%m-%d}"
    response = client.post(
        f"/staff/callcenter/visit/{query}",
        {
            "start": slot.starts_at.isoformat(),
            "caller_name_kana": "デンワ ハナコ",
            "contact_phone": "0752223111",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    visit = Booking.objects.get(card__isnull=True, caller_name_kana="デンワ ハナコ")
    client.post(f"/staff/callcenter/visit/{visit.pk}/cancel/")
    entries = OperationLogEntry.objects.filter(user_id_snapshot=user_id, target=f"booking {visit.pk}")
    assert sorted(entries.values_list("action", flat=True)) == ["booking.booked", "booking.cancelled"]


def test_a_residents_own_booking_is_not_an_operation(kyoto: None) -> None:
    before = OperationLogEntry.objects.count()
    do_book(
        factories.issue_card().card,
        factories.place(),
        factories.card_issuance(),
        factories.next_free_slot().starts_at,
    )
    assert OperationLogEntry.objects.count() == before
