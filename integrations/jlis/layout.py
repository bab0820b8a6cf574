"""What every J-LIS layout shares: the six fields, the encodings and their names, the layouts and their
CSV headers, the fixed-width record's parts, and how wide text is in Shift_JIS bytes."""

from __future__ import annotations

from enum import StrEnum

FIELDS = ("application_id", "name", "name_kana", "birth_date", "postal_code", "address")
UTF8 = "utf-8"
CP932 = "cp932"
_ENCODING_NAMES = {
    "utf-8": UTF8,
    "utf8": UTF8,
    "utf-8-sig": UTF8,
    "cp932": CP932,
    "shift_jis": CP932,
    "shift-jis": CP932,
    "sjis": CP932,
    "ms932": CP932,
    "windows-31j": CP932,
}


def encoding_name(raw: str) -> str:
    """'utf-8' or 'cp932' for the names people give them (Shift_JIS, SJIS, UTF8…); ValueError otherwise."""
    name = _ENCODING_NAMES.get(raw.strip().lower().replace("_", "-").replace("shift-jis", "shift_jis"))
    if name is None:
        raise ValueError(f"unknown encoding {raw!r}: use utf-8 or cp932 (Shift_JIS)")
    return name


class Layout(StrEnum):
    CARDS_CSV = "cards-csv"  # the staff's CARDS.csv (docs/formats/cards-csv.md): English header, UTF-8 only
    JLIS_CSV = "jlis-csv"  # J-LIS interchange, CSV with a Japanese header
    JLIS_FIXED = "jlis-fixed"  # J-LIS interchange, fixed-width records with header and trailer


# The J-LIS CSV header: Japanese column names (compared after NFKC, so full-width "ＩＤ" is fine too).
JLIS_CSV_COLUMNS = {
    "申請書ID": "application_id",
    "氏名": "name",
    "氏名カナ": "name_kana",
    "生年月日": "birth_date",
    "郵便番号": "postal_code",
    "住所": "address",
}
CARDS_CSV_COLUMNS = {name: name for name in FIELDS}

# --- the fixed-width layout: every record is RECORD_BYTES Shift_JIS bytes, then CRLF (or LF) -------------
# Widths are Shift_JIS (cp932) bytes: ASCII and half-width katakana count 1, every other character 2. A UTF-8
# file is measured the same way (its characters counted as Shift_JIS would store them), so one converter's
# layout works for both encodings; a character Shift_JIS lacks counts 2.
HEADER_TYPE, DATA_TYPE, TRAILER_TYPE = "1", "2", "9"
FORMAT_ID = "JLISCARD"
FORMAT_VERSION = "01"
DATA_WIDTHS: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("application_id", 23),
    ("name", 100),
    ("name_kana", 100),
    ("birth_date", 8),
    ("postal_code", 7),
    ("address", 200),
)
RECORD_BYTES = sum(width for _, width in DATA_WIDTHS)  # 439
HEADER_WIDTHS: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("format_id", len(FORMAT_ID)),
    ("version", len(FORMAT_VERSION)),
    ("created_on", 8),
    ("filler", RECORD_BYTES - 19),
)
COUNT_DIGITS = 9
TRAILER_WIDTHS: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("count", COUNT_DIGITS),
    ("filler", RECORD_BYTES - 1 - COUNT_DIGITS),
)
PADDING = " \u3000"  # half-width and full-width spaces fill a field up to its width


def byte_width(line: str) -> int:
    """Shift_JIS bytes of the line: ASCII and half-width katakana 1, any other character 2."""
    try:
        return len(line.encode(CP932))
    except UnicodeEncodeError:
        return sum(char_width(char) for char in line)


def char_width(char: str) -> int:
    """One character's Shift_JIS bytes, also for characters Shift_JIS lacks (counted 2)."""
    code = ord(char)
    return 1 if code < 0x80 or 0xFF61 <= code <= 0xFF9F else 2
