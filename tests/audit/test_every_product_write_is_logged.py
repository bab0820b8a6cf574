"""Every write of the products' staff screens leaves an operation-log entry with the staff member's user ID
(issue 13; SO-14): settings, cards, card import, notice letters, transfer lists, the counter, reports.

One row per URL (see `tests/audit/staff_walk.py`); `test_every_staff_write_is_logged` checks that every
staff URL has one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from booking.configuration.forms import CardRulesForm, initial_of
from booking.engine.queries import booking_rules
from booking.engine.services import do_book
from booking.lib.dates import TOKYO
from booking.lifecycle import notices
from booking.lifecycle import views_counter as counter_views
from booking.lifecycle.transfer_services import do_confirm_transfer
from booking.models import Booking, ClosedDay, JobStatus, NoticeRun, OpeningPattern, Place, Service
from booking.rules.card_states import CardState
from integrations import jlis
from tests import factories
from tests.audit import staff_walk
from tests.audit.staff_walk import Row, Staff, read, writes
from tests.configuration.test_staff_settings import (
    center_pattern,
    pattern_form,
    place_form,
    texts_form,
    window_form,
)
from tests.staff_helpers import SETUP

pytestmark = pytest.mark.django_db


def _post(staff: Staff, url: str, data: Mapping[str, object] | None = None) -> None:
    response = staff.client.post(url, data or {})
    assert response.status_code == 302, response.content.decode()[:800]


# --- settings (AD-04) ------------------------------------------------------------------------------------


def save_window(staff: Staff) -> None:
    _post(staff, "/staff/settings/window/", window_form(hold_minutes=booking_rules().hold_minutes % 30 + 5))


def save_fields(staff: Staff) -> None:
    rules = booking_rules()
    phone = "optional" if rules.phone_requirement == "required" else "required"
    _post(staff, "/staff/settings/fields/", {"phone_requirement": phone, "email_requirement": "hidden"})


def save_contact(staff: Staff) -> None:
    hours = (
        "平日 9:00〜17:00" if booking_rules().callcenter_hours != "平日 9:00〜17:00" else "平日 8:30〜17:15"
    )
    data = {"callcenter_phone": "075-123-4567", "callcenter_hours": hours, "callcenter_hours_en": ""}
    _post(staff, "/staff/settings/contact/", data)


def save_bring_texts(staff: Staff) -> None:
    data = {
        f"{s.code}__{f}": getattr(s, f)
        for s in Service.objects.all()
        for f in ("bring_text", "bring_text_en")
    }
    card = "マイナンバーカード"
    data["face_auth_switch__bring_text"] = (
        card if data["face_auth_switch__bring_text"] != card else card + "のみ"
    )
    _post(staff, "/staff/settings/services/", data)


def save_card_rules(staff: Staff) -> None:
    names = [f.name for f in fields(CardRulesForm.input_class)]
    data = initial_of(booking_rules(), names)
    data = {k: (f"{v:%H:%M}" if isinstance(v, dt.time) else v) for k, v in data.items()}
    data["card_waiting_days"] = data["card_waiting_days"] % 300 + 1
    _post(staff, "/staff/settings/cards/", data)


def save_texts(staff: Staff) -> None:
    _post(staff, "/staff/settings/texts/", texts_form(text_top="操作ログの確認（walk）"))


def _new_place(staff: Staff) -> Place:
    _post(staff, "/staff/settings/places/new/", place_form())
    return Place.objects.get(code="ward-test")


def add_place(staff: Staff) -> None:
    _new_place(staff)


def edit_place(staff: Staff) -> None:
    place = factories.place("kita")
    _post(staff, f"/staff/settings/places/{place.pk}/", place_form(place, name_en="Kita (walk)"))


def delete_place(staff: Staff) -> None:
    _post(staff, f"/staff/settings/places/{_new_place(staff).pk}/delete/")


def _new_pattern(staff: Staff) -> OpeningPattern:
    place = _new_place(staff)
    _post(staff, f"/staff/settings/places/{place.pk}/patterns/new/", pattern_form(center_pattern()))
    return OpeningPattern.objects.get(place=place)


def add_pattern(staff: Staff) -> None:
    _new_pattern(staff)


def edit_pattern(staff: Staff) -> None:
    pattern = center_pattern()  # more capacity never strands a booking
    _post(
        staff, f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, capacity=pattern.capacity + 1)
    )


def delete_pattern(staff: Staff) -> None:
    _post(staff, f"/staff/settings/patterns/{_new_pattern(staff).pk}/delete/")


def _closed_day(staff: Staff) -> ClosedDay:
    day = timezone.localdate() + dt.timedelta(days=30)
    place = factories.place()
    _post(
        staff, "/staff/settings/closed-days/", {"date": day.isoformat(), "place": place.pk, "reason": "walk"}
    )
    return ClosedDay.objects.get(date=day, place=place)


def add_closed_day(staff: Staff) -> None:
    _closed_day(staff)


def delete_closed_day(staff: Staff) -> None:
    _post(staff, f"/staff/settings/closed-days/{_closed_day(staff).pk}/delete/")


# --- cards, card import, notice letters (AD-03, AD-08) ---------------------------------------------------


def move_card(staff: Staff) -> None:
    card = factories.issue_card().card
    _post(staff, f"/staff/cards/{card.pk}/move/", {"to_state": CardState.RETURNED, "note": "宛所不明"})


def bulk_move(staff: Staff) -> None:
    card = factories.issue_card(state=CardState.RECEIVED).card
    data = {"to_state": CardState.SET_UP, "numbers": card.application_id, "confirm": ""}
    _post(staff, "/staff/cards/move/", data)


def _booked(staff: Staff) -> Booking:
    slot = factories.next_free_slot()
    return do_book(factories.issue_card().card, factories.place(), factories.card_issuance(), slot.starts_at)


def _moved_to_the_counter(staff: Staff) -> tuple[Booking, dt.date]:
    booking = _booked(staff)
    day = timezone.localtime(booking.slot.starts_at, TOKYO).date()
    end_of_day = dt.datetime.combine(day, dt.time(23, 0), TOKYO)  # after any cut
    do_confirm_transfer(factories.place(), day, actor=SETUP, now=end_of_day)
    return booking, day


def return_card(staff: Staff) -> None:
    booking, _day = _moved_to_the_counter(staff)
    _post(staff, f"/staff/cards/{factories.card_of(booking).pk}/return/")


def import_cards(staff: Staff) -> None:
    row = {
        "application_id": f"{50_000_000_000_000_000_000_777:023d}",
        "name": "京都 花子",
        "name_kana": "キョウト ハナコ",
        "birth_date": "19700101",
        "postal_code": "6048571",
        "address": "京都市中京区",
    }
    data = jlis.fixed_width_file([row], created_on=dt.date(2026, 11, 20))
    _post(staff, "/staff/cards/import/", {"file": SimpleUploadedFile("JLIS.txt", data)})


def start_notices(staff: Staff) -> None:
    factories.issue_card(state=CardState.SET_UP)
    confirm = staff.client.post("/staff/notices/new/", {"selection": "set_up"})
    assert confirm.status_code == 200, confirm.content.decode()[:800]
    expected = str(confirm.context["selection"].total)
    _post(staff, "/staff/notices/new/", {"selection": "set_up", "confirm": "1", "expected": expected})


def delete_notice_files(staff: Staff) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=SETUP).run  # printed: its files may go
    assert NoticeRun.objects.get(pk=run.pk).status == JobStatus.DONE
    _post(staff, f"/staff/notices/{run.pk}/delete/")


# --- transfer lists and the counter (BK-13) --------------------------------------------------------------


def confirm_transfer(staff: Staff) -> None:
    booking = _booked(staff)
    day = timezone.localtime(booking.slot.starts_at, TOKYO).date()
    rules = booking_rules()  # the day's list cut already: a cut more days before the day than it is away
    rules.transfer_cutoff_days_before = (day - timezone.localdate()).days + 1
    rules.save()
    data = {"place": factories.place().pk, "day": day.isoformat(), "expected": "1"}  # the button's count
    _post(staff, "/staff/transfers/confirm/", data)


def transfer_return(staff: Staff) -> None:
    booking, day = _moved_to_the_counter(staff)
    data = {"place": factories.place().pk, "day": day.isoformat(), "card": factories.card_of(booking).pk}
    _post(staff, "/staff/transfers/return/", data)


def _on_the_day(staff: Staff) -> Booking:
    booking = _booked(staff)
    moment = booking.slot.starts_at + dt.timedelta(minutes=1)
    staff.monkeypatch.setattr(counter_views, "_now", lambda: moment)
    return booking


def scan_check_in(staff: Staff) -> None:
    booking = _on_the_day(staff)
    day = timezone.localtime(booking.slot.starts_at, TOKYO).date()
    number = factories.card_of(booking).reservation_number
    _post(
        staff,
        "/staff/counter/check-in/",
        {"place": factories.place().pk, "day": day.isoformat(), "q": number},
    )


def _counter(action: str) -> staff_walk.Write:
    def write(staff: Staff) -> None:
        _post(staff, f"/staff/counter/{_on_the_day(staff).pk}/{action}/")

    return write


ROWS: dict[str, Row] = {
    # settings (AD-04)
    "staff:settings": read("GET: the overview"),
    "staff:settings_window": writes((save_window, "settings.window")),
    "staff:settings_fields": writes((save_fields, "settings.fields")),
    "staff:settings_cards": writes((save_card_rules, "settings.cards")),
    "staff:settings_texts": writes((save_texts, "settings.texts")),
    "staff:settings_contact": writes((save_contact, "settings.contact")),
    "staff:settings_services": writes((save_bring_texts, "settings.bring")),
    "staff:settings_places": read("GET: the list of places"),
    "staff:settings_place_new": writes((add_place, "settings.place.create")),
    "staff:settings_place": writes((edit_place, "settings.place.update")),
    "staff:settings_place_delete": writes((delete_place, "settings.place.delete")),
    "staff:settings_pattern_new": writes((add_pattern, "settings.pattern.create")),
    "staff:settings_pattern": writes((edit_pattern, "settings.pattern.update")),
    "staff:settings_pattern_delete": writes((delete_pattern, "settings.pattern.delete")),
    "staff:settings_closed_days": writes((add_closed_day, "settings.closed_day.create")),
    "staff:settings_closed_day_delete": writes((delete_closed_day, "settings.closed_day.delete")),
    # reports (CC-05): sending them is the beat task's (oplog.WORKER), not a screen's
    "staff:reports": read("GET: the daily report (logged as reports.daily)"),
    "staff:reports_monthly": read("GET: the monthly report (logged as reports.monthly)"),
    "staff:reports_monthly_csv": read("GET: a download (logged as reports.export)"),
    # BK-08: our availability report, read from the control plane; only our operators record outages
    "staff:availability": read("GET: the month's report (logged as availability.view)"),
    "staff:availability_csv": read("GET: a download (logged as availability.export)"),
    # cards (AD-03, AD-08)
    "staff:cards": read("GET: progress counts"),
    "staff:card_list": read("GET: a list (logged as cards.list)"),
    "staff:cards_waiting": read("GET: a list (logged as cards.waiting)"),
    "staff:cards_bulk_move": writes((bulk_move, "card.move")),
    "staff:card_scan": read("GET: finds a card and redirects to it"),
    "staff:card": read("GET: one card (logged as card.view)"),
    "staff:card_move": writes((move_card, "card.move")),
    "staff:card_return": writes((return_card, "transfer.return")),
    "staff:card_import": writes((import_cards, "cards.import_request")),
    "staff:card_import_job": read("GET: the job's progress"),
    # notice letters (AD-03); printing itself is the worker's (oplog.WORKER)
    "staff:notices": read("GET: what can be printed (logged as notices.list)"),
    "staff:notices_start": writes((start_notices, "notices.request")),
    "staff:notice_run": read("GET: the run's progress"),
    "staff:notice_download": read("GET: a download (logged as notices.download)"),
    "staff:notice_delete_files": writes((delete_notice_files, "notices.delete_files")),
    # transfer lists (BK-13)
    "staff:transfers": read("GET: the list (logged as transfers.view)"),
    "staff:transfer_csv": read("GET: a download (logged as transfers.export)"),
    "staff:transfer_pdf": read("GET: a download (logged as transfers.export)"),
    "staff:transfer_confirm": writes((confirm_transfer, "transfer.confirm")),
    "staff:transfer_return": writes((transfer_return, "transfer.return")),
    # the counter
    "staff:counter": read("GET: the day's list (logged as counter.view)"),
    "staff:counter_scan": writes((scan_check_in, "counter.check_in")),
    "staff:counter_check_in": writes((_counter("check-in"), "counter.check_in")),
    "staff:counter_hand_over": writes((_counter("hand-over"), "counter.hand_over")),
    "staff:counter_no_show": writes((_counter("no-show"), "counter.no_show")),
}


@pytest.fixture
def staff(kyoto: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Staff:
    # Uploads and notice files go to a folder of the test's own.
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    return staff_walk.signed_in_administrator(monkeypatch, "walk-products")


@pytest.mark.parametrize(("name", "action"), staff_walk.cases(ROWS))
def test_each_product_write_is_logged_with_the_users_id(staff: Staff, name: str, action: str) -> None:
    staff_walk.assert_logged_by(staff, staff_walk.recipe(ROWS, name, action), action)
