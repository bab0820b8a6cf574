"""Issue 11 at the call center: a phone-only visit form posted twice (double click, resubmit) is one visit,
and the operator's confirm in the caller flow posted twice is one booking; both land where the first went."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from booking.models import Booking, Card
from tests import factories
from tests.callcenter.test_callcenter import _ecert_free, identify
from tests.citizen.test_idempotent_writes import form_token
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(kyoto: None) -> Client:
    make_staff("op1", "operator")
    return sign_in("op1")


def test_the_visit_form_posted_twice_books_one_visit(operator: Client) -> None:
    place, _service, slots = _ecert_free()
    day = slots[0].starts_at.date().isoformat()
    url = f"/staff/callcenter/visit/?service=ecert_renewal&place={place.pk}&day={day}"
    form = {
        "start": slots[0].starts_at.isoformat(),
        "caller_name_kana": "スズキ ハナコ",
        "contact_phone": "090-1234-5678",
        "form_token": form_token(operator.get(url)),
    }
    first, second = operator.post(url, form), operator.post(url, form)
    visit = Booking.objects.get(card__isnull=True)
    assert first["Location"] == second["Location"] == f"/staff/callcenter/script/{visit.pk}/"


def test_the_same_visit_token_with_other_details_books_nothing_more(operator: Client) -> None:
    place, _service, slots = _ecert_free()
    day = slots[0].starts_at.date().isoformat()
    url = f"/staff/callcenter/visit/?service=ecert_renewal&place={place.pk}&day={day}"
    token = form_token(operator.get(url))
    form = {"start": slots[0].starts_at.isoformat(), "contact_phone": "090-1234-5678", "form_token": token}
    operator.post(url, {**form, "caller_name_kana": "スズキ ハナコ"})
    again = operator.post(url, {**form, "caller_name_kana": "タナカ イチロウ"})
    assert again.status_code == 400 and "すでに送信されたか" in again.content.decode()
    assert Booking.objects.filter(card__isnull=True).count() == 1
    # the page it shows carries a new token: the operator may book the second caller from it
    assert form_token(again) != token


def test_the_operators_confirm_posted_twice_is_one_booking(operator: Client) -> None:
    card = factories.issue_card().card
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    start = factories.next_free_slot().starts_at
    place = factories.place().pk
    operator.post(
        f"/staff/caller/book/card_issuance/{place}/{start.date():%Y-%m-%d}/", {"start": start.isoformat()}
    )
    operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
    token = form_token(operator.get("/staff/caller/confirm/"))
    first = operator.post("/staff/caller/confirm/", {"form_token": token})
    second = operator.post("/staff/caller/confirm/", {"form_token": token})
    assert first["Location"] == second["Location"] == "/staff/caller/done/"
    booking = Booking.objects.get(card=card)
    assert operator.get("/staff/caller/done/")["Location"] == f"/staff/callcenter/script/{booking.pk}/"


def test_the_last_callers_page_never_acts_for_the_next_caller(operator: Client) -> None:
    """A stale confirm page of caller A, sent while serving caller B, books nothing for B, and B's pages
    never show A's contact details (review of issue 11)."""
    first, second = factories.issue_card().card, factories.issue_card().card
    starts = [slot.starts_at for slot in factories.next_free_slot_list(2)]
    place = factories.place().pk

    def hold_for(card: Card, start: dt.datetime) -> None:
        identify(operator, card.reservation_number, birth_date="1950-04-01")
        url = f"/staff/caller/book/card_issuance/{place}/{start:%Y-%m-%d}/"
        operator.post(url, {"start": start.isoformat()})

    hold_for(first, starts[0])
    operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": "first@example.jp"})
    stale = operator.get("/staff/caller/confirm/")
    token, hold = form_token(stale), re.search(r'name="hold" value="(\d+)"', stale.content.decode())
    assert hold
    hold_for(second, starts[1])
    details = operator.get("/staff/caller/details/").content.decode()
    assert "first@example.jp" not in details and "075-000-1111" not in details
    operator.post("/staff/caller/details/", {"phone": "075-000-2222", "email": ""})
    operator.post("/staff/caller/confirm/", {"form_token": token, "hold": hold.group(1)})
    assert not Booking.objects.filter(card=second).exists()
    assert not Booking.objects.filter(card=first).exists()
