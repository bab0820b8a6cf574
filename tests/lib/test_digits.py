"""Whole numbers and record ids (booking.lib.digits): ASCII digits only, never what str.isdigit() accepts."""

from __future__ import annotations

import pytest

from booking.lib.digits import BIGINT_MAX, is_ascii_digits, record_id, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", True),
        ("0123456789", True),
        ("", False),
        ("²", False),  # a digit to isdigit(), not to int()
        ("⓵", False),
        ("٣", False),  # Arabic-Indic three: int() reads it, nobody here types it
        ("１２", False),  # full-width: normalise with nfkc first where a person types
        ("-1", False),
        ("+1", False),
        (" 1", False),
        ("1 ", False),
        ("1\n", False),
        ("1_000", False),  # int() reads this too
    ],
)
def test_is_ascii_digits(text: str, expected: bool) -> None:
    assert is_ascii_digits(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("0042", 42),
        ("0", 0),
        (str(BIGINT_MAX), BIGINT_MAX),
        ("9" * 19, 9999999999999999999),  # 19 digits: still read (no bigint; the caller checks its range)
        ("1" * 20, None),  # longer than any number here
        ("9" * 5000, None),  # int() refuses more than 4300 digits: it must not get them
        ("²", None),
        ("1_000", None),
        (" 7", None),
    ],
)
def test_whole_number(text: str, expected: int | None) -> None:
    assert whole_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("123", 123),
        (str(BIGINT_MAX), BIGINT_MAX),
        (str(BIGINT_MAX + 1), None),  # overflows PostgreSQL's bigint
        ("99999999999999999999", None),
        ("0", None),  # no record has the id 0
        ("-1", None),
        ("", None),
        ("²", None),
        ("⓵", None),
        ("١", None),
        ("1.0", None),
    ],
)
def test_record_id(text: str, expected: int | None) -> None:
    assert record_id(text) == expected
