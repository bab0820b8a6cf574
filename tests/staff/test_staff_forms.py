"""Forms of the staff console: the one-time code as authenticator apps show it and staff type it, the
bookings search as staff type or scan it, and the plausible days of the filters."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.staff.forms import BookingFilterForm, OtpForm
from booking.staff.lists import normalise_query


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("123456", "123456"),
        (" 123456 ", "123456"),
        ("123 456", "123456"),  # as Google Authenticator and others show it (refused before)
        ("１２３４５６", "123456"),  # an IME in full-width mode (refused before)
        ("123-456", "123456"),
    ],
)
def test_the_one_time_code_is_six_digits_however_typed(typed: str, code: str) -> None:
    form = OtpForm({"otp": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["otp"] == code


@pytest.mark.parametrize("typed", ["12345", "1234567", "12345a", "１２３４５", "123/456"])
def test_anything_else_is_not_a_one_time_code(typed: str) -> None:
    form = OtpForm({"otp": typed})
    assert not form.is_valid()
    assert form.errors["otp"] == ["6桁の数字を入力してください。"]


def test_the_one_time_code_is_required() -> None:
    form = OtpForm({"otp": " "})
    assert not form.is_valid() and list(form.errors) == ["otp"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("123456789012", ("reservation_number", "123456789012")),
        ("1234-5678-9012", ("reservation_number", "123456789012")),
        ("１２３４ー５６７８ー９０１２", ("reservation_number", "123456789012")),  # refused before: ー, －
        ("1234–5678–9012", ("reservation_number", "123456789012")),  # en dashes (refused before)
        ("1234 5678 9012 3456 7890 123", ("application_id", "12345678901234567890123")),
        ("すずき　はな", ("kana", "スズキ ハナ")),
        ("ｽｽﾞｷ", ("kana", "スズキ")),
        ("1234-5678-901", ("name", "1234-5678-901")),  # not a number of either length: searched as text
        ("075-123-4567", ("phone", "0751234567")),
        ("０９０－１２３４－５６７８", ("phone", "09012345678")),
        ("髙橋　一郎", ("name", "高橋一郎")),
        ("山﨑 さくら", ("name", "山崎さくら")),
        ("ＡＢＣ 齋藤", ("name", "abc斎藤")),
    ],
)
def test_the_bookings_search_reads_numbers_and_kana_as_staff_type_them(
    typed: str, expected: tuple[str, str]
) -> None:
    assert normalise_query(typed) == expected


@pytest.mark.parametrize(
    ("day", "valid"),
    [(dt.date(2000, 1, 1), True), (dt.date(2099, 12, 31), True), (dt.date(1999, 12, 31), False)],
)
def test_the_bookings_filter_takes_days_from_2000_to_2099(day: dt.date, valid: bool) -> None:
    form = BookingFilterForm({"date_from": day.isoformat()})
    assert form.is_valid() is valid
