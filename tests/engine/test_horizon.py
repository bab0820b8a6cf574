"""The rolling booking horizon (issue 14 §5): the window ends at the earlier of the fixed bookable-until date
and today + N days, and every door refuses beyond it with "outside_window": the citizen's day and time pages
(an edited address), the hold, do_book and the API; a day inside is accepted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from booking.engine.queries import booking_rules
from booking.engine.services import BookingError, do_book, do_hold
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingSettings, Hold, Place
from booking.rules import windows
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db


def set_horizon(days: int) -> None:
    BookingSettings.objects.filter(singleton=True).update(booking_horizon_days=days, bookable_until=None)


def test_the_window_ends_at_the_earlier_of_the_fixed_date_and_the_horizon() -> None:
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=TOKYO)
    rules = BookingSettings(booking_horizon_days=30)
    assert windows.last_bookable_day(now, rules, Place(code="x")) == dt.date(2026, 12, 24)
    rules.bookable_until = dt.date(2026, 12, 10)
    assert windows.last_bookable_day(now, rules, Place(code="x")) == dt.date(2026, 12, 10)
    assert windows.last_bookable_day(now, rules, Place(code="y", bookable_until=dt.date(2027, 3, 1))) == (
        dt.date(2026, 12, 24)
    )
    start = dt.datetime(2026, 12, 25, 10, 0, tzinfo=TOKYO)
    assert not windows.within_window(start, now, BookingSettings(booking_horizon_days=30), Place(code="x"))
    assert windows.within_window(start, now, BookingSettings(booking_horizon_days=31), Place(code="x"))


@pytest.mark.usefixtures("kyoto")
def test_hold_and_book_beyond_the_horizon_are_refused_inside_accepted() -> None:
    set_horizon(20)
    beyond = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=25))
    card = factories.issue_card().card
    for attempt in (
        lambda: do_hold(card, factories.place(), factories.card_issuance(), beyond),
        lambda: do_book(card, factories.place(), factories.card_issuance(), beyond),
    ):
        with pytest.raises(BookingError) as refused:
            attempt()
        assert refused.value.code == "outside_window"
    assert not Hold.objects.filter(card=card).exists() and not Booking.objects.filter(card=card).exists()
    inside = factories.next_free_slot(after_days=7).starts_at
    assert inside.astimezone(TOKYO).date() <= timezone.localdate() + dt.timedelta(days=20)
    assert do_book(card, factories.place(), factories.card_issuance(), inside).status == "confirmed"


@pytest.mark.usefixtures("kyoto")
def test_the_api_refuses_a_start_400_days_ahead() -> None:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    token = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    ).json()["token"]
    far = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=400))
    body = {"location": factories.place().pk, "service": "card_issuance", "start": far.isoformat()}
    response = client.post(
        "/api/v1/citizen/booking/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400 and response.json()["code"] == "outside_window"
    free = client.get(
        "/api/v1/availability/",
        {"location": str(factories.place().pk), "service": "card_issuance", "from": far.date().isoformat()},
    )
    assert free.status_code == 200 and free.json() == []


@pytest.mark.usefixtures("kyoto")
def test_the_citizen_pages_stop_at_the_horizon_whatever_the_address_says() -> None:
    set_horizon(20)
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    place = factories.place()
    beyond = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=25))
    day_url = f"/book/card_issuance/{place.pk}/"
    time_url = f"{day_url}{beyond.astimezone(TOKYO).date().isoformat()}/"
    page = client.get(time_url)
    assert page.status_code == 409 and "受付期間外または締切後" in page.content.decode()
    assert beyond.isoformat() not in page.content.decode()
    posted = client.post(time_url, {"start": beyond.isoformat()})
    assert posted.status_code == 409 and not Hold.objects.filter(card=issued.card).exists()
    last = timezone.localdate() + dt.timedelta(days=20)
    calendar = client.get(day_url, {"month": "2099-01"})
    assert calendar.status_code == 200
    shown = calendar.content.decode()
    assert f"{last.year}年{last.month}月" in shown and "2099年" not in shown  # the last bookable month
    assert booking_rules().booking_horizon_days == 20
