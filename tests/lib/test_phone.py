"""Telephone numbers as residents, operators and old systems write them (booking.lib.phone)."""

from __future__ import annotations

import pytest

from booking.lib.phone import format_phone, is_phone_number, normalise_phone, phone_number


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("075-123-4567", "0751234567"),  # a fixed line: 10 digits
        ("090-1234-5678", "09012345678"),  # a mobile: 11 digits
        ("０７５－１２３－４５６７", "0751234567"),  # full-width digits and hyphen
        ("075ー123ー4567", "0751234567"),  # the hyphen key in kana mode
        ("075‐123‐4567", "0751234567"),  # the hyphen of a copied web page
        ("075 123 4567", "0751234567"),
        ("０９０　１２３４　５６７８", "09012345678"),  # full-width spaces
        ("(075) 123-4567", "0751234567"),  # the area code in brackets
        ("075（123）4567", "0751234567"),  # full-width brackets around the local code
        ("+81 90-1234-5678", "09012345678"),  # a phone's autofill: the international form
        ("+81-75-123-4567", "0751234567"),
        ("+81 (0)75-123-4567", "0751234567"),  # the trunk zero kept in brackets
        ("＋８１　９０－１２３４－５６７８", "09012345678"),  # the same in full width
        ("0120-123-456", "0120123456"),  # a toll-free number: 10 digits
        ("050-1234-5678", "05012345678"),  # an IP phone
    ],
)
def test_phone_number_accepts_what_people_type(typed: str, expected: str) -> None:
    assert phone_number(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "75-123-4567",  # the leading zero left out
        "075-123-456",  # 9 digits
        "090-1234-56789",  # 12 digits
        "075-123-4567 内線12",  # an extension is not part of the number
        "TEL 075-123-4567",
        "075.123.4567",  # dots are not a Japanese separator
        "+1 415 555 0100",  # not a Japanese number
        "81-90-1234-5678",  # the country code without its "+"
        "--",
        "",
    ],
)
def test_phone_number_refuses_what_is_not_a_japanese_number(typed: str) -> None:
    assert phone_number(typed) is None


def test_normalise_phone_gives_digits_to_check_and_is_phone_number_checks_them() -> None:
    assert normalise_phone("（０７５）１２３－４５６７") == "0751234567"
    assert normalise_phone("075-123-4567 内線12") == "0751234567内線12"
    assert is_phone_number("0751234567") and is_phone_number("09012345678")
    assert not is_phone_number("0751234567\n")  # the whole string, not a prefix
    assert not is_phone_number("１２３")


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("0312345678", "03-1234-5678"),  # Tokyo: a 2-digit area code
        ("0612345678", "06-1234-5678"),
        ("0751234567", "075-123-4567"),  # Kyoto: 3 digits
        ("0774211234", "0774-21-1234"),  # Uji: 4 digits
        ("0499212345", "04992-1-2345"),  # Izu Ōshima: 5 digits
        ("0471234567", "04-7123-4567"),  # Kashiwa: "04" where the next digits say so
        ("09012345678", "090-1234-5678"),
        ("05012345678", "050-1234-5678"),
        ("0120123456", "0120-123-456"),
        ("08001234567", "0800-123-4567"),
        ("0570123456", "0570-123-456"),
    ],
)
def test_a_stored_number_is_shown_grouped_by_the_area_code_rules(digits: str, shown: str) -> None:
    assert format_phone(digits) == shown
    assert phone_number(shown) == digits  # what is shown reads back to what is stored


@pytest.mark.parametrize("odd", ["", "075", "内線12", "1234567890"])
def test_anything_not_a_stored_number_is_shown_as_it_is(odd: str) -> None:
    assert format_phone(odd) == odd
