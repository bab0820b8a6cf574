"""Date and time form fields that take what a Japanese keyboard types.

The staff pages' date and time inputs are `type="date"` and `type="time"`, which a browser fills in ISO; but
a browser without the picker (and a person typing into one that has none) sends what was typed, and in the
IME's full-width mode that is "２０２６－１２－１０" and "１０：３０". Number and network fields already take
full-width input (NFKC); these did not, and answered with Django's generic "enter a valid date". Also taken:
the ways a day is written in Japan ("2026/12/10", "2026年12月10日") and a time ("10時30分").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from booking.lib.japanese import nfkc

DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%H時%M分"]


# The dashes a Japanese IME gives for "-" (NFKC keeps them): the long vowel mark, hyphen, bar, minus sign.
_DASHES = str.maketrans(dict.fromkeys("ー‐―−", "-"))


def _as_typed(value: Any) -> Any:
    return nfkc(value).strip() if isinstance(value, str) else value


class TypedDateField(forms.DateField):
    input_formats = DATE_FORMATS

    def to_python(self, value: Any) -> dt.date | None:
        typed = _as_typed(value)
        return super().to_python(typed.translate(_DASHES) if isinstance(typed, str) else typed)


class TypedTimeField(forms.TimeField):
    input_formats = TIME_FORMATS

    def to_python(self, value: Any) -> dt.time | None:
        return super().to_python(_as_typed(value))
