"""Writing the J-LIS layouts: the reference for converters (docs/formats/jlis-import.md), and test data."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping

from integrations.jlis.layout import (
    COUNT_DIGITS,
    CP932,
    DATA_TYPE,
    DATA_WIDTHS,
    FORMAT_ID,
    FORMAT_VERSION,
    HEADER_TYPE,
    JLIS_CSV_COLUMNS,
    RECORD_BYTES,
    TRAILER_TYPE,
    UTF8,
    byte_width,
)


def fixed_width_file(
    rows: Iterable[Mapping[str, str]], *, created_on: dt.date, encoding: str = CP932, count: int | None = None
) -> bytes:
    """A fixed-width file of these applications (each maps FIELDS to its text), CRLF after every record.

    `count` overrides the trailer's record count (for testing a file that is cut short).
    """
    records = [_pad(f"{HEADER_TYPE}{FORMAT_ID}{FORMAT_VERSION}{created_on:%Y%m%d}", RECORD_BYTES)]
    for row in rows:
        cells = [DATA_TYPE, *(_pad(row[name], width) for name, width in DATA_WIDTHS[1:])]
        records.append("".join(cells))
    data_count = len(records) - 1 if count is None else count
    records.append(_pad(f"{TRAILER_TYPE}{data_count:0{COUNT_DIGITS}d}", RECORD_BYTES))
    text = "".join(record + "\r\n" for record in records)
    return text.encode(CP932 if encoding == CP932 else UTF8)


def csv_file(rows: Iterable[Mapping[str, str]], *, encoding: str = CP932) -> bytes:
    """A J-LIS CSV of these applications: the Japanese header, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(JLIS_CSV_COLUMNS)
    writer.writerows([row[field] for field in JLIS_CSV_COLUMNS.values()] for row in rows)
    return buffer.getvalue().encode(CP932 if encoding == CP932 else UTF8)


def _pad(value: str, width: int) -> str:
    """The value filled with half-width spaces to `width` Shift_JIS bytes; ValueError if it is wider."""
    size = byte_width(value)
    if size > width:
        raise ValueError(f"{value[:20]!r} is {size} bytes, wider than its field ({width})")
    return value + " " * (width - size)
