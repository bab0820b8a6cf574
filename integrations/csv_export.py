"""CSV for the staff console's lists and the tenant's full export (AD-06, SO-16).

Staff open these files in Excel, so they are written the way Excel reads them: CRLF line ends, and either
UTF-8 with a BOM (without the BOM Excel guesses Shift_JIS and garbles Japanese) or Shift_JIS (cp932) for
older Excel and the municipalities' own tools. Rows are streamed in chunks of about 64 K characters, so a
million-row list costs no more memory than a ten-row one, and the generator can be handed straight to a
``StreamingHttpResponse`` or to ``integrations.storage``.

Cells are made safe against CSV (formula) injection: residents type their own names and notes, and a cell
such as ``=HYPERLINK(...)`` must reach the spreadsheet as text, not as a formula (OWASP "CSV Injection").

Two variants (``excel=``): the *plain* CSV, for programs (the full export, the print vendor's file, the staff
API by default), writes values as they are, datetimes ISO 8601 with their offset. The *Excel* CSV, what the
staff console's download buttons give, is written for a person double-clicking the file: Excel turns any
cell that looks like a number into one, so the reservation number ``012345678901`` loses its zero, a 23-digit
application ID becomes ``2.00E+22`` (and its digits past the 15th are gone for good) and the phone
``0751234567`` becomes ``751234567``. Those columns (marked ``TextNumber`` by whoever builds the rows) are
written as the formula ``="0123"``, whose value is the text ``0123``: Excel opens it without a warning (no
external reference, nothing to enable), shows the digits as they are, and copies, sorts and looks them up
as text. A leading tab (the other usual trick) also keeps the digits, but leaves an invisible tab in the
cell, which breaks VLOOKUP and pasting, and a leading tab is one of the formula triggers escaped below. The
wrapper is applied only to a value made of ASCII digits and hyphens, so nothing a resident typed can reach
the spreadsheet as a formula through it: any other value is written, and escaped, as text. Datetimes in the
Excel CSV are ``2026-12-06 09:30:00`` (Japan time, no offset, no fraction), which Excel reads as a date
and time; with the offset or microseconds it would keep them as unsortable text.

Pure Python: no models, no settings, so it is tested without a database.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from urllib.parse import quote

from django.utils.translation import gettext as _

from booking.lib.dates import TOKYO
from booking.lib.japanese import nfkc

# Written in place of a character the chosen encoding cannot hold: the mark Japanese printing uses for a
# missing glyph, so staff recognise it (and it exists in Shift_JIS itself).
GETA_MARK = "\u3013"  # 〓
MAX_REPLACED_CHARS = 50
CHUNK_CHARS = 64 * 1024
# Cells starting with these are run as formulas (or, for tab and CR, make Excel skip to a formula).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_FILENAME_STEM = 100
MAX_EXTENSION = 10
# What the Excel variant writes as ="…": digits, optionally in hyphenated groups (075-123-4567, 604-8571).
# Nothing else may go inside the quotes, so the formula can never be anything but a constant text.
_EXCEL_TEXT_NUMBER = re.compile(r"[0-9]+(?:-[0-9]+)*")
EXCEL_DATETIME = "%Y-%m-%d %H:%M:%S"


class TextNumber(str):
    """A number-like text the system made (reservation number, application ID, stored phone, postal code):
    text in every CSV, and kept as text (not turned into a number) in the Excel variant."""

    __slots__ = ()


@dataclass(frozen=True)
class CsvEncoding:
    """One encoding the user may choose: its id in forms/URLs, Python's codec, the BOM to write, labels."""

    code: str
    codec: str
    bom: bytes
    http_charset: str
    label_ja: str
    label_en: str

    @property
    def label(self) -> str:
        """The label in the page's language (Django's active language)."""
        from django.utils.translation import get_language

        return self.label_en if (get_language() or "ja").startswith("en") else self.label_ja


ENCODINGS: dict[str, CsvEncoding] = {
    "utf-8-sig": CsvEncoding(
        code="utf-8-sig",
        # The BOM is written once by iter_csv itself: Python's "utf-8-sig" codec would repeat it per chunk.
        codec="utf-8",
        bom=b"\xef\xbb\xbf",
        http_charset="utf-8",
        label_ja="UTF-8（BOM付き）",
        label_en="UTF-8 with BOM",
    ),
    "cp932": CsvEncoding(
        code="cp932",
        codec="cp932",
        bom=b"",
        http_charset="Shift_JIS",
        label_ja="Shift_JIS（Excel向け）",
        label_en="Shift_JIS (for Excel)",
    ),
}
DEFAULT_ENCODING = "utf-8-sig"


@dataclass
class ExportStats:
    """What an export did, for the audit log and for telling staff that some characters were replaced."""

    rows: int = 0
    replaced: int = 0
    replaced_chars: list[str] = field(default_factory=list)

    def note_replaced(self, char: str, count: int) -> None:
        self.replaced += count
        if char not in self.replaced_chars and len(self.replaced_chars) < MAX_REPLACED_CHARS:
            self.replaced_chars.append(char)


def csv_encoding(code: str) -> CsvEncoding:
    """The encoding for a user's choice; anything else is refused before a single byte is sent."""
    found = ENCODINGS.get(code.strip().lower()) if isinstance(code, str) else None
    if found is None:
        choices = ", ".join(ENCODINGS)
        shown = repr(code)[:40]
        raise ValueError(
            _("CSVの文字コード %(shown)s には対応していません（%(choices)s から選んでください）。")
            % {"shown": shown, "choices": choices}
        )
    return found


def safe_cell(value: object, *, excel: bool = False) -> str:
    """One value as spreadsheet-safe text (``excel``: for the Excel variant, see the module's docstring).

    Numbers are never formulas, so -5 stays -5; any *text* starting with a formula trigger gets a leading
    apostrophe, which Excel and LibreOffice show as text and do not evaluate.
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):  # before date: datetime is a date
        return _excel_datetime(value) if excel else _iso_datetime(value)
    if isinstance(value, time) and excel:
        return value.replace(microsecond=0, tzinfo=None).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if excel and isinstance(value, TextNumber) and _EXCEL_TEXT_NUMBER.fullmatch(value):
        return f'="{value}"'
    # Structured values (the operation log's detail) as JSON, as docs/formats/full-export.md says, not as
    # Python's repr: a reader's tools parse JSON. A "[" or "{" never triggers a formula.
    text = (
        json.dumps(value, ensure_ascii=False, sort_keys=True)
        if isinstance(value, dict | list)
        else str(value)
    )
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _iso_datetime(value: datetime) -> str:
    """Aware datetimes in Japan time, the time staff work in; naive ones are taken as already local."""
    if value.tzinfo is not None:
        value = value.astimezone(TOKYO)
    return value.isoformat()


def _excel_datetime(value: datetime) -> str:
    """Japan time without offset or fraction: the form Excel reads as a date and time."""
    if value.tzinfo is not None:
        value = value.astimezone(TOKYO)
    return value.strftime(EXCEL_DATETIME)


def iter_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    encoding: str,
    stats: ExportStats | None = None,
    *,
    excel: bool = False,
) -> Iterator[bytes]:
    """Encoded CSV in chunks of about CHUNK_CHARS characters: header first, then every row; ``excel`` for
    the variant a person opens in Excel (the module's docstring), else the plain one.

    The encoding is checked now, not at the first ``next()``, so a view can refuse a bad choice with a 400
    before it starts a response. ``rows`` is consumed lazily and never kept.
    """
    chosen = csv_encoding(encoding)
    return _generate(header, rows, chosen, stats if stats is not None else ExportStats(), excel)


def _generate(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    chosen: CsvEncoding,
    stats: ExportStats,
    excel: bool,
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    prefix = chosen.bom
    for row in rows:
        writer.writerow([safe_cell(value, excel=excel) for value in row])
        stats.rows += 1
        if buffer.tell() >= CHUNK_CHARS:
            yield prefix + _take(buffer, chosen.codec, stats)
            prefix = b""
    tail = _take(buffer, chosen.codec, stats)
    if tail or prefix:
        yield prefix + tail


def _take(buffer: io.StringIO, codec: str, stats: ExportStats) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return encode_replacing(text, codec, stats)


def encode_replacing(text: str, codec: str, stats: ExportStats) -> bytes:
    """``text`` in ``codec``; characters it cannot hold (𠮷, emoji, lone surrogates) become 〓, counted.

    The fast path is one plain encode; only a chunk that fails is searched, character by distinct character.
    """
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        pass
    unencodable = [char for char in dict.fromkeys(text) if not _encodes(char, codec)]
    for char in unencodable:
        stats.note_replaced(char, text.count(char))
    return text.translate({ord(char): GETA_MARK for char in unencodable}).encode(codec)


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def content_type(encoding: str) -> str:
    """The Content-Type of a CSV download in the chosen encoding."""
    return f"text/csv; charset={csv_encoding(encoding).http_charset}"


def content_disposition(filename_stem: str, encoding: str) -> str:
    """Content-Disposition for downloading ``<stem>.csv``: Japanese names via ``filename*`` (RFC 6266).

    The encoding is checked (so a view validates the choice and names the file in one place) but does not
    change the name: staff see the same file name whichever encoding they chose.
    """
    csv_encoding(encoding)
    return attachment_disposition(f"{filename_stem}.csv")


def attachment_disposition(filename: str) -> str:
    """An RFC 6266 ``attachment`` header value: an ASCII ``filename`` for old clients, UTF-8 ``filename*``.

    Both parts are built from safe characters only, so a name cannot inject quotes, CR/LF or header
    parameters, nor carry a path, whatever it contains.
    """
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    stem = _clean_name(stem)[:MAX_FILENAME_STEM].strip() or "export"
    extension = _clean_name(extension)[:MAX_EXTENSION]
    name = f"{stem}.{extension}" if extension else stem
    fallback = _ascii_fallback(stem) + (f".{_ascii_fallback(extension)}" if extension else "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _clean_name(text: str) -> str:
    """No control characters or path separators in a file name."""
    return "".join("_" if unicodedata.category(c).startswith("C") or c in "/\\" else c for c in text).strip()


def _ascii_fallback(text: str) -> str:
    """Full-width letters and digits become ASCII (NFKC); anything else collapses to ``_``."""
    ascii_text = re.sub(r"[^A-Za-z0-9_-]+", "_", nfkc(text)).strip("_-")
    return ascii_text or "export"
