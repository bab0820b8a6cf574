"""The operator's caller form (phone-only visits): the kana name and the phone number as operators type them
while listening, normalised by booking.lib's one set of rules."""

from __future__ import annotations

import pytest

from booking.callcenter.views import CallerForm
from tests.staff_helpers import make_staff, sign_in

START = "2026-12-07T10:00:00+09:00"
KANA_MESSAGE = "氏名はカタカナで入力してください。"
PHONE_MESSAGE = "電話番号は0から始まる10桁または11桁の数字で入力してください。"


def cleaned(kana: str, phone: str) -> tuple[dict[str, object], dict[str, list[str]]]:
    form = CallerForm({"start": START, "caller_name_kana": kana, "contact_phone": phone})
    form.is_valid()
    return form.cleaned_data, {name: [str(error) for error in errors] for name, errors in form.errors.items()}


@pytest.mark.parametrize(
    ("kana", "phone", "stored"),
    [
        ("すずき はなこ", "090-1234-5678", ("スズキ ハナコ", "09012345678")),
        ("ｽｽﾞｷ　ﾊﾅｺ", "０９０－１２３４－５６７８", ("スズキ ハナコ", "09012345678")),
        ("スズキ・ハナコ", "(075) 123-4567", ("スズキ・ハナコ", "0751234567")),
        (
            "いすゞ はなこ",
            "075ー123ー4567",
            ("イスヾ ハナコ", "0751234567"),
        ),  # iteration mark; kana-mode dash
        ("スズキ ハナコ", "+81 90-1234-5678", ("スズキ ハナコ", "09012345678")),  # autofill's form
    ],
)
def test_the_form_stores_katakana_and_digits(kana: str, phone: str, stored: tuple[str, str]) -> None:
    data, errors = cleaned(kana, phone)
    assert errors == {}
    assert (data["caller_name_kana"], data["contact_phone"]) == stored


@pytest.mark.parametrize(
    ("kana", "phone", "field", "message"),
    [
        ("鈴木 花子", "090-1234-5678", "caller_name_kana", KANA_MESSAGE),
        ("Suzuki", "090-1234-5678", "caller_name_kana", KANA_MESSAGE),
        ("スズキ", "1", "contact_phone", PHONE_MESSAGE),
        # Before booking.lib, every non-digit was dropped silently: "TEL 075..." passed, and so did letters
        # mistyped into the number. Now only separators are dropped and the rest is shown back.
        (
            "スズキ",
            "TEL 075-123-4567",
            "contact_phone",
            "電話番号は0から始まる10桁または11桁の数字で入力してください。",
        ),
        (
            "スズキ",
            "075-123-4567 内線12",
            "contact_phone",
            "電話番号は0から始まる10桁または11桁の数字で入力してください。",
        ),
    ],
)
def test_the_form_refuses_with_a_message_in_japanese(kana: str, phone: str, field: str, message: str) -> None:
    _, errors = cleaned(kana, phone)
    assert errors == {field: [message]}


@pytest.mark.django_db
@pytest.mark.parametrize("move", ["²", "١٢", "99999999999999999999", "-1", "1.0"])
def test_a_visit_to_move_that_is_not_a_booking_id_is_ignored_never_a_500(kyoto: None, move: str) -> None:
    """Not a booking ID: "²" is a digit to str.isdigit() but not to int(), "١٢" is 12 to int() but in no
    URL of ours, and 20 digits overflow the database's bigint."""
    make_staff("op_move", "operator")
    page = sign_in("op_move").get("/staff/callcenter/visit/", {"move": move})
    assert page.status_code == 200
