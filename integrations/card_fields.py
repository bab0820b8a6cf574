"""What each field of a card application may contain: the one home of those rules.

Every intake of card data uses these cleaners alike: the J-LIS file and CARDS.csv
(`booking.lifecycle.intake`, for every layout `integrations.jlis` reads) and the old system's cards.csv
(`integrations.legacy_import`). Each cleaner takes stripped, non-empty text and gives the value to store,
or raises InvalidField saying why, Japanese first, then English; the caller adds where (file, line, field).
Pure: no database, no Django. The Japanese text rules under them (width, kana, dates) are `booking.lib`'s.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from booking.lib.dates import ISO_DATE, date_parts
from booking.lib.digits import is_ascii_digits
from booking.lib.japanese import katakana_text, nfkc, not_katakana

APPLICATION_ID_DIGITS = 23
NAME_MAX = 100
ADDRESS_MAX = 200
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)

_EXCEL_NUMBER_RE = re.compile(r"[0-9](\.[0-9]+)?E\+?[0-9]+", re.IGNORECASE)
_POSTAL_RE = re.compile(r"([0-9]{3})-?([0-9]{4})")
# Control and format characters (line breaks, tabs, zero-width spaces): never part of a value.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


class InvalidField(Exception):
    """A cleaner's refusal of a value: `ja` and `en` say why (the caller adds where: line and field)."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


def visible_text(raw: str) -> str:
    """The cell without surrounding spaces; InvalidField if it holds a control or invisible character."""
    text = raw.strip()
    # isprintable() is the fast answer for nearly every value; it also says no to spaces other than
    # ' ' (a full-width space in a name), so those values get the exact check.
    if not text.isprintable() and any(unicodedata.category(char) in INVISIBLE_CATEGORIES for char in text):
        raise InvalidField(
            "改行・タブなどの制御文字や見えない文字は使えません",
            "contains a line break, tab or other invisible character",
        )
    return text


def clean(
    column: str, raw: str, today: dt.date, date_formats: tuple[str, ...] = (ISO_DATE,)
) -> str | dt.date:
    """One field of an application (`column` one of the six), as the file gives it: required, visible."""
    text = visible_text(raw)
    if not text:
        raise InvalidField("入力されていません", "is required")
    if column == "birth_date":
        return clean_birth_date(text, today, date_formats)
    return _CLEANERS[column](text)


def clean_application_id(text: str) -> str:
    # No separators dropped (unlike a typed number, booking.lib.japanese.typed_digits): the files hold the ID
    # as 23 digits, so anything else is a damaged cell to show, not to guess at.
    value = nfkc(text)
    if _EXCEL_NUMBER_RE.fullmatch(value):
        raise InvalidField(
            "Excel で数値に変換され、桁が失われています（列を「文字列」にして作り直してください）",
            "was turned into a number by Excel and lost digits (format the column as text)",
        )
    if not is_ascii_digits(value):
        raise InvalidField("数字以外の文字が含まれています", "contains characters other than digits")
    if len(value) != APPLICATION_ID_DIGITS:
        raise InvalidField(
            f"{APPLICATION_ID_DIGITS}桁の数字ではありません（{len(value)}桁）",
            f"must be {APPLICATION_ID_DIGITS} digits (got {len(value)})",
        )
    return value


def clean_name(text: str) -> str:
    return _within(text, NAME_MAX)


def clean_name_kana(text: str) -> str:
    """Katakana and spaces; half-width kana and full-width spaces normalised (NFKC), spaces collapsed.
    Hiragana is refused, not converted (unlike typed kana, `to_katakana`): the card data comes from
    systems, and hiragana there is a wrong column or a wrong file to show."""
    value = katakana_text(text)
    others = not_katakana(value)
    if others:
        shown = "".join(others[:5])
        raise InvalidField(
            f"カタカナで入力してください（使えない文字: {shown}）",
            f"must be katakana and spaces (not allowed: {shown})",
        )
    return _within(value, NAME_MAX)


def clean_birth_date(text: str, today: dt.date, formats: tuple[str, ...] = (ISO_DATE,)) -> dt.date:
    value = nfkc(text)
    parts = date_parts(value, formats)
    if parts is None:
        shown = " または ".join(formats), " or ".join(formats)
        raise InvalidField(f"日付の形式が正しくありません（{shown[0]}）", f"not a date ({shown[1]})")
    try:
        date = dt.date(*parts)
    except ValueError as exc:
        raise InvalidField(f"存在しない日付です（{value}）", f"no such date ({value})") from exc
    if date > today:
        raise InvalidField(f"未来の日付です（{value}）", f"is in the future ({value})")
    if date < EARLIEST_BIRTH_DATE:
        raise InvalidField(f"1900年より前の日付です（{value}）", f"is before 1900 ({value})")
    return date


def clean_postal_code(text: str) -> str:
    match = _POSTAL_RE.fullmatch(nfkc(text))
    if match is None:
        raise InvalidField(
            "郵便番号の形式が正しくありません（123-4567 または 1234567）",
            "not a postal code (123-4567 or 1234567)",
        )
    return f"{match[1]}-{match[2]}"


def clean_address(text: str) -> str:
    return _within(text, ADDRESS_MAX)


def _within(value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidField(
            f"{limit}文字以内にしてください（{len(value)}文字）",
            f"longer than {limit} characters ({len(value)})",
        )
    return value


_CLEANERS: dict[str, Callable[[str], str]] = {
    "application_id": clean_application_id,
    "name": clean_name,
    "name_kana": clean_name_kana,
    "postal_code": clean_postal_code,
    "address": clean_address,
}
