"""Whole numbers as query strings, forms and files give them: ASCII digits only.

`str.isdigit()` is no test for a number: it is also true for "²" and "⓵", which `int()` refuses (a 500 on a
request), and for "٣", which `int()` reads as 3 although nobody here types it. And a primary key of 19
digits overflows PostgreSQL's bigint. Typed numbers (full-width digits, separators) are
`booking.lib.japanese.typed_digits`; normalise with `nfkc` first where a person may type full-width.
"""

from __future__ import annotations

import re

# The largest PostgreSQL bigint (Django's BigAutoField): a larger id is no record, and sending it to the
# database fails instead of finding nothing.
BIGINT_MAX = 2**63 - 1
_BIGINT_DIGITS = len(str(BIGINT_MAX))

_ASCII_DIGITS = re.compile(r"[0-9]+")


def is_ascii_digits(text: str) -> bool:
    """True if `text` is one or more of the ASCII digits "0"–"9" and nothing else (no sign, no spaces)."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def whole_number(text: str) -> int | None:
    """The number `text` writes in ASCII digits only ("0042" → 42), or None for anything else and for more
    digits than a bigint has (no number here is larger; int() of thousands of digits is refused or slow)."""
    if len(text) > _BIGINT_DIGITS or not is_ascii_digits(text):
        return None
    return int(text)


def record_id(text: str) -> int | None:
    """A primary key from a query string or a form: ASCII digits from 1 to the bigint's largest, or None."""
    number = whole_number(text)
    return number if number is not None and 1 <= number <= BIGINT_MAX else None
