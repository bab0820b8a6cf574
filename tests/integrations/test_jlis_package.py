"""The J-LIS reader as a package: callers keep importing every name from `integrations.jlis`, and the byte
widths and header names its modules share count as the format says (docs/formats/jlis-import.md)."""

from __future__ import annotations

import pytest

from integrations import jlis
from integrations.jlis.csv_reader import header_name
from integrations.jlis.layout import byte_width, char_width

# What the intake, the import command, the upload form, the legacy import, tests and benchmarks import.
CALLERS_NAMES = [
    "CP932",
    "FIELDS",
    "RECORD_BYTES",
    "UTF8",
    "CardImportError",
    "CsvError",
    "Layout",
    "Problem",
    "RawRecord",
    "csv_file",
    "csv_records",
    "encoding_name",
    "fixed_width_file",
    "read",
    "sniff",
]


def test_the_package_exports_what_its_callers_import() -> None:
    assert set(CALLERS_NAMES) <= set(jlis.__all__)
    for name in jlis.__all__:
        assert getattr(jlis, name) is not None, name


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("A1 ", 3),  # ASCII: one byte each
        ("ｽﾐｽ", 3),  # half-width katakana: one byte each
        ("京都　スミス", 12),  # kanji, full-width space and katakana: two bytes each
        ("𠮷野", 4),  # a character Shift_JIS lacks still counts two, as Shift_JIS would store a stand-in
    ],
)
def test_widths_are_shift_jis_bytes(text: str, width: int) -> None:
    assert byte_width(text) == width
    assert sum(char_width(char) for char in text) == width


def test_header_names_compare_after_nfkc_and_case() -> None:
    assert header_name(" 申請書ＩＤ ") == header_name("申請書ID")
    assert header_name("Application_ID") == "application_id"
