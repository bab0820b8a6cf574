"""Reading a whole file (`read`) or its first bytes on upload (`sniff`): refuse workbooks, decode (UTF-8 or
Shift_JIS), detect the layout, and hand the text to that layout's reader."""

from __future__ import annotations

from integrations.jlis.csv_reader import header_name, read_csv
from integrations.jlis.fixed_width import read_fixed
from integrations.jlis.layout import (
    CARDS_CSV_COLUMNS,
    CP932,
    DATA_TYPE,
    FORMAT_ID,
    HEADER_TYPE,
    JLIS_CSV_COLUMNS,
    RECORD_BYTES,
    TRAILER_TYPE,
    UTF8,
    Layout,
    byte_width,
)
from integrations.jlis.records import CardImportError, Problem, RawFile


def read(data: bytes, *, layout: Layout | None = None, encoding: str | None = None) -> RawFile:
    """The file's records in its layout (detected unless given); CardImportError if it is unreadable."""
    _refuse_workbook(data)
    text, used = decode(data, encoding)
    if not text.strip():
        raise CardImportError(Problem("ファイルが空です", "the file is empty"))
    found = layout or detect_layout(text)
    if found is Layout.JLIS_FIXED:
        return RawFile(found, used, *read_fixed(text))
    if found is Layout.CARDS_CSV and used != UTF8:
        raise CardImportError(_cards_csv_not_utf8(data))
    columns = CARDS_CSV_COLUMNS if found is Layout.CARDS_CSV else JLIS_CSV_COLUMNS
    return RawFile(found, used, *read_csv(text, columns))


def sniff(head: bytes, *, layout: Layout | None = None, encoding: str | None = None) -> Layout | None:
    """The layout from the first bytes of a file (its first lines), for a quick answer on upload.

    CardImportError for what is already certain there (a workbook, the wrong encoding, an unknown layout);
    None when the first bytes cannot tell (no complete line in them): the whole file's reading decides.
    """
    _refuse_workbook(head)
    end = head.rfind(b"\n")
    if end < 0:
        return layout
    text, used = decode(head[: end + 1], encoding)
    if not text.strip():
        return layout
    found = layout or detect_layout(text)
    if found is Layout.CARDS_CSV and used != UTF8:
        raise CardImportError(_cards_csv_not_utf8(head[: end + 1]))
    return found


def _refuse_workbook(data: bytes) -> None:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise CardImportError(
            Problem(
                "Excel のブック（.xlsx / .xls）は読めません。CSV で保存してください",
                "an Excel workbook (.xlsx/.xls) cannot be read; save it as CSV",
            )
        )


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding used: the one given, else UTF-8 if the bytes are valid UTF-8, else cp932.

    A UTF-8 byte-order mark is dropped. Shift_JIS here is Microsoft's cp932 (what Excel and Windows write),
    which has the NEC and IBM extension characters (①, ㈱, 髙) plain Shift_JIS lacks.
    """
    for candidate in [encoding] if encoding else [UTF8, CP932]:
        try:
            return data.decode("utf-8-sig" if candidate == UTF8 else candidate), candidate
        except UnicodeDecodeError as exc:
            failure = exc
    line = data[: failure.start].count(b"\n") + 1
    if encoding == UTF8:
        raise CardImportError(_not_utf8(data))
    if encoding == CP932:
        raise CardImportError(
            Problem(
                f"Shift_JIS として読めない文字があります（{line}行目）",
                f"not valid Shift_JIS (cp932) at line {line}",
            )
        )
    raise CardImportError(
        Problem(
            f"文字コードが UTF-8 でも Shift_JIS でもありません（{line}行目）",
            f"the file is neither UTF-8 nor Shift_JIS (cp932) (line {line})",
        )
    )


def _cards_csv_not_utf8(data: bytes) -> Problem:
    """CARDS.csv is UTF-8 only: Excel's Shift_JIS CSV silently turns characters it lacks into '?'."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _not_utf8(data)
    return Problem(
        "CARDS.csv（英語の見出し）は UTF-8 でしか読みません。文字コードの指定を外してください",
        "CARDS.csv (English header) is read as UTF-8 only; drop the encoding override",
    )


def _not_utf8(data: bytes) -> Problem:
    line = 1
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
    return Problem(
        f"UTF-8 ではありません（{line}行目）。Excel では「CSV UTF-8（コンマ区切り）」で保存してください",
        f'not UTF-8 (line {line}); in Excel, save as "CSV UTF-8 (Comma delimited)"',
    )


def detect_layout(text: str) -> Layout:
    """From the first line that is not blank: a fixed-width record, or the header of one of the CSVs."""
    first = next(line for line in text.splitlines() if line.strip())
    if first.startswith(HEADER_TYPE + FORMAT_ID):
        return Layout.JLIS_FIXED
    cells = {header_name(cell.strip().strip('"')) for cell in first.split(",")}
    if cells & {header_name(name) for name in CARDS_CSV_COLUMNS}:
        return Layout.CARDS_CSV
    if cells & {header_name(name) for name in JLIS_CSV_COLUMNS}:
        return Layout.JLIS_CSV
    if first[:1] in {DATA_TYPE, TRAILER_TYPE} and byte_width(first) == RECORD_BYTES:
        return Layout.JLIS_FIXED  # a fixed-width file whose header record is missing: say so below
    raise CardImportError(
        Problem(
            "ファイルの形式がわかりません。1行目は CSV の見出し"
            "（申請書ID,氏名,… または application_id,name,…）か、"
            f"固定長のヘッダレコード（{HEADER_TYPE}{FORMAT_ID}…）にしてください",
            "unknown file layout: line 1 must be a CSV header (申請書ID,氏名,… or application_id,name,…) "
            f"or a fixed-width header record ({HEADER_TYPE}{FORMAT_ID}…)",
        )
    )
