"""The card lifecycle (AD-03, AD-08): legal moves only (the database agrees with the table), every move in
the history with who and when, bookings moving cards, and the staff screens for progress and moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.cards.moves import CardMoveError, do_move_card, do_move_cards
from booking.engine.services import BookingError, do_book, do_cancel
from booking.lifecycle import progress, queries
from booking.models import Booking, BookingSettings, Card, CardEvent, OperationLogEntry
from booking.rules.card_states import LEGAL_MOVES, CardState, is_legal
from tests import factories
from tests.conftest import MIHON_HOST
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
S = CardState


def book(card: Card) -> Booking:
    slot = factories.next_free_slot()
    return do_book(card, factories.place(), factories.card_issuance(), slot.starts_at)


# --- the table and the database ------------------------------------------------------------------------


def test_the_database_allows_exactly_the_legal_moves(kyoto: None) -> None:
    verdicts = {}
    for number, (old, new) in enumerate((a, b) for a in S.values for b in S.values if a != b):
        # A card is inserted in any state (imports and migrations do that); only UPDATEs are moves.
        card = Card.objects.create(
            application_id=f"{number:023d}",
            reservation_number=f"9{number:011d}",
            name="京都 太郎",
            name_kana="キョウト タロウ",
            birth_date=dt.date(1960, 1, 1),
            postal_code="604-8571",
            address="京都市",
            state=old,
        )
        try:
            with transaction.atomic():
                Card.objects.filter(pk=card.pk).update(state=new)
            verdicts[(old, new)] = True
        except IntegrityError as error:
            assert "card_illegal_move" in str(error)
            verdicts[(old, new)] = False
    assert verdicts == {(old, new): is_legal(old, new) for (old, new) in verdicts}
    assert sum(verdicts.values()) == sum(len(moves) for moves in LEGAL_MOVES.values())


def test_final_states_have_no_way_out() -> None:
    assert {state for state, moves in LEGAL_MOVES.items() if not moves} == {
        S.HANDED_OVER,
        S.EXPIRED,
        S.CANCELLED,
    }


def test_an_unknown_state_is_refused(kyoto: None) -> None:
    card = factories.issue_card(state=S.RECEIVED).card
    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=card.pk).update(state="lost")


# --- moves through the service ---------------------------------------------------------------------------


def test_a_card_goes_through_its_life_and_every_step_is_recorded(kyoto: None) -> None:
    now = timezone.now()
    card = factories.issue_card(state=S.RECEIVED).card
    do_move_card(card, S.SET_UP, actor="clerk1", note="第3便")
    card = do_move_card(card, S.NOTICE_SENT, actor="clerk1")
    assert card.notice_sent_on == timezone.localdate(now)
    booking = book(card)
    card.refresh_from_db()
    assert card.state == S.BOOKED
    do_move_card(card, S.MOVED, actor="clerk2", place=booking.slot.place)
    card.refresh_from_db()
    assert card.at_place == booking.slot.place
    do_move_card(card, S.HANDED_OVER, actor="counter1")

    events = list(CardEvent.objects.filter(card=card).order_by("at", "pk"))
    assert [(e.from_state, e.to_state) for e in events][-5:] == [
        (S.RECEIVED, S.SET_UP),
        (S.SET_UP, S.NOTICE_SENT),
        (S.NOTICE_SENT, S.BOOKED),
        (S.BOOKED, S.MOVED),
        (S.MOVED, S.HANDED_OVER),
    ]
    assert events[-5].actor == "clerk1" and events[-5].note == "第3便"
    assert events[-3].actor == ""  # the citizen booked it themselves
    assert events[-2].place == booking.slot.place


def test_an_illegal_move_is_refused_and_nothing_changes(kyoto: None) -> None:
    ready = factories.issue_card(state=S.SET_UP).card
    fresh = factories.issue_card(state=S.RECEIVED).card
    with pytest.raises(CardMoveError) as refused:
        do_move_cards([ready.pk, fresh.pk], S.NOTICE_SENT, actor="clerk1")
    assert [move.application_id for move in refused.value.refused] == [fresh.application_id]
    assert "「受領（J-LIS）」から「通知書送付済み」には変更できません" in refused.value.message
    assert "何も変更していません" in refused.value.message
    ready.refresh_from_db()
    assert ready.state == S.SET_UP  # all or nothing: the legal one did not move either
    assert not CardEvent.objects.filter(card=ready, to_state=S.NOTICE_SENT).exists()


def test_a_handed_over_card_cannot_go_back(kyoto: None) -> None:
    card = factories.issue_card().card
    book(card)
    do_move_card(card, S.HANDED_OVER, actor="counter1")
    for state in (S.BOOKED, S.NOTICE_SENT, S.CANCELLED):
        with pytest.raises(CardMoveError):
            do_move_card(card, state, actor="counter1")


def test_moving_to_the_same_state_changes_nothing(kyoto: None) -> None:
    card = factories.issue_card(state=S.SET_UP).card
    before = CardEvent.objects.filter(card=card).count()
    assert do_move_cards([card.pk], S.SET_UP, actor="clerk1") == 0
    assert CardEvent.objects.filter(card=card).count() == before


# --- bookings and the card -----------------------------------------------------------------------------


def test_booking_and_cancelling_move_the_card(kyoto: None) -> None:
    card = factories.issue_card().card
    book(card)
    card.refresh_from_db()
    assert card.state == S.BOOKED
    do_cancel(card)
    card.refresh_from_db()
    assert card.state == S.NOTICE_SENT
    assert CardEvent.objects.filter(card=card, to_state=S.NOTICE_SENT, note="予約取消").exists()


def test_a_card_moved_to_the_counter_stays_there_when_its_booking_is_cancelled(kyoto: None) -> None:
    card = factories.issue_card().card
    booking = book(card)
    do_move_card(card, S.MOVED, actor="clerk", place=booking.slot.place)
    do_cancel(card, channel="phone", actor="op1")
    card.refresh_from_db()
    assert card.state == S.MOVED  # physically at the counter: the waiting list asks for it back
    waiting, _total = progress.waiting_cards()
    assert [(item.card.pk, item.reason) for item in waiting] == [(card.pk, "stranded")]


@pytest.mark.parametrize("state", [S.RECEIVED, S.SET_UP, S.HANDED_OVER, S.CANCELLED, S.EXPIRED])
def test_a_card_not_ready_or_finished_cannot_be_booked(kyoto: None, state: str) -> None:
    card = factories.issue_card().card
    if state in (S.RECEIVED, S.SET_UP):
        card = factories.issue_card(state=state).card
    elif state == S.HANDED_OVER:
        book(card)
        do_move_card(card, S.HANDED_OVER, actor="counter1")
        Booking.objects.filter(card=card).update(outcome="visited", outcome_at=timezone.now())
    else:
        do_move_card(card, state, actor="clerk")
    with pytest.raises(BookingError) as refused:
        book(card)
    assert refused.value.code == "card_not_bookable"


def test_cancelling_a_card_cancels_its_booking(kyoto: None) -> None:
    card = factories.issue_card().card
    booking = book(card)
    do_move_card(card, S.CANCELLED, actor="clerk", note="申請取下げ")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.events.filter(kind="cancelled", actor="clerk").exists()


def test_a_visit_outcome_is_final_except_a_late_arrival(kyoto: None) -> None:
    booking = book(factories.issue_card().card)
    Booking.objects.filter(pk=booking.pk).update(outcome="no_show", outcome_at=timezone.now())
    Booking.objects.filter(pk=booking.pk).update(outcome="visited")  # came after all
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(outcome="no_show")
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(status="cancelled", cancelled_at=timezone.now())


def test_a_cancelled_booking_stays_cancelled(kyoto: None) -> None:
    card = factories.issue_card().card
    booking = book(card)
    do_cancel(card)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(status="confirmed")


def test_after_a_no_show_the_card_can_be_booked_again(kyoto: None) -> None:
    card = factories.issue_card().card
    booking = book(card)
    Booking.objects.filter(pk=booking.pk).update(outcome="no_show", outcome_at=timezone.now())
    second = do_book(
        card, factories.place(), factories.card_issuance(), factories.next_free_slot_list(2)[1].starts_at
    )
    assert second.pk != booking.pk


# --- races ---------------------------------------------------------------------------------------------


def _race_booking_and_withdrawal(card: Card, starts_at: dt.datetime) -> set[str]:
    def book_it() -> str:
        try:
            do_book(card, factories.place(), factories.card_issuance(), starts_at)
            return "booked"
        except BookingError as error:
            return error.code

    def withdraw() -> str:
        do_move_cards([card.pk], S.CANCELLED, actor="clerk")
        return "cancelled"

    def run(attempt: Callable[[], str]) -> str:
        try:
            with schema_context("kyoto"):
                return attempt()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return set(pool.map(run, [book_it, withdraw]))


def test_a_booking_racing_a_withdrawal_never_leaves_a_booking_on_a_cancelled_card(
    committed_kyoto: Any,
) -> None:
    def scenario() -> None:
        for _ in range(5):
            card = factories.issue_card().card
            results = _race_booking_and_withdrawal(card, factories.next_free_slot().starts_at)
            card.refresh_from_db()
            assert card.state == S.CANCELLED
            assert "cancelled" in results
            assert not Booking.objects.filter(card=card, status="confirmed").exists()

    committed_kyoto(scenario)


# --- progress ------------------------------------------------------------------------------------------


def test_counts_per_state_and_place(kyoto: None) -> None:
    factories.issue_card(state=S.RECEIVED)
    booked = factories.issue_card().card
    booking = book(booked)
    counts = dict((state, count) for state, _label, count in progress.state_counts())
    assert counts[S.RECEIVED] >= 1 and counts[S.BOOKED] >= 1
    rows = {row.place.code if row.place else None: row for row in progress.place_counts()}
    assert rows[booking.slot.place.code].counts[S.BOOKED] == 1
    assert rows[None].counts[S.RECEIVED] >= 1


def test_waiting_too_long(kyoto: None) -> None:
    old = factories.issue_card(state=S.SET_UP).card
    Card.objects.filter(pk=old.pk).update(state_changed_at=timezone.now() - dt.timedelta(days=31))
    factories.issue_card(state=S.SET_UP)  # recent: not listed
    waiting, total = progress.waiting_cards()
    assert [(item.card.pk, item.reason) for item in waiting] == [(old.pk, "stale")]
    assert total == 1


def test_find_card_by_scan_or_typing(kyoto: None) -> None:
    card = factories.issue_card().card
    assert queries.card_by_number(card.application_id + "\r") == card
    wide = card.reservation_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert queries.card_by_number(f"{wide[:4]}-{wide[4:8]}-{wide[8:]}") == card
    assert queries.card_by_number("12345") is None


# --- screens -------------------------------------------------------------------------------------------


@pytest.fixture
def clerk(kyoto: None) -> Client:
    make_staff("clerk1", "counter")
    return sign_in("clerk1")


def test_progress_screen(clerk: Client) -> None:
    factories.issue_card(state=S.RECEIVED)
    page = clerk.get("/staff/cards/").content.decode()
    assert "状態ごとの枚数" in page and "受領（J-LIS）" in page and "事務室（予約なし）" in page


def test_scan_jumps_to_the_card_and_the_card_page_shows_its_history(clerk: Client) -> None:
    card = factories.issue_card().card
    response = clerk.get("/staff/cards/scan/", {"q": card.application_id})
    assert response.status_code == 302 and response["Location"] == f"/staff/cards/{card.pk}/"
    page = clerk.get(response["Location"]).content.decode()
    assert card.reservation_number in page and "通知書送付済み" in page and "factory" in page
    missing = clerk.get("/staff/cards/scan/", {"q": "999"}, follow=True).content.decode()
    assert "に当たるカードはありません" in missing
    empty = clerk.get("/staff/cards/scan/", {"q": "  "}, follow=True).content.decode()
    assert "「」" not in empty and "読み取るか入力してください" in empty  # not "no card matches 「」"


def test_a_clerk_moves_a_card_by_hand(clerk: Client) -> None:
    card = factories.issue_card().card
    response = clerk.post(f"/staff/cards/{card.pk}/move/", {"to_state": S.RETURNED, "note": "宛所不明"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.state == S.RETURNED
    assert CardEvent.objects.filter(card=card, to_state=S.RETURNED, actor="clerk1", note="宛所不明").exists()
    # not offered, so refused as a bad form: returned → set up is no move
    refused = clerk.post(f"/staff/cards/{card.pk}/move/", {"to_state": S.SET_UP})
    assert refused.status_code == 400
    # said in the staff's words, not "set_up is not one of the available choices" (a new user's walk)
    told = "このカードはいま「通知書返戻」のため、「交付前設定済み」には変更できません"
    assert told in refused.content.decode()
    again = clerk.post(f"/staff/cards/{card.pk}/move/", {"to_state": S.RETURNED})  # a second tab's same move
    assert "このカードはすでに「通知書返戻」です" in again.content.decode()
    card.refresh_from_db()
    assert card.state == S.RETURNED
    entry = OperationLogEntry.objects.get(action="card.move")  # the operation log says which card
    assert (entry.target, entry.detail["cards"]) == (f"card {card.pk}", [card.pk])


def test_bulk_set_up_by_scanning(clerk: Client) -> None:
    cards = [factories.issue_card(state=S.RECEIVED).card for _ in range(3)]
    numbers = "\n".join(card.application_id for card in cards) + "\n" + cards[0].application_id
    preview = clerk.post("/staff/cards/move/", {"to_state": S.SET_UP, "numbers": numbers, "preview": ""})
    page = preview.content.decode()
    assert "3枚が見つかりました" in page
    # A double scan is shown, not silently dropped, and does not block: the card counts once (issue 15).
    assert "4行目" in page and "1行目と同じカードです" in page and "重ねて読み取った行が1行" in page
    assert "3枚を「交付前設定済み」にする" in page or 'name="confirm"' in page
    done = clerk.post("/staff/cards/move/", {"to_state": S.SET_UP, "numbers": numbers, "confirm": ""})
    assert done.status_code == 302
    assert OperationLogEntry.objects.filter(action="card.move", detail__count=3).exists()
    assert CardEvent.objects.filter(card=cards[0], to_state=S.SET_UP).count() == 1
    assert set(Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("state", flat=True)) == {
        S.SET_UP
    }


def test_many_scans_of_one_card_are_summed_up_not_listed_line_by_line(clerk: Client) -> None:
    card = factories.issue_card(state=S.RECEIVED).card
    numbers = "\n".join([card.application_id] * 200)
    page = clerk.post("/staff/cards/move/", {"to_state": S.SET_UP, "numbers": numbers, "preview": ""})
    text = page.content.decode()
    assert "重ねて読み取った行が199行" in text and "ほか149行" in text
    assert text.count("行目と同じカードです") == 50


def test_bulk_move_with_an_unknown_number_moves_nothing(clerk: Client) -> None:
    card = factories.issue_card(state=S.RECEIVED).card
    numbers = f"{card.application_id}\n12345678901234567890123"
    response = clerk.post("/staff/cards/move/", {"to_state": S.SET_UP, "numbers": numbers, "confirm": ""})
    assert response.status_code == 200 and "該当するカードがありません" in response.content.decode()
    card.refresh_from_db()
    assert card.state == S.RECEIVED


def test_a_viewer_sees_but_cannot_move(kyoto: None) -> None:
    make_staff("viewer1", "viewer")
    viewer = sign_in("viewer1")
    card = factories.issue_card().card
    assert viewer.get(f"/staff/cards/{card.pk}/").status_code == 200
    assert viewer.post(f"/staff/cards/{card.pk}/move/", {"to_state": S.RETURNED}).status_code == 403
    assert viewer.get("/staff/cards/move/").status_code == 403


def test_another_tenant_cannot_see_kyotos_cards(clerk: Client) -> None:
    card = factories.issue_card().card
    with schema_context("mihon"):
        make_staff("mihon1", "administrator")
    mihon = sign_in("mihon1", host=MIHON_HOST)
    assert mihon.get(f"/staff/cards/{card.pk}/").status_code == 404
    assert mihon.get("/staff/cards/scan/", {"q": card.application_id}).status_code == 302
    assert mihon.post(f"/staff/cards/{card.pk}/move/", {"to_state": S.RETURNED}).status_code == 404
    with schema_context("kyoto"):
        card.refresh_from_db()
    assert card.state == S.NOTICE_SENT


def test_an_administrator_sets_the_transfer_cut_and_the_waiting_days(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    admin = sign_in("admin1")
    assert "移送リストの締め" in admin.get("/staff/settings/cards/").content.decode()
    bad = admin.post(
        "/staff/settings/cards/",
        {"transfer_cutoff_days_before": "30", "transfer_cutoff_time": "12:00", "card_waiting_days": "0"},
    )
    assert bad.status_code == 400 and "0〜14日の間" in bad.content.decode()
    good = admin.post(
        "/staff/settings/cards/",
        {"transfer_cutoff_days_before": "2", "transfer_cutoff_time": "15:30", "card_waiting_days": "21"},
    )
    assert good.status_code == 302
    rules = BookingSettings.objects.get()
    assert (rules.transfer_cutoff_days_before, rules.transfer_cutoff_time, rules.card_waiting_days) == (
        2,
        dt.time(15, 30),
        21,
    )
    make_staff("clerk9", "counter")
    assert sign_in("clerk9").get("/staff/settings/cards/").status_code == 403


def test_a_stale_card_object_still_moves_to_booked(kyoto: None) -> None:
    card = factories.issue_card(state=S.SET_UP).card
    stale = Card.objects.get(pk=card.pk)  # read while still "set up"
    do_move_card(card, S.NOTICE_SENT, actor="clerk1")
    book(stale)
    card.refresh_from_db()
    assert card.state == S.BOOKED


def test_a_card_left_at_the_counter_is_brought_back_from_its_page(clerk: Client) -> None:
    card = factories.issue_card().card
    booking = book(card)
    do_move_card(card, S.MOVED, actor="clerk1", place=booking.slot.place)
    Booking.objects.filter(pk=booking.pk).update(outcome="no_show", outcome_at=timezone.now())
    page = clerk.get(f"/staff/cards/{card.pk}/").content.decode()
    assert "事務室に戻した" in page
    assert 'value="notice_sent"' not in page  # only a returned letter is re-sent by hand
    assert clerk.post(f"/staff/cards/{card.pk}/return/").status_code == 302
    card.refresh_from_db()
    assert card.state == S.NOTICE_SENT and card.at_place is None
    again = clerk.post(f"/staff/cards/{card.pk}/return/", follow=True).content.decode()
    assert "窓口にありません" in again
