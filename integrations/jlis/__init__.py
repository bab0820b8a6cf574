"""Reading card-creation data files: the J-LIS interchange format (CSV or fixed-width), and CARDS.csv.

The national J-LIS format is not published to us, so the product defines the interchange format it accepts
(docs/formats/jlis-import.md, for municipal staff and for the vendor writing a converter). This package only
reads the file's *layout*: encoding, records, header and trailer, column positions, byte widths. What each
field may contain is checked in one place, `integrations.card_fields`, for every layout alike.

Nothing here touches the database or Django, so the readers can be tested and reused on their own. Line
numbers are lines of the file (1 = the first line, the header), as a text editor or Excel numbers them; in
the fixed-width layout every record is one line, so a record's number is its line number.

The modules, each using only those above it: `layout` (fields, encodings, the fixed-width record and the
byte widths), `records` (what the readers give, and the problems they find), `csv_reader` and
`fixed_width` (one layout each), `reading` (detects the layout and reads a whole file or its first bytes),
`writing` (the reference for converters, and test data). Callers import from `integrations.jlis`.
"""

from integrations.jlis.csv_reader import CsvError, csv_records, read_csv
from integrations.jlis.fixed_width import read_fixed
from integrations.jlis.layout import (
    CARDS_CSV_COLUMNS,
    COUNT_DIGITS,
    CP932,
    DATA_TYPE,
    DATA_WIDTHS,
    FIELDS,
    FORMAT_ID,
    FORMAT_VERSION,
    HEADER_TYPE,
    HEADER_WIDTHS,
    JLIS_CSV_COLUMNS,
    RECORD_BYTES,
    TRAILER_TYPE,
    TRAILER_WIDTHS,
    UTF8,
    Layout,
    encoding_name,
)
from integrations.jlis.reading import decode, detect_layout, read, sniff
from integrations.jlis.records import CardImportError, Problem, RawFile, RawRecord
from integrations.jlis.writing import csv_file, fixed_width_file

__all__ = [
    "CARDS_CSV_COLUMNS",
    "COUNT_DIGITS",
    "CP932",
    "DATA_TYPE",
    "DATA_WIDTHS",
    "FIELDS",
    "FORMAT_ID",
    "FORMAT_VERSION",
    "HEADER_TYPE",
    "HEADER_WIDTHS",
    "JLIS_CSV_COLUMNS",
    "RECORD_BYTES",
    "TRAILER_TYPE",
    "TRAILER_WIDTHS",
    "UTF8",
    "CardImportError",
    "CsvError",
    "Layout",
    "Problem",
    "RawFile",
    "RawRecord",
    "csv_file",
    "csv_records",
    "decode",
    "detect_layout",
    "encoding_name",
    "fixed_width_file",
    "read",
    "read_csv",
    "read_fixed",
    "sniff",
]
