"""The usual booking body read plainly, with the place, service and settings the availability cache keeps
(issue 12): the same values as BookingIn, the same refusals through it, and a booking made the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from booking.citizen.api import serializers as s
from booking.engine import availability_cache
from booking.engine.services import IssuedCard
from booking.models import Booking
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db

Committed = Callable[[Callable[[], Any]], Any]


def test_what_it_reads_booking_in_reads_alike(kyoto: None) -> None:
    place = factories.place()
    bodies: list[Any] = [
        {"location": place.pk, "service": "card_issuance", "start": "2026-12-10T09:00:00+09:00"},
        {"location": place.pk, "service": "card_issuance", "start": "2026-12-10T00:00:00Z"},
        {"location": place.pk, "service": "card_issuance", "start": "2026-12-10T09:00"},  # Japan time
        {"location": place.pk, "service": "card_issuance", "start": "2026-12-10 09:00:00"},
        {"location": str(place.pk), "service": "card_issuance", "start": "2026-12-10T09:00"},  # BookingIn's
        {"location": True, "service": "card_issuance", "start": "2026-12-10T09:00"},
        {"location": 0, "service": "card_issuance", "start": "2026-12-10T09:00"},
        {"location": place.pk, "service": "card issuance", "start": "2026-12-10T09:00"},
        {"location": place.pk, "service": "card_issuance", "start": "tomorrow"},
        {"location": place.pk, "service": "card_issuance", "start": "1900-01-01T09:00"},
        {"location": place.pk, "service": "card_issuance", "start": 20261210},
        {"location": place.pk, "service": "card_issuance", "start": "2026-12-10T09:00", "note": "x"},
        {"location": place.pk, "service": "card_issuance"},
        [place.pk, "card_issuance", "2026-12-10T09:00"],
    ]
    for body in bodies:
        plain = s.plain_booking_body(body)
        if plain is None:
            continue
        checked = s.BookingIn(data=body)
        assert checked.is_valid(), (body, checked.errors)
        data = checked.validated_data
        assert plain == (data["location"].pk, data["service"].code, data["start"]), body
        assert plain[2].utcoffset() == data["start"].utcoffset()
    assert [s.plain_booking_body(b) is not None for b in bodies] == [True] * 4 + [False] * 10


@pytest.fixture
def citizen(committed_kyoto: Committed) -> IssuedCard:
    return committed_kyoto(lambda: factories.issue_card())


def book(client: Client, issued: IssuedCard, body: dict[str, Any]) -> Any:
    session = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    )
    assert session.status_code == 201, session.content
    token = session.json()["token"]
    authorization = f"Bearer {token}"
    return client.post(
        "/api/v1/citizen/booking/", body, content_type="application/json", HTTP_AUTHORIZATION=authorization
    )


class SpyBookingIn(s.BookingIn):
    used = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        SpyBookingIn.used += 1
        super().__init__(*args, **kwargs)


def test_the_usual_body_books_with_what_the_cache_keeps(
    citizen: IssuedCard, committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = committed_kyoto(factories.next_free_slot)
    place_id = committed_kyoto(lambda: factories.place().pk)
    monkeypatch.setattr(s, "BookingIn", SpyBookingIn)
    SpyBookingIn.used = 0
    body = {"location": place_id, "service": "card_issuance", "start": free.starts_at.isoformat()}
    kept = committed_kyoto(lambda: availability_cache.kept_setup(place_id, "card_issuance"))
    assert kept is not None  # Redis is there: the plain reading has a setup to use
    # on a connection of its own that commits, as gunicorn's would
    response = committed_kyoto(lambda: book(Client(HTTP_HOST=KYOTO_HOST), citizen, body))
    assert response.status_code == 201, response.content
    assert SpyBookingIn.used == 0
    answer = response.json()
    assert (answer["location"], answer["service"]) == (place_id, "card_issuance")
    assert dt.datetime.fromisoformat(answer["start"]) == free.starts_at
    booked = committed_kyoto(lambda: Booking.objects.get(pk=answer["id"]).card_id)
    assert booked == citizen.card.pk


def test_an_unknown_place_is_refused_by_booking_in(
    citizen: IssuedCard, committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = committed_kyoto(factories.next_free_slot)
    monkeypatch.setattr(s, "BookingIn", SpyBookingIn)
    SpyBookingIn.used = 0
    body = {"location": 999_999, "service": "card_issuance", "start": free.starts_at.isoformat()}
    response = committed_kyoto(lambda: book(Client(HTTP_HOST=KYOTO_HOST), citizen, body))
    assert response.status_code == 400
    assert "location" in response.json()["fields"]
    assert SpyBookingIn.used == 1
