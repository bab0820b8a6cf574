"""The staff bookings list (AD-05, AD-08) and its CSV (AD-06): filters, search, order, encodings,
formula-safe cells, the 〓 count, the booking page with its card and history."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client

from booking.engine.services import do_book, do_cancel, do_change
from booking.models import Booking, Card, OperationLogEntry
from tests import factories
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(kyoto: None) -> Client:
    make_staff("admin1", "administrator")
    return sign_in("admin1")


def book(kana: str, slot_index: int = 0, place_code: str = "center-3f", name: str = "京都 太郎") -> Booking:
    card = factories.issue_card(kana).card
    Card.objects.filter(pk=card.pk).update(name=name)
    slot = factories.next_free_slot_list(slot_index + 1, place_code=place_code)[slot_index]
    return do_book(
        Card.objects.get(pk=card.pk), factories.place(place_code), factories.card_issuance(), slot.starts_at
    )


def listing(client: Client, **params: Any) -> str:
    response = client.get("/staff/bookings/", params)
    assert response.status_code == 200
    return response.content.decode()


def wide(**params: Any) -> dict[str, Any]:
    return {"date_from": "2000-01-01", "date_to": "2099-12-31", **params}


def test_search_by_kana_number_and_application_id(admin: Client) -> None:
    yamada = book("ヤマダ タロウ")
    suzuki = book("スズキ ハナコ", 1)
    assert "ヤマダ タロウ" in listing(admin, **wide(q="ヤマダ")) and "スズキ" not in listing(
        admin, **wide(q="ヤマダ")
    )
    assert "スズキ ハナコ" in listing(admin, **wide(q="すずき"))  # hiragana finds katakana
    number = factories.card_of(suzuki).reservation_number
    assert "スズキ ハナコ" in listing(admin, **wide(q=f"{number[:4]}-{number[4:8]}-{number[8:]}"))
    assert "ヤマダ タロウ" in listing(admin, **wide(q=factories.card_of(yamada).application_id))
    assert OperationLogEntry.objects.filter(action="bookings.list", target__contains="q=").exists()


def test_filter_by_place_status_and_order(admin: Client) -> None:
    book("アオキ イチ", 0)
    late = book("イノウエ ニ", 3)
    elsewhere = book("ウエダ サン", 0, place_code="kita")
    do_cancel(factories.card_of(late))
    page = listing(admin, **wide(location=factories.place("center-3f").pk, status="confirmed"))
    assert "アオキ イチ" in page and "イノウエ ニ" not in page and "ウエダ サン" not in page
    ordered = listing(admin, **wide(location=factories.place("center-3f").pk, ordering="-start"))
    assert ordered.index("イノウエ ニ") < ordered.index("アオキ イチ")
    assert elsewhere.pk


def test_bad_filters_are_a_400_with_a_message(admin: Client) -> None:
    response = admin.get("/staff/bookings/", {"date_from": "2026-12-10", "date_to": "2026-12-01"})
    assert response.status_code == 400 and "より後の日付" in response.content.decode()
    assert admin.get("/staff/bookings/", {"date_from": "not-a-date"}).status_code == 400


def test_booking_page_shows_card_and_history(admin: Client) -> None:
    booking = book("ヤマダ タロウ")
    target = factories.next_free_slot_list(3)[2]
    do_change(
        factories.card_of(booking), factories.place(), target.starts_at, actor="operator7", channel="phone"
    )
    page = admin.get(f"/staff/bookings/{booking.pk}/").content.decode()
    assert factories.card_of(booking).application_id in page and "ヤマダ タロウ" in page
    assert "予約" in page and "変更" in page and "operator7" in page and "本人" in page
    assert OperationLogEntry.objects.filter(
        action="booking.view", target=f"/staff/bookings/{booking.pk}/"
    ).exists()


def read_csv(response: Any, encoding: str) -> list[list[str]]:
    data = b"".join(response.streaming_content)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    return list(csv.reader(io.StringIO(data.decode(encoding))))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_csv_in_both_encodings_with_formula_cells_neutralised(admin: Client, encoding: str) -> None:
    book("ヤマダ タロウ", name='=HYPERLINK("http://evil")')
    book("ヨシダ ハナ", 1, name="𠮷田 花子")
    response = admin.get("/staff/bookings/export.csv", {**wide(), "encoding": encoding})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    rows = read_csv(response, encoding)
    assert rows[0][0] == "予約ID" and len(rows) == 3
    names = {row[10] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil")' in names
    assert ("〓田 花子" if encoding == "cp932" else "𠮷田 花子") in names


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_csv_is_written_for_excel_digits_as_text_and_plain_times(admin: Client, encoding: str) -> None:
    booking = book("ヤマダ タロウ")
    card = factories.card_of(booking)
    Card.objects.filter(pk=card.pk).update(reservation_number="012345678901")
    Booking.objects.filter(pk=booking.pk).update(contact_phone="0751234567")
    rows = read_csv(admin.get("/staff/bookings/export.csv", {**wide(), "encoding": encoding}), encoding)
    row = dict(zip(rows[0], rows[1], strict=True))
    # ="…" is how Excel keeps leading zeros and all 23 digits (integrations/csv_export.py says why).
    assert row["予約番号"] == '="012345678901"'
    assert row["申請書ID"] == f'="{card.application_id}"' and len(card.application_id) == 23
    assert row["電話番号"] == '="0751234567"'
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["予約日時"]), row["予約日時"]
    assert row["変更日時"] == row["取消日時"] == ""


def test_the_list_says_how_many_characters_shift_jis_would_replace(admin: Client) -> None:
    book("ヨシダ ハナ", name="𠮷田 花子")
    page = listing(admin, **wide(encoding="cp932"))
    assert "1文字" in page and "〓" in page and "𠮷" in page


def test_unknown_csv_encoding_is_a_400(admin: Client) -> None:
    assert admin.get("/staff/bookings/export.csv", {**wide(), "encoding": "latin-1"}).status_code == 400


def test_export_is_logged(admin: Client) -> None:
    book("ヤマダ タロウ")
    response: Any = admin.get("/staff/bookings/export.csv", wide())
    b"".join(response.streaming_content)
    assert OperationLogEntry.objects.filter(action="bookings.export", username="admin1").exists()


def test_the_search_box_looks_across_all_dates(admin: Client) -> None:
    """AD-08: a number typed on the opening screen finds the booking whatever its date."""
    booking = book("ヤマダ タロウ", 3)
    page = listing(admin, q=factories.card_of(booking).reservation_number)  # no dates: the search form
    assert "ヤマダ タロウ" in page
    opening = listing(admin)
    assert 'role="search"' in opening and "全期間から探す" in opening


def test_phone_only_visits_are_found_by_name(admin: Client) -> None:
    from booking.engine.services import do_book_visit
    from booking.models import Service

    place = factories.place("kita")
    service = Service.objects.get(code="ecert_renewal")
    slot = next(
        s
        for s in factories.free_slots(
            place,
            service,
            factories.timezone.localdate(),
            factories.timezone.localdate() + factories.dt.timedelta(days=30),
        )
    )
    do_book_visit(
        place,
        service,
        slot.starts_at,
        caller_name_kana="ミナミ カズコ",
        contact_phone="0752223111",
        actor="op1",
    )
    assert "ミナミ カズコ" in listing(admin, q="みなみ")


def test_a_name_search_with_many_cards_still_works(admin: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from booking.staff import lists

    monkeypatch.setattr(lists, "KANA_CARD_LIMIT", 1)  # take the path for common names
    book("ヤマダ タロウ")
    book("ヤマダ ハナコ", 1)
    page = listing(admin, q="ヤマダ")
    assert "ヤマダ タロウ" in page and "ヤマダ ハナコ" in page
