"""Transfer lists (BK-13): the cut, exceptions after it (added on the new counter, removed on the old one),
confirming the move (once, only after the cut, then only late additions), bringing cards back, the CSV and the
PDF, the screens' permissions, tenant isolation, and two clerks confirming at once on real connections.

Bookings are made through booking.services with explicit times around the cut, as residents and operators
make them: the cut is set 3 days before at 12:00, before the residents' deadline (17:00 two days before), so
residents can still book, change and cancel after the cut.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from booking.audit import oplog
from booking.engine.queries import booking_rules, closed_days_for
from booking.engine.services import do_book, do_cancel, do_cancel_booking, do_change
from booking.lib.dates import TOKYO
from booking.lifecycle import transfers
from booking.lifecycle import views_transfers as transfer_views
from booking.lifecycle.transfer_services import TransferError, do_confirm_transfer, do_return_to_back_office
from booking.models import (
    Booking,
    BookingSettings,
    Card,
    CardEvent,
    OperationLogEntry,
    Place,
    TransferConfirmation,
)
from booking.rules import schedule
from booking.rules.card_states import CardState
from tests import factories
from tests.conftest import MIHON_HOST
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
CLERK = oplog.Actor(None, "clerk1", "127.0.0.1")
CUT_DAYS, CUT_TIME = 3, dt.time(12, 0)


# --- the set-up: a day both counters open, bookings made around its cut ----------------------------------


def starts(day: dt.date, code: str = "center-3f") -> list[dt.datetime]:
    the_place = factories.place(code)
    patterns = list(the_place.opening_patterns.filter(service__code="card_issuance"))
    closed = closed_days_for(the_place, day, day)
    return [slot.starts_at for slot in schedule.day_slots(the_place, patterns, day, closed)]


def open_day(after: dt.date) -> dt.date:
    day = after
    while not (starts(day) and starts(day, "kita")):
        day += dt.timedelta(days=1)
    return day


def at(day: dt.date, days_before: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=days_before), dt.time(hour, minute), tzinfo=TOKYO)


def cut_of(day: dt.date) -> dt.datetime:
    return at(day, CUT_DAYS, CUT_TIME.hour, CUT_TIME.minute)


def early(day: dt.date) -> dt.datetime:
    return at(day, 10, 10)


def late(day: dt.date) -> dt.datetime:
    """After the cut, before the residents' deadline."""
    return cut_of(day) + dt.timedelta(hours=1)


def past_deadline(day: dt.date) -> dt.datetime:
    """Only operators (phone) may still cancel or move the day's bookings."""
    return at(day, 1, 10)


def book(day: dt.date, index: int = 0, code: str = "center-3f", now: dt.datetime | None = None) -> Booking:
    card = factories.issue_card().card
    start = starts(day, code)[index]
    return do_book(card, factories.place(code), factories.card_issuance(), start, now=now or early(day))


def number(booking: Booking) -> str:
    return factories.card_of(booking).reservation_number


def numbers(entries: list[transfers.Entry]) -> list[str]:
    return [entry.card.reservation_number for entry in entries]


def card(booking: Booking) -> Card:
    return Card.objects.select_related("at_place").get(pk=factories.card_of(booking).pk)


def set_cut() -> None:
    rules = booking_rules()
    rules.transfer_cutoff_days_before = CUT_DAYS
    rules.transfer_cutoff_time = CUT_TIME
    rules.save()


@pytest.fixture
def day(kyoto: None) -> dt.date:
    set_cut()
    return open_day(timezone.localdate() + dt.timedelta(days=21))


def center() -> Place:
    return factories.place("center-3f")


# --- the cut -----------------------------------------------------------------------------------------------


def test_the_cut_is_a_fixed_time_before_the_day_in_japan_time(kyoto: None) -> None:
    rules = BookingSettings()  # the defaults: noon the day before
    cut = transfers.cutoff_at(dt.date(2026, 12, 3), rules)
    assert cut == dt.datetime(2026, 12, 2, 12, 0, tzinfo=TOKYO)
    assert cut.utcoffset() == dt.timedelta(hours=9)
    rules.transfer_cutoff_days_before, rules.transfer_cutoff_time = 3, dt.time(17, 30)
    assert transfers.cutoff_at(dt.date(2026, 12, 1), rules) == dt.datetime(2026, 11, 28, 17, 30, tzinfo=TOKYO)


def test_before_the_cut_the_list_is_a_live_preview(day: dt.date) -> None:
    kept = book(day, 0)
    gone = book(day, 1)
    do_cancel(factories.card_of(gone), now=early(day) + dt.timedelta(hours=1))
    book(day, 0, code="kita")
    listing = transfers.transfer_list(center(), day, cut_of(day) - dt.timedelta(microseconds=1))
    assert not listing.is_cut
    assert numbers(listing.regular) == [number(kept)]
    assert listing.added == [] and listing.removed == []
    assert numbers(listing.to_move) == [number(kept)]
    assert listing.regular[0].where_label == "事務室" and listing.regular[0].card.state == CardState.BOOKED


def test_just_before_the_cut_is_on_the_list_and_just_after_is_an_addition(day: dt.date) -> None:
    cut = cut_of(day)
    before = book(day, 0, now=cut - dt.timedelta(seconds=1))
    exactly = book(day, 1, now=cut)
    after = book(day, 2, now=cut + dt.timedelta(seconds=1))
    at_cut = transfers.transfer_list(center(), day, cut)
    assert at_cut.is_cut
    assert numbers(at_cut.regular) == [number(before), number(exactly)] and at_cut.added == []
    later = transfers.transfer_list(center(), day, cut + dt.timedelta(minutes=1))
    assert numbers(later.regular) == [number(before), number(exactly)]
    assert numbers(later.added) == [number(after)]
    added = later.added[0]
    assert added.other is None and added.changed_at == cut + dt.timedelta(seconds=1)
    assert added.change_label == "新規予約" and added.kind_label == "締め後の追加"
    assert numbers(later.to_move) == [number(before), number(exactly), number(after)]


def test_a_move_after_the_cut_is_removed_from_the_old_counter_and_added_to_the_new(day: dt.date) -> None:
    booking = book(day, 0, code="kita")
    kita_start = booking.slot.starts_at
    do_change(factories.card_of(booking), center(), starts(day)[3], now=late(day))
    now = late(day) + dt.timedelta(minutes=1)
    new = transfers.transfer_list(center(), day, now)
    old = transfers.transfer_list(factories.place("kita"), day, now)
    assert new.regular == [] and numbers(new.added) == [number(booking)]
    added = new.added[0]
    assert added.other is not None and added.other.place.code == "kita" and added.changed_at == late(day)
    assert added.starts_at == starts(day)[3] and "北区役所" in added.change_label
    assert old.regular == [] and numbers(old.removed) == [number(booking)]
    removed = old.removed[0]
    assert removed.other is not None and removed.other.place.code == "center-3f"
    assert removed.starts_at == kita_start and "へ変更" in removed.change_label
    assert old.to_return == [] and numbers(new.to_move) == [number(booking)]


def test_a_cancellation_after_the_cut_is_removed(day: dt.date) -> None:
    kept = book(day, 0)
    cancelled = book(day, 1)
    do_cancel(factories.card_of(cancelled), now=late(day))
    listing = transfers.transfer_list(center(), day, late(day) + dt.timedelta(minutes=1))
    assert numbers(listing.regular) == [number(kept)]
    assert numbers(listing.removed) == [number(cancelled)]
    removed = listing.removed[0]
    assert removed.other is None and removed.change_label == "予約取消" and removed.changed_at == late(day)
    assert removed.card.state == CardState.NOTICE_SENT
    assert listing.to_return == [] and transfers.action_label(listing, removed) == "移送しない"


def test_a_card_cancelled_and_booked_here_again_after_the_cut_is_simply_added(day: dt.date) -> None:
    first = book(day, 0)
    the_card = factories.card_of(first)
    do_cancel(the_card, now=late(day))
    the_card.refresh_from_db()
    do_book(
        the_card, center(), factories.card_issuance(), starts(day)[5], now=late(day) + dt.timedelta(minutes=5)
    )
    listing = transfers.transfer_list(center(), day, late(day) + dt.timedelta(minutes=10))
    assert listing.regular == [] and listing.removed == []
    assert numbers(listing.added) == [the_card.reservation_number]


def test_the_list_reads_a_busy_day_in_a_fixed_number_of_queries(
    day: dt.date, django_assert_max_num_queries: Any
) -> None:
    for index in range(12):
        book(day, index)
    moved = book(day, 20)
    do_change(factories.card_of(moved), factories.place("kita"), starts(day, "kita")[1], now=late(day))
    book(day, 21, now=late(day))
    place = center()
    with django_assert_max_num_queries(2):  # the settings, then the events with their bookings and cards
        listing = transfers.transfer_list(place, day, late(day) + dt.timedelta(minutes=1))
        rows = list(transfers.csv_rows(listing))
    assert len(listing.regular) == 12 and len(listing.added) == 1 and len(listing.removed) == 1
    assert len(rows) == 14


# --- confirming, bringing back -----------------------------------------------------------------------------


def test_confirming_moves_the_cards_once_and_later_only_what_was_added(day: dt.date) -> None:
    first, second = book(day, 0), book(day, 1)
    elsewhere = book(day, 0, code="kita")
    with pytest.raises(TransferError) as refused:
        do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) - dt.timedelta(seconds=1))
    assert refused.value.code == "not_cut" and "締める" in refused.value.message
    assert card(first).state == CardState.BOOKED and not TransferConfirmation.objects.exists()

    result = do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) + dt.timedelta(minutes=5))
    assert result.moved == 2 and result.on_list == 2
    for booking in (first, second):
        moved = card(booking)
        assert moved.state == CardState.MOVED and moved.at_place == center()
        event = CardEvent.objects.get(card=moved, to_state=CardState.MOVED)
        assert event.actor == "clerk1" and event.place == center() and event.from_state == CardState.BOOKED
    assert card(elsewhere).state == CardState.BOOKED and card(elsewhere).at_place is None

    added = book(day, 2, now=late(day))
    again = do_confirm_transfer(center(), day, actor=CLERK, now=late(day) + dt.timedelta(minutes=1))
    assert again.moved == 1 and again.on_list == 3 and card(added).state == CardState.MOVED
    with pytest.raises(TransferError) as nothing:  # all moved: nothing to confirm, nothing recorded
        do_confirm_transfer(center(), day, actor=CLERK, now=late(day) + dt.timedelta(minutes=2))
    assert nothing.value.code == "nothing"
    assert list(TransferConfirmation.objects.values_list("cards", flat=True)) == [1, 2]
    assert CardEvent.objects.filter(to_state=CardState.MOVED).count() == 3
    assert OperationLogEntry.objects.filter(action="transfer.confirm", username="clerk1").count() == 2


def test_a_list_changed_since_it_was_shown_is_not_confirmed(day: dt.date) -> None:
    book(day, 0)
    book(day, 1, now=late(day))
    with pytest.raises(TransferError) as refused:
        do_confirm_transfer(center(), day, actor=CLERK, now=late(day) + dt.timedelta(minutes=1), expected=1)
    assert refused.value.code == "changed" and "2枚" in refused.value.message
    assert not Card.objects.filter(state=CardState.MOVED).exists()


def test_cards_removed_after_they_were_moved_are_brought_back(day: dt.date) -> None:
    stays, cancelled, moved_away = book(day, 0), book(day, 1), book(day, 2)
    do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) + dt.timedelta(minutes=5))
    # After the residents' deadline only the call center changes the day's bookings.
    do_cancel_booking(cancelled, channel="phone", actor="op1", now=past_deadline(day))
    later_day = open_day(day + dt.timedelta(days=3))
    do_change(
        factories.card_of(moved_away), center(), starts(later_day)[0], channel="phone", actor="op1",
        now=past_deadline(day),
    )  # fmt: skip
    assert card(cancelled).state == CardState.MOVED  # it stays at the counter until someone brings it back
    listing = transfers.transfer_list(center(), day, past_deadline(day) + dt.timedelta(minutes=1))
    assert numbers(listing.regular) == [number(stays)]
    assert numbers(listing.removed) == [number(cancelled), number(moved_away)]
    assert numbers(listing.to_return) == [number(cancelled), number(moved_away)]
    assert transfers.action_label(listing, listing.removed[0]) == "事務室へ戻す"

    assert do_return_to_back_office(factories.card_of(cancelled), actor=CLERK) == CardState.NOTICE_SENT
    assert do_return_to_back_office(factories.card_of(moved_away), actor=CLERK) == CardState.BOOKED
    assert card(cancelled).at_place is None and card(moved_away).at_place is None
    with pytest.raises(TransferError) as refused:
        do_return_to_back_office(factories.card_of(cancelled), actor=CLERK)
    assert refused.value.code == "not_moved"
    assert card(stays).state == CardState.MOVED
    after = transfers.transfer_list(center(), day, past_deadline(day) + dt.timedelta(minutes=2))
    assert after.to_return == [] and len(after.removed) == 2
    assert OperationLogEntry.objects.filter(action="transfer.return").count() == 2


def test_a_card_added_after_the_cut_moved_then_cancelled_is_brought_back(day: dt.date) -> None:
    """On neither list at the cut nor now, but its card is at the counter (a new user's walk: it was only
    in the "waiting too long" list)."""
    added = book(day, 0, now=late(day))
    do_confirm_transfer(center(), day, actor=CLERK, now=late(day) + dt.timedelta(minutes=1))
    assert card(added).state == CardState.MOVED
    do_cancel_booking(added, channel="phone", actor="op1", now=past_deadline(day))
    listing = transfers.transfer_list(center(), day, past_deadline(day) + dt.timedelta(minutes=1))
    assert numbers(listing.removed) == numbers(listing.to_return) == [number(added)]
    assert listing.removed[0].change_label == "予約取消"
    assert transfers.action_label(listing, listing.removed[0]) == "事務室へ戻す"
    assert numbers(listing.coming) == []
    # never on another counter's list
    assert transfers.transfer_list(factories.place("kita"), day, past_deadline(day)).removed == []


# --- the screens -------------------------------------------------------------------------------------------


def staff(role: str) -> Client:
    make_staff(f"{role}1", role)
    return sign_in(f"{role}1")


def fix_clock(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(transfer_views, "_now", lambda: moment)


def params(day: dt.date, **extra: Any) -> dict[str, Any]:
    return {"place": center().pk, "day": day.isoformat(), **extra}


def test_the_screen_shows_a_preview_then_the_list_and_confirms(
    day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = staff("counter")
    regular = book(day, 0)
    assert clerk.get("/staff/transfers/").status_code == 200
    fix_clock(monkeypatch, cut_of(day) - dt.timedelta(minutes=1))
    preview = clerk.get("/staff/transfers/", params(day)).content.decode()
    assert "まだ締めていません" in preview and number(regular) in preview and "移送済みにする" not in preview
    refused = clerk.post("/staff/transfers/confirm/", params(day, expected=1), follow=True)
    assert "締める" in refused.content.decode() and card(regular).state == CardState.BOOKED

    fix_clock(monkeypatch, late(day) + dt.timedelta(minutes=1))
    added = book(day, 1, now=late(day))
    page = clerk.get("/staff/transfers/", params(day)).content.decode()
    assert "締め済み" in page and "2枚を移送済みにする" in page
    assert page.index(number(regular)) < page.index("締め後の追加（") < page.index(number(added))
    done = clerk.post("/staff/transfers/confirm/", params(day, expected=2), follow=True)
    assert "2枚のカードを" in done.content.decode()
    assert card(regular).state == card(added).state == CardState.MOVED
    assert (
        "事務室で移送を待っているカードはありません"
        in clerk.get("/staff/transfers/", params(day)).content.decode()
    )


def test_the_return_button_brings_a_removed_card_back(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    booking = book(day, 0)
    do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) + dt.timedelta(minutes=1))
    do_cancel(factories.card_of(booking), now=late(day))
    fix_clock(monkeypatch, late(day) + dt.timedelta(minutes=1))
    page = clerk.get("/staff/transfers/", params(day)).content.decode()
    assert "締め後の取消・変更（" in page and "事務室へ戻す" in page
    the_card = factories.card_of(booking)
    response = clerk.post("/staff/transfers/return/", params(day, card=the_card.pk), follow=True)
    assert "事務室に戻しました" in response.content.decode()
    assert card(booking).state == CardState.NOTICE_SENT
    again = clerk.post("/staff/transfers/return/", params(day, card=the_card.pk), follow=True)
    assert "窓口にありません" in again.content.decode()
    assert clerk.post("/staff/transfers/return/", params(day, card="99999999999999999999")).status_code == 404


@pytest.mark.parametrize("card_id", ["²", "٣", "⓵", "-1", "0", "9223372036854775808", ""])
def test_a_card_to_return_that_is_no_id_is_a_404(day: dt.date, card_id: str) -> None:
    # "²" passes str.isdigit() and made int() raise: a 500 before ids had to be ASCII digits.
    booking = book(day, 0)
    assert staff("counter").post("/staff/transfers/return/", params(day, card=card_id)).status_code == 404
    assert card(booking).state == CardState.BOOKED


@pytest.mark.parametrize("expected", ["²", "x", None])
def test_a_confirmation_without_its_count_moves_nothing(
    day: dt.date, monkeypatch: pytest.MonkeyPatch, expected: str | None
) -> None:
    """The count on the button guards against a list changed meanwhile: a form without a number in it (a
    hand-made request) is refused, not confirmed unchecked (a new user's walk moved cards that way)."""
    booking = book(day, 0)
    fix_clock(monkeypatch, cut_of(day) + dt.timedelta(minutes=1))
    data = params(day) if expected is None else params(day, expected=expected)
    done = staff("counter").post("/staff/transfers/confirm/", data, follow=True)
    assert "確定する枚数が読めません" in done.content.decode() and card(booking).state == CardState.BOOKED
    assert not TransferConfirmation.objects.exists()


def test_an_empty_list_is_not_confirmed(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    fix_clock(monkeypatch, cut_of(day) + dt.timedelta(minutes=1))
    done = staff("counter").post("/staff/transfers/confirm/", params(day, expected="0"), follow=True)
    assert "移送するカードはありません（この日のリストは空です）" in done.content.decode()
    assert (
        not TransferConfirmation.objects.exists()
        and not OperationLogEntry.objects.filter(action="transfer.confirm").exists()
    )


def read_csv(response: Any, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode(encoding))))


def excel_text(cell: str) -> str:
    """The text Excel shows for a ="…" cell (the staff CSV keeps numbers' leading zeros that way)."""
    assert cell.startswith('="') and cell.endswith('"'), cell
    return cell[2:-1]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_csv_of_a_list(day: dt.date, monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    clerk = staff("counter")
    regular = book(day, 0)
    cancelled = book(day, 1)
    do_cancel(factories.card_of(cancelled), now=late(day))
    added = book(day, 2, now=late(day))
    fix_clock(monkeypatch, late(day) + dt.timedelta(minutes=1))
    response = clerk.get("/staff/transfers/export.csv", params(day, encoding=encoding))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    rows = read_csv(response, encoding)
    assert rows[0] == transfers.CSV_HEADER
    by_number = {excel_text(row[1]): row for row in rows[1:]}
    assert len(rows) == 4
    assert by_number[number(regular)][0] == "通常" and by_number[number(regular)][5] == "予約済み"
    assert by_number[number(regular)][6] == "事務室" and by_number[number(regular)][9] == "移送する"
    assert by_number[number(regular)][4] == regular.slot.starts_at.astimezone(TOKYO).strftime("%H:%M")
    assert by_number[number(added)][0] == "締め後の追加" and by_number[number(added)][8] == "新規予約"
    assert by_number[number(cancelled)][0] == "締め後の取消・変更"
    assert by_number[number(cancelled)][8] == "予約取消" and by_number[number(cancelled)][9] == "移送しない"
    changed = late(day).astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:")  # Excel: no offset, no microseconds
    assert by_number[number(cancelled)][7].startswith(changed) and len(by_number[number(cancelled)][7]) == 19
    assert excel_text(by_number[number(regular)][2]) == factories.card_of(regular).application_id
    assert OperationLogEntry.objects.filter(action="transfers.export").exists()
    assert clerk.get("/staff/transfers/export.csv", params(day, encoding="latin-1")).status_code == 400


def test_pdf_of_a_list_reads_back(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    regular = book(day, 0)
    moved = book(day, 0, code="kita")
    do_change(factories.card_of(moved), center(), starts(day)[4], now=late(day))
    fix_clock(monkeypatch, late(day) + dt.timedelta(minutes=1))
    response = clerk.get("/staff/transfers/list.pdf", params(day))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "移送リスト" in text and center().name in text
    assert f"{day.year}年{day.month}月{day.day}日" in text
    assert cut_of(day).strftime("%Y-%m-%d %H:%M") in text
    assert number(regular) in text and factories.card_of(regular).application_id in text
    assert "締め後の変更（1件）" in text and number(moved) in text and "締め後の" in text
    assert "移送者" in text and "受領者" in text and "1 / 1" in text


def test_a_long_list_prints_on_numbered_pages() -> None:
    from integrations import transfer_pdf

    rows = [
        transfer_pdf.SheetRow(
            f"{9 + i // 12:02d}:{i % 12 * 5:02d}", f"{i:012d}", f"{i:023d}", "ヤマダ", "予約済み"
        )
        for i in range(120)
    ]
    sheet = transfer_pdf.TransferSheet(
        "京都市", "北区役所", dt.date(2026, 12, 3), "2026-12-02 12:00", "now", True, rows
    )
    pages = PdfReader(io.BytesIO(transfer_pdf.render(sheet))).pages
    assert len(pages) >= 3
    assert f"1 / {len(pages)}" in pages[0].extract_text() and "No." in pages[1].extract_text()
    assert f"{119:012d}" in "".join(page.extract_text() for page in pages)
    assert "受領者" in pages[-1].extract_text() and "締め後の変更はありません" in pages[-1].extract_text()


def test_who_may_do_what(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    booking = book(day, 0)
    fix_clock(monkeypatch, late(day))
    viewer, operator = staff("viewer"), staff("operator")
    for client in (viewer, operator):
        page = client.get("/staff/transfers/", params(day))
        assert page.status_code == 200 and number(booking) in page.content.decode()
        assert "移送済みにする" not in page.content.decode()
        assert client.post("/staff/transfers/confirm/", params(day, expected=1)).status_code == 403
        assert client.post("/staff/transfers/return/", params(day, card=booking.card_id)).status_code == 403
        assert client.get("/staff/transfers/export.csv", params(day)).status_code == 403
        assert client.get("/staff/transfers/list.pdf", params(day)).status_code == 403
    assert card(booking).state == CardState.BOOKED
    assert Client(HTTP_HOST="kyoto.localhost").get("/staff/transfers/", params(day)).status_code == 302
    admin = staff("administrator")
    assert admin.post("/staff/transfers/confirm/", params(day, expected=1)).status_code == 302
    assert card(booking).state == CardState.MOVED


def test_bad_choices_are_a_400(day: dt.date) -> None:
    clerk = staff("counter")
    assert clerk.get("/staff/transfers/", {"place": "999999", "day": day.isoformat()}).status_code == 400
    assert clerk.get("/staff/transfers/", {"place": str(center().pk), "day": "2026-02-30"}).status_code == 400
    assert clerk.get("/staff/transfers/", {"place": str(center().pk), "day": "1800-01-01"}).status_code == 400
    assert clerk.post("/staff/transfers/confirm/", {"place": "x", "day": "y"}).status_code == 400
    assert clerk.get("/staff/transfers/confirm/").status_code == 405


def test_another_tenant_cannot_see_or_move_kyotos_cards(
    day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking = book(day, 0)
    place_pk = center().pk
    kyoto_clerk = staff("counter")
    fix_clock(monkeypatch, late(day))
    with schema_context("mihon"):
        make_staff("mihon1", "administrator")
    mihon = sign_in("mihon1", host=MIHON_HOST)
    query: dict[str, Any] = {"place": place_pk, "day": day.isoformat()}
    page = mihon.get("/staff/transfers/", query)
    assert page.status_code == 400 and number(booking) not in page.content.decode()
    assert mihon.get("/staff/transfers/export.csv", query).status_code == 400
    assert mihon.post("/staff/transfers/confirm/", {**query, "expected": 1}).status_code == 400
    assert mihon.post("/staff/transfers/return/", {**query, "card": booking.card_id}).status_code == 400
    # A Kyoto session is worth nothing on Mihon's host.
    kyoto_clerk.defaults["HTTP_HOST"] = MIHON_HOST
    assert kyoto_clerk.get("/staff/transfers/", query).status_code == 302
    with schema_context("kyoto"):
        assert card(booking).state == CardState.BOOKED


# --- two clerks at once ------------------------------------------------------------------------------------


def _forget_log_after(seq: int) -> None:
    """The committed connection's log entries go with its bookings (as the retention purge removes them)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL madoguchi.oplog_purge = 'on'")
        cursor.execute("DELETE FROM booking_operationlogentry WHERE seq > %s", [seq])


@pytest.mark.concurrency
def test_two_clerks_confirming_at_once_move_each_card_exactly_once(
    committed_kyoto: Callable[[Callable[[], Any]], Any],
) -> None:
    def scenario() -> None:
        log_before = OperationLogEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        try:
            set_cut()
            day = open_day(timezone.localdate() + dt.timedelta(days=21))
            bookings = [book(day, index) for index in range(15)]
            place = center()
            barrier = threading.Barrier(2)
            now = cut_of(day) + dt.timedelta(minutes=1)

            def confirm(name: str) -> int | str:
                try:
                    with schema_context("kyoto"):
                        barrier.wait(timeout=30)
                        actor = oplog.Actor(None, name, "127.0.0.1")
                        # both saw 15 cards on the button; the second finds the list changed (none left)
                        return do_confirm_transfer(place, day, actor=actor, now=now, expected=15).moved
                except TransferError as refused:
                    return refused.code
                finally:
                    connections.close_all()

            with ThreadPoolExecutor(max_workers=2) as pool:
                moved = sorted(pool.map(confirm, ["clerk1", "clerk2"]), key=str)

            assert moved == [15, "changed"]
            card_ids = [factories.card_of(booking).pk for booking in bookings]
            assert set(Card.objects.filter(pk__in=card_ids).values_list("state", flat=True)) == {
                CardState.MOVED
            }
            per_card = CardEvent.objects.filter(card_id__in=card_ids, to_state=CardState.MOVED)
            assert per_card.count() == 15 and per_card.values("card_id").distinct().count() == 15
            assert sorted(TransferConfirmation.objects.values_list("cards", flat=True)) == [15]
        finally:
            _forget_log_after(log_before)

    committed_kyoto(scenario)


def test_a_no_show_is_no_card_coming_and_a_moved_one_goes_back(
    day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the day, after the counter marked no-shows: neither is counted as a card to hand over here; the one
    moved to the counter is to go back, the one still in the back office is not to be moved (a new user's walk
    saw both counted, and the back-office one under "move the card")."""
    from booking.lifecycle import counter

    came, moved_no_show = book(day, 0), book(day, 1)
    do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) + dt.timedelta(minutes=5))
    office_no_show = book(day, 2, now=late(day))  # added after the cut, its card never moved
    after = starts(day)[2] + dt.timedelta(minutes=30)
    counter.do_mark_no_show(moved_no_show, actor=CLERK, now=after)
    counter.do_mark_no_show(office_no_show, actor=CLERK, now=after)

    listing = transfers.transfer_list(center(), day, after + dt.timedelta(minutes=1))
    assert numbers(listing.coming) == [number(came)]
    assert not listing.to_move
    assert numbers(listing.to_return) == [number(moved_no_show)]
    labels = {
        entry.card.reservation_number: transfers.action_label(listing, entry)
        for entry in listing.regular + listing.added
    }
    assert labels[number(moved_no_show)] == "事務室へ戻す"
    assert labels[number(office_no_show)] == "移送しない"
    # the screen offers the moved one's return in its own row (the count said 1 and no button was there)
    fix_clock(monkeypatch, after + dt.timedelta(minutes=1))
    page = staff("counter").get("/staff/transfers/", params(day)).content.decode()
    row = page[page.index(number(moved_no_show)) :].split("</tr>")[0]
    assert 'name="card"' in row and "（来庁なし）" in row


def test_a_no_show_who_booked_this_counter_again_keeps_the_card_here(day: dt.date) -> None:
    """Its card stays at the counter for the new booking: bringing it back would be a round trip the next
    list undoes (the review of the no-show change)."""
    from booking.lifecycle import counter

    no_show = book(day, 0)
    do_confirm_transfer(center(), day, actor=CLERK, now=cut_of(day) + dt.timedelta(minutes=5))
    after = starts(day)[0] + dt.timedelta(minutes=30)
    counter.do_mark_no_show(no_show, actor=CLERK, now=after)
    later = open_day(day + dt.timedelta(days=3))
    do_book(factories.card_of(no_show), center(), factories.card_issuance(), starts(later)[0], now=after)

    listing = transfers.transfer_list(center(), day, after + dt.timedelta(minutes=1))
    assert not listing.to_return
    (entry,) = listing.regular
    assert transfers.action_label(listing, entry) == "窓口に置く（新しい予約あり）"
