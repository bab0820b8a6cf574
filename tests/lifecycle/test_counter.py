"""The counter's day (BK-13): check-in by the citizen's QR code or a typed number, hand-over, no-show, what is
refused (and how the database's refusals read), the counter screen and its permissions, tenant isolation, and
the check-in QR code on the citizen's pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.engine.queries import booking_rules, closed_days_for
from booking.engine.services import active_booking, do_book, do_book_visit, do_cancel, do_change
from booking.lib.dates import TOKYO
from booking.lifecycle import counter, progress
from booking.lifecycle import views_counter as counter_views
from booking.lifecycle.counter import CounterError
from booking.lifecycle.transfer_services import do_confirm_transfer, do_return_to_back_office
from booking.models import Booking, Card, CardEvent, OperationLogEntry, Place, Service
from booking.rules import schedule
from booking.rules.card_states import CardState
from integrations import qr
from tests import factories
from tests.citizen.test_citizen_accessibility import check
from tests.conftest import KYOTO_HOST, MIHON_HOST
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
CLERK = oplog.Actor(None, "clerk1", "127.0.0.1")


def starts(day: dt.date, code: str = "center-3f", service: str = "card_issuance") -> list[dt.datetime]:
    the_place = factories.place(code)
    patterns = list(the_place.opening_patterns.filter(service__code=service))
    return [
        s.starts_at
        for s in schedule.day_slots(the_place, patterns, day, closed_days_for(the_place, day, day))
    ]


def open_day(after: dt.date) -> dt.date:
    day = after
    while not (starts(day) and starts(day, "kita")):
        day += dt.timedelta(days=1)
    return day


def at(day: dt.date, hour: int, minute: int = 0, days_before: int = 0) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=days_before), dt.time(hour, minute), tzinfo=TOKYO)


def book(day: dt.date, index: int = 0, code: str = "center-3f", kana: str | None = None) -> Booking:
    card = factories.issue_card(kana).card
    start = starts(day, code)[index]
    return do_book(
        card, factories.place(code), factories.card_issuance(), start, now=at(day, 10, days_before=10)
    )


def card(booking: Booking) -> Card:
    return Card.objects.select_related("at_place").get(pk=factories.card_of(booking).pk)


def fresh(booking: Booking) -> Booking:
    return Booking.objects.get(pk=booking.pk)


def moved_to_counter(day: dt.date, code: str = "center-3f") -> None:
    """The day's transfer list confirmed after its cut (noon the day before)."""
    do_confirm_transfer(factories.place(code), day, actor=CLERK, now=at(day, 13, days_before=1))


@pytest.fixture
def day(kyoto: None) -> dt.date:
    return open_day(timezone.localdate() + dt.timedelta(days=21))


def center() -> Place:
    return factories.place("center-3f")


# --- finding the booking -----------------------------------------------------------------------------------


def test_the_qr_payload_or_a_typed_number_finds_the_booking(day: dt.date) -> None:
    booking = book(day, 0)
    number = factories.card_of(booking).reservation_number
    assert counter.find_booking(number, center(), day).booking == booking
    assert counter.find_booking(f"{number}\r\n", center(), day).booking == booking  # the scanner's Enter
    typed = f"{number[:4]}-{number[4:8]} {number[8:]}".translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    assert counter.find_booking(typed, center(), day).booking == booking
    assert (
        counter.find_booking(" \r\n", center(), day).problem
        == "QRコードを読み取るか、12桁の予約番号を入力してください"
    )
    unknown = counter.find_booking("0000-0000-0000", center(), day)
    assert unknown.booking is None and "当たる予約番号はありません" in unknown.problem
    elsewhere = counter.find_booking(number, factories.place("kita"), day)
    assert elsewhere.booking is None and "この窓口ではありません" in elsewhere.problem
    other_day = counter.find_booking(number, center(), day + dt.timedelta(days=1))
    assert other_day.booking is None and "の予約ではありません" in other_day.problem


def test_check_in_on_the_day_once(day: dt.date) -> None:
    booking = book(day, 0)
    with pytest.raises(CounterError) as early:
        counter.do_check_in(booking, actor=CLERK, now=at(day, 9, days_before=1))
    assert early.value.code == "other_day" and fresh(booking).checked_in_at is None
    arrived = at(day, 8, 55)
    assert counter.do_check_in(booking, actor=CLERK, now=arrived).checked_in_at == arrived
    with pytest.raises(CounterError) as again:
        counter.do_check_in(booking, actor=CLERK, now=at(day, 9, 1))
    assert again.value.code == "already_checked_in" and "08:55" in again.value.message
    assert fresh(booking).checked_in_at == arrived
    assert OperationLogEntry.objects.filter(action="counter.check_in", username="clerk1").count() == 1


# --- hand-over ---------------------------------------------------------------------------------------------


def test_hand_over_ends_the_visit_and_the_card_is_handed_over(day: dt.date) -> None:
    booking = book(day, 0)
    moved_to_counter(day)
    counter.do_check_in(booking, actor=CLERK, now=at(day, 9, 2))
    done = counter.do_hand_over(booking, actor=CLERK, now=at(day, 9, 10))
    assert done.outcome == Booking.Outcome.VISITED and done.outcome_by == "clerk1"
    assert done.outcome_at == at(day, 9, 10) and done.checked_in_at == at(day, 9, 2)
    handed = card(booking)
    assert handed.state == CardState.HANDED_OVER
    event = CardEvent.objects.filter(card=handed).order_by("-at", "-pk").first()
    assert event is not None and event.from_state == CardState.MOVED and event.note == "交付"
    assert event.place == center() and event.actor == "clerk1"
    with pytest.raises(CounterError) as twice:
        counter.do_hand_over(booking, actor=CLERK, now=at(day, 9, 11))
    assert twice.value.code == "already_handed_over"
    with pytest.raises(CounterError) as no_show:
        counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 17))
    assert no_show.value.code == "already_visited" and fresh(booking).outcome == "visited"
    assert active_booking(handed) is None


def test_a_card_still_in_the_back_office_can_be_handed_over_there(day: dt.date) -> None:
    booking = book(day, 0)  # the center hands over from its own back office, without a transfer
    counter.do_hand_over(booking, actor=CLERK, now=at(day, 9))
    assert card(booking).state == CardState.HANDED_OVER and fresh(booking).checked_in_at == at(day, 9)


def test_hand_over_is_refused_before_the_day_and_when_cancelled(day: dt.date) -> None:
    booking = book(day, 0)
    with pytest.raises(CounterError) as early:
        counter.do_hand_over(booking, actor=CLERK, now=at(day, 17, days_before=1))
    assert early.value.code == "not_yet"
    do_cancel(factories.card_of(booking), now=at(day, 10, days_before=5))
    for action in (counter.do_hand_over, counter.do_check_in, counter.do_mark_no_show):
        with pytest.raises(CounterError) as refused:
            action(booking, actor=CLERK, now=at(day, 10))
        assert refused.value.code == "cancelled" and "取り消されています" in refused.value.message
    assert fresh(booking).outcome == "" and card(booking).state == CardState.NOTICE_SENT


def test_a_card_moved_to_another_counter_cannot_be_handed_over_here(day: dt.date) -> None:
    rules = booking_rules()
    rules.transfer_cutoff_days_before = 3  # cut before the residents' deadline, so they can still move
    rules.save()
    booking = book(day, 0, code="kita")
    do_confirm_transfer(factories.place("kita"), day, actor=CLERK, now=at(day, 12, 30, days_before=3))
    # Moved to the center after the kita list was confirmed: the card is still at kita.
    do_change(factories.card_of(booking), center(), starts(day)[1], now=at(day, 13, days_before=3))
    with pytest.raises(CounterError) as refused:
        counter.do_hand_over(booking, actor=CLERK, now=at(day, 9, 30))
    assert refused.value.code == "card_elsewhere" and "北区役所" in refused.value.message
    assert fresh(booking).outcome == "" and card(booking).state == CardState.MOVED


def test_a_phone_only_visit_has_an_outcome_and_no_card(day: dt.date) -> None:
    ecert = Service.objects.get(code="ecert_renewal")
    visit = do_book_visit(
        center(), ecert, starts(day, service="ecert_renewal")[0], caller_name_kana="デンワ ハナコ",
        contact_phone="075-000-0000", actor="op1", now=at(day, 10, days_before=10),
    )  # fmt: skip
    counter.do_check_in(visit, actor=CLERK, now=at(day, 9))
    done = counter.do_hand_over(visit, actor=CLERK, now=at(day, 9, 15))
    assert done.outcome == "visited" and done.card is None
    assert OperationLogEntry.objects.filter(action="counter.hand_over", target=f"booking {visit.pk}").exists()


# --- no-show -----------------------------------------------------------------------------------------------


def test_a_no_show_frees_the_card_to_book_again(day: dt.date) -> None:
    booking = book(day, 0)
    with pytest.raises(CounterError) as early:
        counter.do_mark_no_show(booking, actor=CLERK, now=booking.slot.starts_at - dt.timedelta(minutes=1))
    assert early.value.code == "too_early"
    counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 17))
    row = fresh(booking)
    assert row.outcome == "no_show" and row.outcome_by == "clerk1" and row.status == "confirmed"
    freed = card(booking)
    assert freed.state == CardState.NOTICE_SENT and active_booking(freed) is None
    later = open_day(day + dt.timedelta(days=3))
    again = do_book(freed, center(), factories.card_issuance(), starts(later)[0], now=at(day, 18))
    assert card(again).state == CardState.BOOKED
    with pytest.raises(CounterError) as twice:
        counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 17, 30))
    assert twice.value.code == "already_no_show"
    with pytest.raises(CounterError) as rebooked:
        counter.do_hand_over(booking, actor=CLERK, now=at(day, 17, 40))
    assert rebooked.value.code == "rebooked" and fresh(booking).outcome == "no_show"


def test_a_no_show_leaves_a_moved_card_at_the_counter_until_it_is_brought_back(day: dt.date) -> None:
    booking = book(day, 0)
    moved_to_counter(day)
    counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 17))
    stranded = card(booking)
    assert stranded.state == CardState.MOVED and stranded.at_place == center()
    waiting, _total = progress.waiting_cards(now=at(day, 17, 1))
    # said to be a no-show's, not "moved but no booking" as a cancelled booking's card is (a new user's walk)
    assert any(item.card.pk == stranded.pk and item.reason == "no_show" for item in waiting)
    assert do_return_to_back_office(stranded, actor=CLERK) == CardState.NOTICE_SENT


def test_a_no_show_who_booked_again_gets_no_late_hand_over_button(on_the_day: dt.date) -> None:
    """The service refuses it ("rebooked": hand it over with the new booking); the row says so instead of
    offering a button that only fails."""
    day = on_the_day
    booking = book(day, 0)
    moved_to_counter(day)
    counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 9, 30))
    later = open_day(day + dt.timedelta(days=3))
    do_book(
        factories.card_of(booking), center(), factories.card_issuance(), starts(later)[0], now=at(day, 9, 31)
    )
    shown = page(staff("counter"), place=center().pk, day=day, show="no_show")
    assert "遅れて来庁・交付した" not in shown and "その予約で交付してください" in shown


def test_a_late_arrival_after_a_no_show_is_handed_over(day: dt.date) -> None:
    booking = book(day, 0)
    moved_to_counter(day)
    counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 16))
    counter.do_hand_over(booking, actor=CLERK, now=at(day, 16, 40))  # the database allows no-show → visited
    assert fresh(booking).outcome == "visited" and card(booking).state == CardState.HANDED_OVER


def test_the_databases_refusal_reads_as_a_clear_message(
    day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking = book(day, 0)
    counter.do_hand_over(booking, actor=CLERK, now=at(day, 9))
    monkeypatch.setattr(counter, "_refuse_if_ended", lambda row: None)  # as if the check had raced
    with pytest.raises(CounterError) as refused:
        counter.do_mark_no_show(booking, actor=CLERK, now=at(day, 17))
    assert refused.value.code == "outcome_final" and "変更できません" in refused.value.message
    assert fresh(booking).outcome == "visited" and card(booking).state == CardState.HANDED_OVER


# --- the screen --------------------------------------------------------------------------------------------


def staff(role: str) -> Client:
    make_staff(f"{role}1", role)
    return sign_in(f"{role}1")


@pytest.fixture
def on_the_day(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr(counter_views, "_now", lambda: at(day, 9, 30))
    return day


def page(client: Client, **query: Any) -> str:
    response = client.get("/staff/counter/", query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_counter_screen_checks_in_by_scan_and_records_the_visit(on_the_day: dt.date) -> None:
    day = on_the_day
    first = book(day, 0, kana="ヤマダ タロウ")
    second = book(day, 1, kana="スズキ ハナコ")
    book(day, 0, code="kita", kana="キタ ジロウ")
    clerk = staff("counter")
    assert "窓口と日付" not in page(clerk) and "ヤマダ" not in page(clerk)  # no counter chosen yet
    today = page(clerk, place=center().pk)
    assert "ヤマダ タロウ" in today and "スズキ ハナコ" in today and "キタ" not in today
    assert 'id="checkin-q"' in today and "autofocus" in today
    assert "ヤマダ タロウ" in page(clerk)  # the last counter and today by default

    number = factories.card_of(first).reservation_number
    scanned = clerk.post("/staff/counter/check-in/", {"place": center().pk, "day": day, "q": number})
    assert scanned.status_code == 302 and f"booking={first.pk}" in scanned["Location"]
    shown = clerk.get(scanned["Location"]).content.decode()
    assert "ヤマダ タロウ さんを受付しました" in shown and "交付した" in shown and "来庁なし" in shown
    assert fresh(first).checked_in_at == at(day, 9, 30)
    repeat = clerk.post(
        "/staff/counter/check-in/", {"place": center().pk, "day": day, "q": number}, follow=True
    )
    assert "受付済みです" in repeat.content.decode()
    typed = factories.card_of(second).reservation_number
    clerk.post(
        "/staff/counter/check-in/", {"place": center().pk, "day": day, "q": f"{typed[:4]}-{typed[4:]}"}
    )
    assert fresh(second).checked_in_at is not None
    unknown = clerk.post(
        "/staff/counter/check-in/", {"place": center().pk, "day": day, "q": "12"}, follow=True
    )
    assert "当たる予約番号はありません" in unknown.content.decode()

    handed = clerk.post(f"/staff/counter/{first.pk}/hand-over/", follow=True).content.decode()
    assert "ヤマダ タロウ さんに交付しました" in handed and card(first).state == CardState.HANDED_OVER
    assert "ヤマダ タロウ" in page(clerk, place=center().pk, day=day, show="done")
    assert "ヤマダ タロウ" not in page(clerk, place=center().pk, day=day, show="checked_in")
    assert "スズキ ハナコ" in page(clerk, place=center().pk, day=day, show="checked_in")
    again = clerk.post(f"/staff/counter/{first.pk}/hand-over/", follow=True).content.decode()
    assert "交付済みです" in again

    card_page = clerk.get(f"/staff/cards/{card(first).pk}/").content.decode()
    assert "本人（交付済み）" in card_page  # not "事務室": the resident has it

    clerk.post(f"/staff/counter/{second.pk}/no-show/")
    assert fresh(second).outcome == "no_show" and card(second).state == CardState.NOTICE_SENT
    no_shows = page(clerk, place=center().pk, day=day, show="no_show")
    assert "スズキ ハナコ" in no_shows and "スズキ ハナコ" not in page(
        clerk, place=center().pk, day=day, show="waiting"
    )
    # its card went back to "notice sent" in the back office: no late hand-over to press (it only failed)
    assert "遅れて来庁・交付した" not in no_shows and "交付するには予約を取り直してください" in no_shows


def test_a_row_button_checks_in_a_phone_only_visit(on_the_day: dt.date) -> None:
    day = on_the_day
    visit = do_book_visit(
        center(), Service.objects.get(code="ecert_renewal"), starts(day, service="ecert_renewal")[0],
        caller_name_kana="デンワ ハナコ", contact_phone="075-000-0000", actor="op1",
        now=at(day, 10, days_before=10),
    )  # fmt: skip
    clerk = staff("counter")
    assert "デンワ ハナコ" in page(clerk, place=center().pk, day=day)
    clerk.post(f"/staff/counter/{visit.pk}/check-in/")
    assert fresh(visit).checked_in_at == at(day, 9, 30)
    # no card is handed over at a phone-only visit: "served", not "handed over"
    assert "対応した" in page(clerk, place=center().pk, day=day)
    done = clerk.post(f"/staff/counter/{visit.pk}/hand-over/", follow=True).content.decode()
    assert "デンワ ハナコ さんの対応を記録しました。" in done and "交付しました" not in done


def test_another_day_shows_a_notice_and_refuses_check_in(on_the_day: dt.date) -> None:
    tomorrow = open_day(on_the_day + dt.timedelta(days=1))
    booking = book(tomorrow, 0)
    clerk = staff("counter")
    shown = page(clerk, place=center().pk, day=tomorrow)
    assert "今日ではない日" in shown
    number = factories.card_of(booking).reservation_number
    refused = clerk.post(
        "/staff/counter/check-in/", {"place": center().pk, "day": tomorrow, "q": number}, follow=True
    )
    assert "受付は当日だけ" in refused.content.decode() and fresh(booking).checked_in_at is None


def test_viewers_and_operators_see_but_cannot_act(on_the_day: dt.date) -> None:
    booking = book(on_the_day, 0, kana="ヤマダ タロウ")
    number = factories.card_of(booking).reservation_number
    for role in ("viewer", "operator"):
        client = staff(role)
        shown = page(client, place=center().pk)
        assert "ヤマダ タロウ" in shown and 'id="checkin-q"' not in shown and "交付した" not in shown
        query = {"place": center().pk, "day": on_the_day, "q": number}
        assert client.post("/staff/counter/check-in/", query).status_code == 403
        for action in ("check-in", "hand-over", "no-show"):
            assert client.post(f"/staff/counter/{booking.pk}/{action}/").status_code == 403
    assert fresh(booking).checked_in_at is None and fresh(booking).outcome == ""
    assert Client(HTTP_HOST=KYOTO_HOST).get("/staff/counter/").status_code == 302
    assert staff("counter").get(f"/staff/counter/{booking.pk}/hand-over/").status_code == 405


def test_bad_input_is_answered_not_a_500(on_the_day: dt.date) -> None:
    clerk = staff("counter")
    assert clerk.get("/staff/counter/", {"place": "999999", "day": "2026-13-01"}).status_code == 400
    assert clerk.get("/staff/counter/", {"place": str(center().pk), "booking": "9" * 40}).status_code == 200
    bad = clerk.post("/staff/counter/check-in/", {"place": "x", "q": "1"}, follow=True)
    assert "窓口と日付を選んでください" in bad.content.decode()
    assert clerk.post("/staff/counter/999999999/hand-over/").status_code == 404


@pytest.mark.parametrize("chosen", ["²", "٣", "⓵", "-1", " 1", "9223372036854775808", "0"])
def test_a_chosen_booking_that_is_no_id_shows_the_day_without_it(on_the_day: dt.date, chosen: str) -> None:
    # "²" and "⓵" pass str.isdigit() and made int() raise: a 500 before ids had to be ASCII digits.
    book(on_the_day, 0, kana="ヤマダ タロウ")
    shown = page(staff("counter"), place=center().pk, day=on_the_day.isoformat(), booking=chosen)
    assert "ヤマダ タロウ" in shown and "さんを受付しました" not in shown


def test_another_tenant_cannot_see_or_act_on_kyotos_bookings(on_the_day: dt.date) -> None:
    booking = book(on_the_day, 0, kana="ヤマダ タロウ")
    place_pk = center().pk
    kyoto_clerk = staff("counter")
    with schema_context("mihon"):
        make_staff("mihon1", "administrator")
    mihon = sign_in("mihon1", host=MIHON_HOST)
    response = mihon.get("/staff/counter/", {"place": str(place_pk), "day": on_the_day.isoformat()})
    assert response.status_code == 400 and "ヤマダ" not in response.content.decode()
    for action in ("check-in", "hand-over", "no-show"):
        assert mihon.post(f"/staff/counter/{booking.pk}/{action}/").status_code == 404
    number = factories.card_of(booking).reservation_number
    mihon.post("/staff/counter/check-in/", {"place": place_pk, "day": on_the_day, "q": number})
    kyoto_clerk.defaults["HTTP_HOST"] = MIHON_HOST  # a Kyoto session is nothing on Mihon's host
    assert kyoto_clerk.post(f"/staff/counter/{booking.pk}/hand-over/").status_code == 302
    with schema_context("kyoto"):
        row = fresh(booking)
        assert row.checked_in_at is None and row.outcome == "" and card(booking).state == CardState.BOOKED


# --- the citizen's check-in code ---------------------------------------------------------------------------


def test_the_citizen_sees_a_check_in_code_holding_only_the_number(kyoto: None) -> None:
    issued = factories.issue_card()
    slot = factories.next_free_slot()
    do_book(issued.card, factories.place(), factories.card_issuance(), slot.starts_at)
    browser = Client(HTTP_HOST=KYOTO_HOST)
    browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    number = issued.card.reservation_number
    expected = qr.inline_svg(number, label="窓口でこのコードを見せてください", element_id="checkin-qr")
    for path in ("/mypage/", "/done/"):
        html = browser.get(path).content.decode()
        check(html)
        assert expected in html  # the same code as one drawn from the bare number: nothing else is in it
        assert "窓口でこのコードを見せてください" in html and f"<strong>{number}</strong>" in html
        assert issued.password not in html and 'role="img"' in html and "<img" not in html


def test_no_code_without_a_booking(kyoto: None) -> None:
    issued = factories.issue_card()
    browser = Client(HTTP_HOST=KYOTO_HOST)
    browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    assert "checkin-qr" not in browser.get("/mypage/").content.decode()
