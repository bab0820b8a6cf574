"""Japanese telephone numbers as residents, operators and old systems write them.

A number is stored as its digits only: "0" and then 9 digits (a fixed line, "075-123-4567") or 10 digits (a
mobile or IP phone, "090-1234-5678"). People write the groups with any dash, spaces or the area code in
brackets ("(075) 123-4567", "075（123）4567"), often in full-width digits; a phone's autofill gives the
international form "+81 90-1234-5678", sometimes with the trunk zero kept in brackets ("+81 (0)75-...").
"""

from __future__ import annotations

import re

from booking.lib.japanese import drop_separators

PHONE_NUMBER = re.compile(r"0[0-9]{9,10}")
_BRACKETS = "()（）"
_JAPAN_PREFIX = "+81"


def normalise_phone(text: str) -> str:
    """The digits of a telephone number as typed: separators and brackets dropped, "+81" replaced by the
    trunk "0". Not checked: the result may still not be a number (see `is_phone_number`)."""
    value = drop_separators(text, _BRACKETS)
    if value.startswith(_JAPAN_PREFIX):
        # "+81 (0)75 ..." keeps the trunk zero in brackets; "+81 75 ..." drops it. Both are 075...
        value = "0" + value.removeprefix(_JAPAN_PREFIX).removeprefix("0")
    return value


def is_phone_number(digits: str) -> bool:
    """True for a normalised Japanese number: "0" then 9 or 10 ASCII digits."""
    return PHONE_NUMBER.fullmatch(digits) is not None


def phone_number(text: str) -> str | None:
    """The stored form of a telephone number as typed ("０７５－１２３－４５６７" → "0751234567"), or None."""
    digits = normalise_phone(text)
    return digits if is_phone_number(digits) else None
