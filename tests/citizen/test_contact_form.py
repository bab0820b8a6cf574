"""The citizen's contact form: the phone number as residents type it (booking.lib.phone's rules)."""

from __future__ import annotations

import pytest

from booking.citizen.web.forms import ContactForm
from booking.models import BookingSettings, FieldRequirement

PHONE_MESSAGE = "電話番号は0から始まる10桁または11桁の数字で入力してください。"


def form(phone: str, requirement: str = FieldRequirement.OPTIONAL) -> ContactForm:
    rules = BookingSettings(phone_requirement=requirement, email_requirement=FieldRequirement.HIDDEN)
    return ContactForm({"phone": phone}, rules=rules)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("075-222-3111", "0752223111"),
        ("０９０－１２３４－５６７８", "09012345678"),
        ("090ー1234ー5678", "09012345678"),  # the hyphen key in kana mode
        ("090–1234–5678", "09012345678"),  # an en dash from a phone's autocorrect (refused before)
        ("(075) 222-3111", "0752223111"),
        ("+81 90-1234-5678", "09012345678"),  # the browser's autofill (autocomplete="tel")
        ("", ""),  # optional and left empty
    ],
)
def test_a_phone_number_is_stored_as_its_digits(typed: str, stored: str) -> None:
    contact = form(typed)
    assert contact.is_valid(), contact.errors
    assert contact.cleaned_data["phone"] == stored


@pytest.mark.parametrize("typed", ["12345", "075-222-311", "--", "（）", "tel"])
def test_anything_typed_must_be_a_number_even_when_the_phone_is_optional(typed: str) -> None:
    contact = form(typed)
    assert not contact.is_valid()
    assert contact.errors["phone"] == [PHONE_MESSAGE]


def test_a_required_phone_must_be_given() -> None:
    assert not form("", FieldRequirement.REQUIRED).is_valid()
    assert not form("--", FieldRequirement.REQUIRED).is_valid()  # separators alone were "" before
