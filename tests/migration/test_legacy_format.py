"""The old system's files as a format (integrations.legacy_import): tables of cells and raw fields, with no
meaning of Madoguchi's attached. Pure: no database. What the cells mean is tested in test_import_legacy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from booking.lib.dates import TOKYO
from integrations import legacy_import
from integrations.card_fields import InvalidField
from integrations.legacy_import import Problem, Row, Table

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy"


def test_the_format_reader_gives_each_file_as_a_table_of_cells() -> None:
    tables = legacy_import.read_tables(EXAMPLE)
    assert sorted(tables) == sorted(legacy_import.FILES)
    cards = tables[legacy_import.CARDS]
    assert cards.encoding == "UTF-8" and len(cards.records) == 14
    assert cards.columns[:3] == ("application_id", "reservation_number", "password")
    line, cells = cards.records[2]
    # Raw text as the file has it: the reservation number keeps its hyphens (its meaning is booking's).
    assert line == 4 and cells[cards.columns.index("reservation_number")] == "1026-0001-0003"


def test_read_rows_rejects_a_record_of_the_wrong_width_and_keeps_what_parse_rejects() -> None:
    table = Table("places.csv", "UTF-8", ("code", "name"), [(2, ["kita", "北"]), (3, ["x"]), (4, ["!", "y"])])
    rejections: list[Problem] = []
    codes = legacy_import.read_rows(table, lambda row: row.text("code", legacy_import.clean_code), rejections)
    assert codes == ["kita"]
    assert [(problem.line, problem.field, problem.en) for problem in rejections] == [
        (3, "", "has 1 cells, the header has 2"),
        (4, "code", "must be at most 40 letters, digits, hyphens or underscores"),
    ]
    assert legacy_import.read_rows(None, lambda row: row, rejections) == []


def test_a_row_reads_required_and_empty_cells() -> None:
    row = Row(Table("cards.csv", "UTF-8", ("name", "state"), []), 7, ["  ", "booked"])
    assert row.get("name", str, required=True) is None
    assert not row.given("name") and row.given("state")
    assert [str(problem) for problem in row.problems] == [
        "cards.csv 7行目 name: 入力されていません / cards.csv line 7 name: is required"
    ]


def test_raw_fields() -> None:
    today = dt.date(2026, 11, 24)
    assert legacy_import.clean_datetime("2026-11-01 10:00") == dt.datetime(2026, 11, 1, 10, tzinfo=TOKYO)
    assert legacy_import.clean_phone("０７５-２２２-３３３３") == "0752223333"
    assert legacy_import.clean_past_date("2026-11-24", today) == today
    with pytest.raises(InvalidField, match="in the future"):
        legacy_import.clean_past_datetime("2026-11-25 00:00", today)
    with pytest.raises(InvalidField, match="between 2000 and 2099"):
        legacy_import.clean_date("1999-12-31")
    assert legacy_import.choice({"電話": "phone", "phone": "phone"})("ＰＨＯＮＥ") == "phone"


def test_raw_fields_read_with_booking_lib() -> None:
    # Phone numbers as booking.lib.phone reads them: any dash, brackets, the international form.
    for typed in (
        "075-222-3333",
        "(075) 222-3333",
        "075（222）3333",
        "+81 75-222-3333",
        "+81 (0)75 222 3333",
    ):
        assert legacy_import.clean_phone(typed) == "0752223333", typed
    assert legacy_import.clean_phone("090ー1234ー5678") == "09012345678"
    with pytest.raises(InvalidField, match="10 or 11 digits"):
        legacy_import.clean_phone("75-222-3333")
    # Dates as booking.lib.dates reads YYYY-MM-DD; the messages are the format's own.
    assert legacy_import.clean_date("２０２６－１１－２４") == dt.date(2026, 11, 24)
    for text, message in (
        ("2026-W48-2", "not a date"),
        ("20261124", "not a date"),
        ("2026-02-30", "no such date"),
        ("2100-01-01", "between 2000 and 2099"),
    ):
        with pytest.raises(InvalidField, match=message):
            legacy_import.clean_date(text)


@pytest.mark.parametrize("text", ["⓵", "٣", "-1", "1_0", " ", "9" * 5000])
def test_a_whole_number_is_ascii_digits(text: str) -> None:
    # isdigit() passed "⓵" (then int() raised, stopping the import) and "٣" (read as 3).
    with pytest.raises(InvalidField, match="whole number from 1 to 20"):
        legacy_import.int_between(1, 20)(text)


def test_a_whole_number_in_full_width_digits_is_read() -> None:
    assert legacy_import.int_between(1, 20)("１５") == 15
    assert legacy_import.int_between(0, 20)("0") == 0


def test_template_fields_names_the_placeholders_and_refuses_unpaired_braces() -> None:
    assert legacy_import.template_fields("{date} {time!r} {{literal}} {place:>5}") == [
        ("date", "", ""),
        ("time", "", "r"),
        ("place", ">5", ""),
    ]
    with pytest.raises(InvalidField, match="unbalanced braces"):
        legacy_import.template_fields("{date")
