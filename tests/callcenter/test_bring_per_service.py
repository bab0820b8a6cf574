"""What to bring per service (issue 14 §5): a caller booking an e-certificate renewal is told to bring their
card and PINs, not the card-issuance notice letter; card issuance keeps the municipality's general text."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from booking.callcenter.services import script_lines
from booking.engine.queries import booking_rules, free_slots
from booking.models import Booking, Service
from tests import factories
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(kyoto: None) -> Client:
    make_staff("op-bring", "operator")
    return sign_in("op-bring")


def test_a_caller_booking_an_ecert_renewal_hears_what_to_bring_for_it(operator: Client) -> None:
    place, service = factories.place("kita"), Service.objects.get(code="ecert_renewal")
    today = timezone.localdate()
    first = free_slots(place, service, today, today + dt.timedelta(days=60))[0]
    day = first.starts_at.date().isoformat()
    url = f"/staff/callcenter/visit/?service=ecert_renewal&place={place.pk}&day={day}"
    page = operator.get(url).content.decode()
    assert service.bring_text in page and "交付通知書（はがき）" not in page
    made = operator.post(
        url,
        {
            "start": first.starts_at.isoformat(),
            "caller_name_kana": "スズキ ハナコ",
            "contact_phone": "09012345678",
        },
    )
    assert made.status_code == 302
    visit = Booking.objects.get(card__isnull=True)
    lines = "\n".join(script_lines(visit))
    assert service.bring_text in lines and "交付通知書" not in lines
    script = operator.get(f"/staff/callcenter/script/{visit.pk}/").content.decode()
    assert "暗証番号" in script


def test_card_issuance_keeps_the_general_text(kyoto: None) -> None:
    booking = factories.issue_card()
    start = factories.next_free_slot(after_days=7).starts_at
    from booking.engine.services import do_book

    made = do_book(booking.card, factories.place(), factories.card_issuance(), start)
    assert booking_rules().text_bring in "\n".join(script_lines(made))
