"""Issue 11 at the call center: a phone-only visit form posted twice (double click, resubmit) is one visit,
and the operator's confirm in the caller flow posted twice is one booking; both land where the first went."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from booking.models import Booking, Card, Hold
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


OTHER_PAGE = "この画面は、前に開いた別の予約（別の方）の手続きのものでした。何も変更していません。"


def _book_for(operator: Client, card: Card, start: dt.datetime, phone: str) -> Booking:
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    place = factories.place().pk
    operator.post(f"/staff/caller/book/card_issuance/{place}/{start:%Y-%m-%d}/", {"start": start.isoformat()})
    operator.post("/staff/caller/details/", {"phone": phone, "email": ""})
    token = form_token(operator.get("/staff/caller/confirm/"))
    operator.post("/staff/caller/confirm/", {"form_token": token})
    return Booking.objects.get(card=card, status="confirmed")


def test_the_last_callers_cancel_page_cancels_nothing_for_the_next_caller(operator: Client) -> None:
    """A's cancel page, sent while B is on the line (found by a new user's walk: it cancelled B's booking)."""
    first, second = factories.issue_card().card, factories.issue_card().card
    starts = [slot.starts_at for slot in factories.next_free_slot_list(2)]
    booking_a = _book_for(operator, first, starts[0], "075-000-1111")
    stale = operator.get("/staff/caller/cancel/")
    assert f'name="booking" value="{booking_a.pk}"' in stale.content.decode()
    booking_b = _book_for(operator, second, starts[1], "075-000-2222")
    answer = operator.post(
        "/staff/caller/cancel/", {"form_token": form_token(stale), "booking": str(booking_a.pk)}, follow=True
    )
    assert OTHER_PAGE in answer.content.decode()
    booking_a.refresh_from_db()
    booking_b.refresh_from_db()
    assert (booking_a.status, booking_b.status) == ("confirmed", "confirmed")
    # B's own cancel page still cancels B's booking
    page = operator.get("/staff/caller/cancel/")
    operator.post("/staff/caller/cancel/", {"form_token": form_token(page), "booking": str(booking_b.pk)})
    booking_b.refresh_from_db()
    assert booking_b.status == "cancelled"


@pytest.mark.parametrize("next_caller_holds_a_time", [False, True])
def test_the_last_callers_details_are_never_kept_for_the_next_caller(
    operator: Client, next_caller_holds_a_time: bool
) -> None:
    """A's contact form, sent while B is on the line, is neither kept as B's draft nor taken as B's
    details (found by a new user's walk: B's form came pre-filled with A's phone and mail)."""
    first, second = factories.issue_card().card, factories.issue_card().card
    starts = [slot.starts_at for slot in factories.next_free_slot_list(2)]
    place = factories.place().pk

    def hold_for(card: Card, start: dt.datetime) -> None:
        identify(operator, card.reservation_number, birth_date="1950-04-01")
        operator.post(
            f"/staff/caller/book/card_issuance/{place}/{start:%Y-%m-%d}/", {"start": start.isoformat()}
        )

    hold_for(first, starts[0])
    stale = operator.get("/staff/caller/details/").content.decode()
    owner = re.search(r'name="draft_owner" value="([^"]+)"', stale)
    assert owner
    if next_caller_holds_a_time:
        hold_for(second, starts[1])
    else:
        identify(operator, second.reservation_number, birth_date="1950-04-01")
    sent = {"phone": "03-1111-2222", "email": "first@example.jp", "draft_owner": owner.group(1)}
    mark = re.search(r'name="card_mark" value="([^"]+)"', stale)
    assert mark, "the contact form says whose card it is for"
    answer = operator.post("/staff/caller/details/", {**sent, "card_mark": mark.group(1)}, follow=True)
    assert OTHER_PAGE in answer.content.decode()
    if not next_caller_holds_a_time:
        hold_for(second, starts[1])
    details = operator.get("/staff/caller/details/").content.decode()
    assert "first@example.jp" not in details and "03-1111-2222" not in details
    assert operator.get("/staff/caller/confirm/")["Location"] == "/staff/caller/details/"  # no details yet


def test_the_last_callers_confirm_page_says_it_was_another_callers(operator: Client) -> None:
    """Not "the held time ran out": the next caller's time is still held (a new user's walk)."""
    first, second = factories.issue_card().card, factories.issue_card().card
    starts = [slot.starts_at for slot in factories.next_free_slot_list(2)]
    place = factories.place().pk
    for card, start in ((first, starts[0]), (second, starts[1])):
        identify(operator, card.reservation_number, birth_date="1950-04-01")
        operator.post(
            f"/staff/caller/book/card_issuance/{place}/{start:%Y-%m-%d}/", {"start": start.isoformat()}
        )
        operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
        if card == first:
            stale = operator.get("/staff/caller/confirm/")
            hold = re.search(r'name="hold" value="(\d+)"', stale.content.decode())
    assert hold
    sent = {"form_token": form_token(stale), "hold": hold.group(1), "card_mark": card_mark(stale)}
    answer = operator.post("/staff/caller/confirm/", sent, follow=True)
    page = answer.content.decode()
    assert OTHER_PAGE in page and "期限が切れました" not in page
    assert not Booking.objects.filter(card__in=[first, second]).exists()
    assert operator.get("/staff/caller/confirm/").status_code == 200  # B's time is still held


def card_mark(page: Any) -> str:
    found = re.search(r'name="card_mark" value="([^"]+)"', page.content.decode())
    assert found, "every form of the booking steps says whose card it is for"
    return found.group(1)


def test_the_last_callers_time_and_release_forms_leave_the_next_callers_hold_alone(operator: Client) -> None:
    """A's time page and A's release button, sent while B is on the line: B's held time stays as it is
    (the review of this session: every form of the steps, not only cancel, contact and confirm)."""
    first, second = factories.issue_card().card, factories.issue_card().card
    starts = [slot.starts_at for slot in factories.next_free_slot_list(2)]
    place = factories.place().pk
    url_a = f"/staff/caller/book/card_issuance/{place}/{starts[0]:%Y-%m-%d}/"
    identify(operator, first.reservation_number, birth_date="1950-04-01")
    time_page_a = operator.get(url_a)
    operator.post(url_a, {"start": starts[0].isoformat(), "card_mark": card_mark(time_page_a)})
    details_a = operator.get("/staff/caller/details/")
    identify(operator, second.reservation_number, birth_date="1950-04-01")
    url_b = f"/staff/caller/book/card_issuance/{place}/{starts[1]:%Y-%m-%d}/"
    operator.post(url_b, {"start": starts[1].isoformat(), "card_mark": card_mark(operator.get(url_b))})
    held_b = Hold.objects.get(card=second)
    for url, data in (
        (url_a, {"start": starts[0].isoformat(), "card_mark": card_mark(time_page_a)}),
        ("/staff/caller/release/", {"card_mark": card_mark(details_a)}),
        ("/staff/caller/extend/", {"card_mark": card_mark(details_a)}),
    ):
        answer = operator.post(url, data, follow=True)
        assert OTHER_PAGE in answer.content.decode(), url
        assert (
            Hold.objects.get(card=second) == held_b
            and Hold.objects.get(card=second).slot_id == held_b.slot_id
        )


def test_a_residents_confirm_with_a_time_held_anew_is_asked_again(kyoto: None) -> None:
    """Not "another person's page": the same resident's hold was renewed (a background extend after it
    ran out holds anew), so the confirm page is shown again."""
    from tests.citizen.test_citizen_site import log_in, walk_to_hold
    from tests.conftest import KYOTO_HOST

    client, issued = Client(HTTP_HOST=KYOTO_HOST), factories.issue_card()
    card = issued.card
    log_in(client, issued)
    walk_to_hold(client, factories.next_free_slot().starts_at)
    client.post("/details/", {"phone": "075-000-1111", "email": ""})
    page = client.get("/confirm/")
    old_hold = re.search(r'name="hold" value="(\d+)"', page.content.decode())
    assert old_hold
    Hold.objects.filter(card=card).update(id=int(old_hold.group(1)) + 1000)  # held anew: another row
    answer = client.post(
        "/confirm/", {"form_token": form_token(page), "hold": old_hold.group(1), "card_mark": card_mark(page)}
    )
    assert answer["Location"] == "/confirm/"
    assert "確保している時間が、この画面を開いた後に変わりました" in client.get("/confirm/").content.decode()
    assert not Booking.objects.filter(card=card).exists()
