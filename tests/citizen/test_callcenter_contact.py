"""The call center's number and hours where residents are told to phone (issue 14 §5): the top page, the
"please phone us" messages of the pages and the API, and the mails; with no number set they say only
"コールセンター"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone, translation

from booking.engine.notifications import BOOKED, compose_booking_mail
from booking.engine.services import BookingError, do_book
from booking.models import BookingSettings
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db
NUMBER = "075-123-4567"


@pytest.fixture
def contact(kyoto: None) -> None:
    BookingSettings.objects.filter(singleton=True).update(
        callcenter_phone="0751234567",
        callcenter_hours="平日 9:00〜17:00",
        callcenter_hours_en="weekdays 9–17",
    )


@pytest.mark.usefixtures("contact")
def test_the_top_page_says_the_number_and_hours() -> None:
    page = Client(HTTP_HOST=KYOTO_HOST).get("/").content.decode()
    assert "コールセンター（075-123-4567、平日 9:00〜17:00）へのお電話で予約してください" in page


@pytest.mark.usefixtures("contact")
def test_please_phone_us_messages_say_the_number_in_the_pages_language() -> None:
    assert NUMBER in BookingError("web_not_offered").message
    assert "コールセンター（075-123-4567、平日 9:00〜17:00）にお問い合わせください" in (
        BookingError("deadline_passed").message
    )
    with translation.override("en"):
        assert "075-123-4567" in BookingError("deadline_passed").message
        assert "weekdays 9–17" in BookingError("deadline_passed").message


@pytest.mark.usefixtures("kyoto")
def test_without_a_number_the_message_names_the_call_center_only() -> None:
    assert BookingError("deadline_passed").message == (
        "変更・取消の締切を過ぎています。コールセンターにお問い合わせください。"
    )


@pytest.mark.usefixtures("contact")
def test_the_api_refusal_says_the_number() -> None:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    token = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    ).json()["token"]
    start = factories.next_free_slot().starts_at
    body = {"location": factories.place().pk, "service": "ecert_renewal", "start": start.isoformat()}
    response = client.post(
        "/api/v1/citizen/booking/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.json()["code"] == "web_not_offered" and NUMBER in response.json()["message"]


@pytest.mark.usefixtures("contact")
def test_a_mail_ends_with_the_call_center_line() -> None:
    start = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=8))
    booking = do_book(
        factories.issue_card().card,
        factories.place(),
        factories.card_issuance(),
        start,
        contact_email="p@example.jp",
        now=start - dt.timedelta(days=7),
    )
    mail = compose_booking_mail(booking, BOOKED)
    assert mail is not None
    assert mail.body.endswith("お問い合わせ: コールセンター（075-123-4567、平日 9:00〜17:00）")
    english = compose_booking_mail(booking, BOOKED, "en")
    assert english is not None and NUMBER in english.body
