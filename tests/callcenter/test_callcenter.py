"""The call center (BK-10, BK-11, CC-01, CC-03, CC-05): operators book, change and cancel for callers on the
citizen's own screens, book phone-only services for callers without a number, read the script out, and log
every call; a citizen and an operator racing for the last place get exactly one booking."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from booking.engine.queries import free_slots
from booking.engine.services import BookingError, do_book
from booking.models import Booking, BookingEvent, CallLogEntry, OperationLogEntry, Slot
from tests import factories
from tests.concurrency import race
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(kyoto: None) -> Client:
    make_staff("op1", "operator")
    return sign_in("op1")


def identify(client: Client, number: str, **proof: str) -> Any:
    return client.post("/staff/callcenter/", {"reservation_number": number, **proof})


def test_a_birth_date_that_is_no_date_is_told_as_such(operator: Client) -> None:
    card = factories.issue_card("ヤマダ タロウ").card
    page = identify(operator, card.reservation_number, birth_date="1948-13-45")
    assert page.status_code == 400
    assert "生年月日か氏名（カナ）を入力してください" not in page.content.decode()
    assert "本人確認のため" not in page.content.decode()
    nothing = identify(operator, card.reservation_number).content.decode()
    assert "本人確認のため、生年月日か氏名（カナ）を入力してください。" in nothing


def test_the_caller_is_identified_by_birth_date_or_kana_never_the_password(operator: Client) -> None:
    card = factories.issue_card("ヤマダ タロウ").card
    assert identify(operator, card.reservation_number, birth_date="1999-01-01").status_code == 400
    assert identify(operator, card.reservation_number).status_code == 400  # proof required
    assert (
        identify(operator, card.reservation_number, birth_date="1950-04-01")["Location"]
        == "/staff/caller/mypage/"
    )
    other = Client(HTTP_HOST="kyoto.localhost")
    other.cookies = operator.cookies
    assert (
        identify(other, card.reservation_number, name_kana="やまだ　たろう")["Location"]
        == "/staff/caller/mypage/"
    )
    assert OperationLogEntry.objects.filter(action="caller.identify_failed").count() == 1


def test_operator_books_changes_and_cancels_for_a_card_on_the_citizens_screens(operator: Client) -> None:
    card = factories.issue_card("ヤマダ タロウ").card
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    page = operator.get("/staff/caller/mypage/").content.decode()
    assert "オペレーター操作中" in page and card.reservation_number in page  # same screen, operator banner
    first, second = factories.next_free_slot_list(2)
    place = factories.place().pk
    day = first.starts_at.date()
    assert (
        "空いている時間"
        in operator.get(f"/staff/caller/book/card_issuance/{place}/{day:%Y-%m-%d}/").content.decode()
    )
    assert (
        operator.post(
            f"/staff/caller/book/card_issuance/{place}/{day:%Y-%m-%d}/",
            {"start": first.starts_at.isoformat()},
        )["Location"]
        == "/staff/caller/details/"
    )
    assert (
        operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})["Location"]
        == "/staff/caller/confirm/"
    )
    operator.post("/staff/caller/confirm/")
    booking = Booking.objects.get(card=card, status="confirmed")
    assert booking.channel == "phone"
    assert operator.get("/staff/caller/done/")["Location"] == f"/staff/callcenter/script/{booking.pk}/"
    event = BookingEvent.objects.get(booking=booking, kind="booked")
    assert (event.channel, event.actor) == ("phone", "op1")

    operator.post(
        f"/staff/caller/book/card_issuance/{place}/{second.starts_at.date():%Y-%m-%d}/",
        {"start": second.starts_at.isoformat()},
    )
    operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
    operator.post("/staff/caller/confirm/")
    booking.refresh_from_db()
    assert booking.slot.starts_at == second.starts_at
    assert BookingEvent.objects.get(booking=booking, kind="changed").actor == "op1"

    operator.post("/staff/caller/cancel/")
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert BookingEvent.objects.get(booking=booking, kind="cancelled").channel == "phone"
    assert OperationLogEntry.objects.filter(username="op1", action="caller.identify").exists()


def test_an_operator_may_cancel_after_the_residents_deadline(operator: Client) -> None:
    card = factories.issue_card().card
    soon = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=1))
    do_book(card, factories.place(), factories.card_issuance(), soon, now=soon - dt.timedelta(days=10))
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    operator.post("/staff/caller/cancel/")
    assert Booking.objects.get(card=card).status == "cancelled"


def test_the_script_must_be_read_out_in_full(operator: Client) -> None:
    card = factories.issue_card().card
    booking = do_book(
        card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at
    )
    page = operator.get(f"/staff/callcenter/script/{booking.pk}/").content.decode()
    assert factories.place().name in page and "持ち物" in page and "変更・取消の締切" in page
    assert operator.post(f"/staff/callcenter/script/{booking.pk}/", {"read": ["0", "1"]}).status_code == 400
    lines = page.count('name="read"')
    done = operator.post(f"/staff/callcenter/script/{booking.pk}/", {"read": [str(i) for i in range(lines)]})
    assert done["Location"] == "/staff/callcenter/"
    assert OperationLogEntry.objects.filter(action="caller.script_read").exists()


def _ecert_free(days: int = 60) -> Any:
    place = factories.place("kita")
    service = factories.Service.objects.get(code="ecert_renewal")
    today = timezone.localdate()
    return place, service, free_slots(place, service, today, today + dt.timedelta(days=days))


def test_a_past_day_in_the_visit_search_is_said_to_be_past(operator: Client) -> None:
    place = factories.place("kita")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    query = {"service": "ecert_renewal", "place": str(place.pk), "day": yesterday.isoformat()}
    page = operator.get("/staff/callcenter/visit/", query).content.decode()
    assert "過去の日付です。今日以降の日付を入力してください。" in page
    assert "この日に空いている時間はありません" not in page


def test_phone_only_service_for_a_caller_without_a_number(operator: Client) -> None:
    place, service, slots = _ecert_free()
    first, second = slots[0], slots[1]
    query = {"service": "ecert_renewal", "place": place.pk, "day": first.starts_at.date().isoformat()}
    page = operator.get("/staff/callcenter/visit/", query)
    assert page.status_code == 200 and first.starts_at.isoformat() in page.content.decode()
    bad = operator.post(
        f"/staff/callcenter/visit/?service=ecert_renewal&place={place.pk}&day={query['day']}",
        {"start": first.starts_at.isoformat(), "caller_name_kana": "Yamada", "contact_phone": "1"},
    )
    assert bad.status_code == 400
    made = operator.post(
        f"/staff/callcenter/visit/?service=ecert_renewal&place={place.pk}&day={query['day']}",
        {
            "start": first.starts_at.isoformat(),
            "caller_name_kana": "すずき はなこ",
            "contact_phone": "090-1234-5678",
        },
    )
    visit = Booking.objects.get(card__isnull=True)
    assert made["Location"] == f"/staff/callcenter/script/{visit.pk}/"
    assert (visit.caller_name_kana, visit.contact_phone, visit.channel) == (
        "スズキ ハナコ",
        "09012345678",
        "phone",
    )
    assert visit.slot.service.code == "ecert_renewal"

    day2 = second.starts_at.date().isoformat()
    move_url = f"/staff/callcenter/visit/?move={visit.pk}&service=ecert_renewal&place={place.pk}&day={day2}"
    assert f'name="from_slot" value="{visit.slot_id}"' in operator.get(move_url).content.decode()
    first_slot = visit.slot_id
    moved = operator.post(
        move_url,
        {
            "start": second.starts_at.isoformat(),
            "caller_name_kana": "スズキ ハナコ",
            "contact_phone": "080-9999-0000",  # corrected on the way: taken, not silently dropped
            "from_slot": str(first_slot),
        },
    )
    assert moved.status_code == 302
    visit.refresh_from_db()
    assert (visit.slot.starts_at, visit.contact_phone) == (second.starts_at, "08099990000")
    logged = OperationLogEntry.objects.get(action="visit.caller_changed")
    assert logged.detail == {"fields": ["contact_phone"]} and "080" not in str(logged.detail)
    # a second tab opened before that move: refused, not moved again (a new user's walk)
    stale = operator.post(
        move_url.replace(day2, first.starts_at.date().isoformat()),
        {
            "start": first.starts_at.isoformat(),
            "caller_name_kana": "スズキ ハナコ",
            "contact_phone": "08099990000",
            "from_slot": str(first_slot),
        },
    )
    assert stale.status_code == 400 and "別の操作で変更されました" in stale.content.decode()
    visit.refresh_from_db()
    assert visit.slot.starts_at == second.starts_at

    # cancelling asks first (one click cancelled at once), then cancels
    asked = operator.get(f"/staff/callcenter/visit/{visit.pk}/cancel/")
    assert asked.status_code == 200 and "この来庁予約を取り消しますか" in asked.content.decode()
    visit.refresh_from_db()
    assert visit.status == "confirmed"
    operator.post(f"/staff/callcenter/visit/{visit.pk}/cancel/")
    visit.refresh_from_db()
    assert visit.status == "cancelled"
    # the page's stale links after that lead back to the booking with a word, not a 404
    again = operator.post(f"/staff/callcenter/visit/{visit.pk}/cancel/", follow=True)
    assert "すでに取り消されています" in again.content.decode()
    gone = operator.get(move_url, follow=True)
    assert gone.status_code == 200 and "取り消されているため、変更できません" in gone.content.decode()


def test_phone_only_capacity_is_its_own(operator: Client) -> None:
    place, service, slots = _ecert_free()
    slot = slots[0]
    from booking.engine.services import do_book_visit

    for n in range(slot.capacity):
        do_book_visit(
            place,
            service,
            slot.starts_at,
            caller_name_kana=f"テスト {n}",
            contact_phone="0752223111",
            actor="op1",
        )
    with pytest.raises(BookingError) as refused:
        do_book_visit(
            place, service, slot.starts_at, caller_name_kana="テスト", contact_phone="0752223111", actor="op1"
        )
    assert refused.value.code == "slot_full"
    # card issuance at the same place and time still has all its places
    card_slots = free_slots(place, factories.card_issuance(), slot.starts_at.date(), slot.starts_at.date())
    assert any(s.starts_at == slot.starts_at and s.remaining == s.capacity for s in card_slots)


def test_one_click_call_log_and_live_tallies(operator: Client) -> None:
    for kind in ("new_booking", "new_booking", "question"):
        operator.post("/staff/callcenter/calls/", {"kind": kind})
    assert operator.post("/staff/callcenter/calls/", {"kind": "nonsense"}).status_code == 302
    assert CallLogEntry.objects.filter(kind="new_booking", operator="op1").count() == 2
    page = operator.get("/staff/callcenter/").content.decode()
    assert "新規予約 <strong>2</strong>" in page and "問い合わせ <strong>1</strong>" in page


@pytest.mark.parametrize(("role", "status"), [("counter", 403), ("viewer", 403), ("administrator", 200)])
def test_only_operators_and_administrators_use_the_call_center(kyoto: None, role: str, status: int) -> None:
    make_staff(f"u-{role}", role)
    client = sign_in(f"u-{role}")
    assert client.get("/staff/callcenter/").status_code == status
    assert client.get("/staff/caller/mypage/").status_code in ({403} if status == 403 else {302})


def test_the_caller_flow_needs_a_signed_in_operator(kyoto: None) -> None:
    anonymous = Client(HTTP_HOST="kyoto.localhost")
    assert anonymous.get("/staff/caller/mypage/")["Location"].startswith("/staff/login/")
    assert anonymous.get("/staff/caller/login/").status_code == 404  # no resident login in the operator flow


def test_a_citizen_and_an_operator_race_for_the_last_place(
    committed_kyoto: Callable[[Callable[[], Any]], Any],
) -> None:
    def scenario() -> None:
        slot = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        for card in factories.issue_cards(slot.capacity - 1):
            do_book(card, place, service, slot.starts_at)
        citizen, caller = factories.issue_cards(2)
        outcome = race(
            [
                partial(do_book, citizen, place, service, slot.starts_at, channel="web"),
                partial(do_book, caller, place, service, slot.starts_at, channel="phone", actor="op1"),
            ]
        )
        assert outcome == Counter({"ok": 1, "slot_full": 1})
        row = Slot.objects.get(place=place, starts_at=slot.starts_at)
        assert row.taken == row.capacity

    committed_kyoto(scenario)


def test_after_the_residents_deadline_the_operator_sees_what_operators_may_do(operator: Client) -> None:
    # Issue 15: the caller's page said "phone the call center" to the call center, with no links.
    card = factories.issue_card().card
    soon = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=1))
    do_book(
        card,
        factories.place(),
        factories.card_issuance(),
        soon,
        contact_phone="0751234567",
        now=soon - dt.timedelta(days=10),
    )
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    page = operator.get("/staff/caller/mypage/").content.decode()
    assert "コールセンターにお問い合わせ" not in page
    assert 'href="/staff/caller/cancel/"' in page and 'href="/staff/caller/book/"' in page
    assert "オペレーターは予約の開始" in page and "075-123-4567" in page
    assert operator.get("/staff/caller/cancel/").status_code == 200
    # The resident signed in with the same card is still sent to the phone.
    resident = Client(HTTP_HOST="kyoto.localhost")
    session = resident.session
    from booking.cards import credentials
    from booking.citizen.web import views as citizen_views

    session[citizen_views.SESSION_CARD] = card.pk
    session[citizen_views.SESSION_CARD_PROOF] = credentials.session_proof(card.password_digest)
    session.save()
    own = resident.get("/mypage/").content.decode()
    assert "コールセンターにお問い合わせ" in own and 'href="/cancel/"' not in own


def test_an_unbookable_card_is_said_so_before_the_booking_steps(operator: Client) -> None:
    """A withdrawn card: the caller's page says why it cannot be booked, offers no 予約する, and the steps
    lead back to it (a new user's walk chose service, place, day and time, then was told to phone the call
    center)."""
    from booking.cards.moves import do_move_card
    from booking.rules.card_states import CardState

    card = factories.issue_card().card
    do_move_card(card, CardState.CANCELLED, actor="clerk")
    identify(operator, card.reservation_number, birth_date="1950-04-01")
    page = operator.get("/staff/caller/mypage/").content.decode()
    assert "このカードはいま「廃止・取消」のため、予約できません" in page
    assert 'href="/staff/caller/book/"' not in page and "お問い合わせください" not in page
    assert operator.get("/staff/caller/book/")["Location"] == "/staff/caller/mypage/"
    # every later step too: place, day and time have addresses of their own (a bookmark, the back button)
    place, day = factories.place(), factories.next_free_slot().starts_at.date()
    for step in ("card_issuance/", f"card_issuance/{place.pk}/", f"card_issuance/{place.pk}/{day}/"):
        assert operator.get(f"/staff/caller/book/{step}")["Location"] == "/staff/caller/mypage/", step
