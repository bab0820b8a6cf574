"""CSV exports (AD-06, SO-16): what Excel gets, formula injection, encodings, and that it really streams."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.utils import translation

from integrations.csv_export import (
    CHUNK_CHARS,
    ENCODINGS,
    MAX_REPLACED_CHARS,
    ExportStats,
    TextNumber,
    content_disposition,
    content_type,
    csv_encoding,
    iter_csv,
    safe_cell,
)

BOM = b"\xef\xbb\xbf"


def csv_bytes(
    rows: list[list[object]], encoding: str = "utf-8-sig", stats: ExportStats | None = None
) -> bytes:
    return b"".join(iter_csv(["名前", "メモ"], rows, encoding, stats))


def parsed(data: bytes, codec: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(codec), newline="")))


def test_utf8_has_one_bom_at_the_start_even_over_many_chunks() -> None:
    rows: list[list[object]] = [["京都 太郎", "x" * 100] for _ in range(5000)]
    chunks = list(iter_csv(["名前", "メモ"], rows, "utf-8-sig"))
    data = b"".join(chunks)
    assert len(chunks) > 1
    assert data.startswith(BOM + "名前,メモ\r\n".encode())
    assert data.count(BOM) == 1
    assert parsed(data, "utf-8-sig")[1] == ["京都 太郎", "x" * 100]


def test_empty_list_still_has_bom_and_header() -> None:
    assert csv_bytes([]) == BOM + "名前,メモ\r\n".encode()
    assert csv_bytes([], "cp932") == "名前,メモ\r\n".encode("cp932")


def test_cp932_replaces_what_it_cannot_hold_with_geta_and_counts_it() -> None:
    stats = ExportStats()
    data = csv_bytes([["𠮷野 𠮷子", "🍣"], ["髙橋 﨑子", "〓 already there"]], "cp932", stats)
    rows = parsed(data, "cp932")  # decodes: nothing unencodable slipped through
    assert rows[1] == ["〓野 〓子", "〓"]
    # cp932 (unlike strict Shift_JIS) has 髙 and 﨑: they must survive, not be replaced.
    assert rows[2] == ["髙橋 﨑子", "〓 already there"]
    assert stats.replaced == 3
    assert stats.replaced_chars == ["𠮷", "🍣"]
    assert stats.rows == 2


def test_replaced_characters_are_listed_at_most_fifty_times_but_all_counted() -> None:
    emoji = [chr(0x1F600 + i) for i in range(MAX_REPLACED_CHARS + 10)]
    stats = ExportStats()
    csv_bytes([[char, char] for char in emoji], "cp932", stats)
    assert stats.replaced == 2 * len(emoji)
    assert stats.replaced_chars == emoji[:MAX_REPLACED_CHARS]


def test_utf8_never_raises_on_a_lone_surrogate() -> None:
    stats = ExportStats()
    data = csv_bytes([["bad \ud800 text", "ok"]], "utf-8-sig", stats)
    assert parsed(data, "utf-8-sig")[1] == ["bad 〓 text", "ok"]
    assert stats.replaced == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("-5", "'-5"),  # text that looks like a number is still text: only real numbers pass untouched
        ("a=1", "a=1"),
        ("京都市", "京都市"),
    ],
)
def test_formula_cells_are_escaped(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-5, "-5"), (-3.2, "-3.2"), (Decimal("-1.50"), "-1.50"), (0, "0"), (True, "1"), (False, "0")],
)
def test_numbers_and_booleans_are_never_escaped(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_dates_are_iso_and_datetimes_in_japan_time() -> None:
    assert safe_cell(date(2026, 11, 24)) == "2026-11-24"
    assert safe_cell(datetime(2026, 11, 24, 1, 30, tzinfo=UTC)) == "2026-11-24T10:30:00+09:00"
    assert safe_cell(datetime(2026, 11, 24, 10, 30)) == "2026-11-24T10:30:00"
    assert safe_cell(time(9, 15)) == "09:15:00"


def test_none_is_an_empty_cell() -> None:
    assert safe_cell(None) == ""
    assert csv_bytes([[None, "x"]]).endswith(b"\r\n,x\r\n")


def test_escaped_cells_round_trip_through_a_csv_reader() -> None:
    data = csv_bytes([["=1+1", -5], ['say "hi", then\nleave', None]])
    assert parsed(data, "utf-8-sig")[1:] == [["'=1+1", "-5"], ['say "hi", then\nleave', ""]]


def test_lines_end_with_crlf() -> None:
    data = csv_bytes([["a", "b"], ["c", "d"]], "cp932")
    assert data == b"\x96\xbc\x91O,\x83\x81\x83\x82\r\na,b\r\nc,d\r\n"
    assert data.count(b"\n") == data.count(b"\r\n") == 3


def test_many_rows_come_out_in_several_chunks_read_lazily() -> None:
    consumed = 0

    def rows() -> Iterator[list[object]]:
        nonlocal consumed
        for i in range(20_000):
            consumed += 1
            yield [i, "京都市中京区寺町通御池上る上本能寺前町488"]

    stats = ExportStats()
    chunks = iter_csv(["id", "住所"], rows(), "utf-8-sig", stats)
    first = next(chunks)
    assert 0 < consumed < 20_000  # the first chunk went out before the rows were all read
    assert len(first.decode("utf-8-sig")) < CHUNK_CHARS + 200  # about one buffer, not the whole file
    rest = list(chunks)
    assert len(rest) >= 5
    assert stats.rows == 20_000


def test_unknown_encoding_is_refused_before_streaming_starts() -> None:
    with pytest.raises(ValueError) as refused:
        iter_csv(["a"], [], "latin-1")  # no next(): the check is not deferred to the first chunk
    message = str(refused.value)
    assert "CSVの文字コード 'latin-1' には対応していません" in message
    assert "/" not in message  # one language: the page's
    assert "utf-8-sig, cp932" in message
    with translation.override("en"), pytest.raises(ValueError, match="Unsupported CSV encoding 'latin-1'"):
        iter_csv(["a"], [], "latin-1")
    with pytest.raises(ValueError):
        content_disposition("x", "shift_jis")


def test_encoding_choice_is_forgiving_about_case_and_spaces_only() -> None:
    assert csv_encoding(" UTF-8-SIG ").code == "utf-8-sig"
    assert set(ENCODINGS) == {"utf-8-sig", "cp932"}
    assert content_type("utf-8-sig") == "text/csv; charset=utf-8"
    assert content_type("cp932") == "text/csv; charset=Shift_JIS"


def test_content_disposition_carries_a_japanese_name_and_an_ascii_fallback() -> None:
    header = content_disposition("予約一覧_2026-11-24", "cp932")
    assert header.startswith('attachment; filename="2026-11-24.csv"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "予約一覧_2026-11-24.csv"
    header.encode("ascii")  # a header value Django and every proxy accept


def test_content_disposition_cannot_be_used_to_inject_headers_or_paths() -> None:
    header = content_disposition('a"\r\nSet-Cookie: x=1;/../b\u202e', "utf-8-sig")
    assert "\r" not in header and "\n" not in header
    assert header.count('"') == 2
    assert unquote(header.split("''", 1)[1]) == 'a"__Set-Cookie: x=1;_.._b_.csv'
    assert (
        content_disposition("", "utf-8-sig")
        == "attachment; filename=\"export.csv\"; filename*=UTF-8''export.csv"
    )


def test_a_million_rows_stream_in_flat_memory() -> None:
    """1,000,000 rows, generated and dropped one by one: the peak stays that of a few chunks, not the file."""
    row_count = 1_000_000

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(row_count):
            yield (i, "山田 太郎", "-1" if i % 10 == 0 else "京都市中京区", None)

    stats = ExportStats()
    total = 0
    tracemalloc.start()
    try:
        for chunk in iter_csv(["id", "氏名", "住所", "メモ"], rows(), "utf-8-sig", stats):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.rows == row_count
    assert total > 35_000_000  # the file really is big ...
    assert peak < 4 * 1024 * 1024  # ... and the memory is not


def test_structured_values_are_json_not_python_repr() -> None:
    """The operation log's detail in the log CSV and the full export: JSON, as the format document says."""
    assert safe_cell({"role": "administrator", "名前": "京都"}) == '{"role": "administrator", "名前": "京都"}'
    assert safe_cell(["a", 1]) == '["a", 1]'


# --- the Excel variant (issue 14 §5) ---------------------------------------------------------------------


def excel_reads(cell: str) -> str:
    """What Excel shows for a CSV cell it opens: a ="…" constant is the text inside; a cell that looks like a
    number becomes one (15 significant digits, no leading zeros); anything else stays text."""
    if cell.startswith('="') and cell.endswith('"'):
        return cell[2:-1]
    if re.fullmatch(r"[0-9]+", cell):
        return f"{float(cell):.15g}"
    return cell


NUMBERS = [
    "012345678901",  # a reservation number with a leading zero
    "00000000000000000000123",  # a 23-digit application ID
    "0751234567",  # a stored phone number
    "604-8571",  # a postal code
]


@pytest.mark.parametrize("value", NUMBERS)
def test_excel_keeps_system_digits_as_text_and_the_plain_csv_keeps_them_plain(value: str) -> None:
    assert safe_cell(TextNumber(value), excel=True) == f'="{value}"'
    assert safe_cell(TextNumber(value)) == value
    assert safe_cell(value, excel=True) == value  # only the columns marked TextNumber are wrapped


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_excel_csv_cells_read_back_as_the_digits(encoding: str) -> None:
    codec = "utf-8-sig" if encoding == "utf-8-sig" else encoding
    excel = b"".join(iter_csv(["n"], [[TextNumber(v)] for v in NUMBERS], encoding, excel=True))
    cells = [row[0] for row in parsed(excel, codec)[1:]]
    assert cells == [f'="{v}"' for v in NUMBERS]
    assert [excel_reads(cell) for cell in cells] == NUMBERS
    assert b'"=""012345678901"""\r\n' in excel  # as a CSV writer quotes it, and Excel reads it
    plain = b"".join(iter_csv(["n"], [[TextNumber(v)] for v in NUMBERS], encoding))
    assert [row[0] for row in parsed(plain, codec)[1:]] == NUMBERS
    # What the plain file would become in Excel: the reason for the Excel variant.
    assert excel_reads(NUMBERS[0]) == "12345678901" and excel_reads(NUMBERS[1]) == "123"


@pytest.mark.parametrize(
    "typed",
    ["=1+1", '1"&HYPERLINK("http://evil")&"', "-1", "+81 75", "@x", "\t0123", "0123 ", "０１２３"]
    + ["1--2", "-0123", ""],
)
def test_the_excel_wrapper_never_carries_anything_but_digits(typed: str) -> None:
    cell = safe_cell(TextNumber(typed), excel=True)
    assert cell == safe_cell(typed)  # written, and escaped, as any other text
    assert not cell.startswith("=")


def test_excel_times_are_japan_time_without_offset_or_fraction() -> None:
    aware = datetime(2026, 12, 6, 0, 30, 15, 123456, tzinfo=UTC)
    assert safe_cell(aware, excel=True) == "2026-12-06 09:30:15"
    assert safe_cell(datetime(2026, 12, 6, 9, 30), excel=True) == "2026-12-06 09:30:00"
    assert safe_cell(time(9, 15, 2, 999), excel=True) == "09:15:02"
    assert safe_cell(date(2026, 12, 6), excel=True) == "2026-12-06"
    # The plain variant stays ISO 8601 with the offset, as docs/formats/full-export.md says.
    assert safe_cell(aware) == "2026-12-06T09:30:15.123456+09:00"
