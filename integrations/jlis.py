"""Reading card-creation data files: the J-LIS interchange format (CSV or fixed-width), and CARDS.csv.

The national J-LIS format is not published to us, so the product defines the interchange format it accepts
(docs/formats/jlis-import.md, for municipal staff and for the vendor writing a converter). This module only
reads the file's *layout*: encoding, records, header and trailer, column positions, byte widths. What each
field may contain is checked in one place, `integrations.card_fields`, for every layout alike.

Nothing here touches the database or Django, so the readers can be tested and reused on their own. Line
numbers are lines of the file (1 = the first line, the header), as a text editor or Excel numbers them; in
the fixed-width layout every record is one line, so a record's number is its line number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
_PADDING = " \u3000"  # half-width and full-width spaces fill a field up to its width


# --- problems ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; `line` is the file's line (1 = header), `field` the column."""

    ja: str
    en: str
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.ja} / {self.en}"
        where = f" {self.field}" if self.field else ""
        return f"{self.line}行目{where}: {self.ja} / line {self.line}{where}: {self.en}"

    @property
    def sort_key(self) -> tuple[int, int]:
        column = FIELDS.index(self.field) if self.field in FIELDS else -1
        return (self.line or 0, column)

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "ja": self.ja, "en": self.en}


class CardImportError(Exception):
    """The file cannot be imported (nothing was imported), or its letters could not be written.

    `problems` lists every reason found; `message` is what the command shows.
    """

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if len(self.problems) == 1 and self.problems[0].line is None:
            return str(self.problems[0])
        count = len(self.problems)
        head = f"{count}件の誤りがあります。何も取り込んでいません / {count} error(s); nothing was imported"
        return "\n".join([head, *(str(problem) for problem in self.problems)])


# --- what the readers give -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One application as it stands in the file: each field's text, padding and all, not yet checked."""

    line: int
    values: dict[str, str]


@dataclass
class RawFile:
    layout: Layout
    encoding: str
    records: list[RawRecord]
    problems: list[Problem]  # layout problems of single lines; the other lines are still read


def encoding_name(raw: str) -> str:
    """'utf-8' or 'cp932' for the names people give them (Shift_JIS, SJIS, UTF8…); ValueError otherwise."""
    name = _ENCODING_NAMES.get(raw.strip().lower().replace("_", "-").replace("shift-jis", "shift_jis"))
    if name is None:
        raise ValueError(f"unknown encoding {raw!r}: use utf-8 or cp932 (Shift_JIS)")
    return name


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
    cells = {_header_name(cell.strip().strip('"')) for cell in first.split(",")}
    if cells & {_header_name(name) for name in CARDS_CSV_COLUMNS}:
        return Layout.CARDS_CSV
    if cells & {_header_name(name) for name in JLIS_CSV_COLUMNS}:
        return Layout.JLIS_CSV
    if first[:1] in {DATA_TYPE, TRAILER_TYPE} and _width(first) == RECORD_BYTES:
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


# --- CSV (both header vocabularies) --------------------------------------------------------------------


def read_csv(text: str, columns: dict[str, str]) -> tuple[list[RawRecord], list[Problem]]:
    """Records of a CSV whose header names the six fields (in any order) with the names in `columns`.

    Blank lines (also lines of empty cells such as `,,,,,`) are skipped but keep their line numbers.
    """
    try:
        records = csv_records(text)
    except CsvError as exc:
        raise CardImportError(Problem(exc.ja, exc.en, line=exc.line)) from exc
    if not records:
        raise CardImportError(Problem("ファイルが空です", "the file is empty"))
    (header_line, header), *body = records
    positions = _column_positions(header_line, header, columns)
    if not body:
        raise CardImportError(
            Problem("データ行がありません（見出しだけです）", "no data rows (only the header)")
        )
    rows: list[RawRecord] = []
    problems: list[Problem] = []
    width = len(header)
    for line, cells in body:
        if len(cells) != width:
            problems.append(
                Problem(
                    f"列の数が見出しと合いません（{len(cells)}列、見出しは{width}列）",
                    f"has {len(cells)} cells, the header has {width}",
                    line=line,
                )
            )
        else:
            rows.append(RawRecord(line, {field: cells[position] for field, position in positions.items()}))
    return rows, problems


class CsvError(Exception):
    """A record that is not valid CSV: `line` is where it starts, `ja` and `en` say why."""

    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(f"line {line}: {error}")
        self.line = line
        self.ja = f"CSV として読めません（{error}）"
        self.en = f"not valid CSV ({error})"


def csv_records(text: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each CSV record; CsvError at the first that is not CSV.

    Blank records (also lines of empty cells such as `,,,,,`) are left out; the others keep their lines.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvError(start, exc) from exc
    return records


def _header_name(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip().lower()


def _column_positions(line: int, header: list[str], columns: dict[str, str]) -> dict[str, int]:
    """Field → cell position; CardImportError naming missing, unknown and repeated columns."""
    known = {_header_name(name): name for name in columns}
    names = [_header_name(cell) for cell in header]
    problems = []
    missing = [name for name in columns if _header_name(name) not in names]
    if missing:
        listed = ", ".join(missing)
        problems.append(Problem(f"列がありません: {listed}", f"missing column(s): {listed}", line=line))
    unknown = [cell.strip() or f"({number}列目: 空欄)" for number, cell in enumerate(header, 1)]
    unknown = [shown for shown, name in zip(unknown, names, strict=True) if name not in known]
    if unknown:
        listed = ", ".join(unknown)
        problems.append(Problem(f"不明な列があります: {listed}", f"unknown column(s): {listed}", line=line))
    repeated = sorted({known[name] for name in names if name in known and names.count(name) > 1})
    if repeated:
        listed = ", ".join(repeated)
        problems.append(
            Problem(f"同じ列が複数あります: {listed}", f"repeated column(s): {listed}", line=line)
        )
    if problems:
        raise CardImportError(problems)
    return {columns[known[name]]: position for position, name in enumerate(names)}


# --- fixed width ---------------------------------------------------------------------------------------


def read_fixed(text: str) -> tuple[list[RawRecord], list[Problem]]:
    """Data records between a header record and a trailer record whose count must match."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()  # the line end of the last record, and blank lines after it
    problems: list[Problem] = []
    records: list[RawRecord] = []
    data_lines = 0
    trailer_at: int | None = None
    if lines[0][:1] != HEADER_TYPE:
        problems.append(_missing_header())
    for number, line in enumerate(lines, 1):
        kind = line[:1]
        if trailer_at is not None:
            problems.append(
                Problem(
                    f"トレーラレコード（{trailer_at}行目）の後にレコードがあります",
                    f"a record after the trailer record (line {trailer_at})",
                    line=number,
                )
            )
            break
        if kind == HEADER_TYPE:
            problems.extend(_check_header(line) if number == 1 else [_second_header(number)])
        elif kind == DATA_TYPE:
            data_lines += 1
            record, problem = _data_record(number, line)
            if record is not None:
                records.append(record)
            if problem is not None:
                problems.append(problem)
        elif kind == TRAILER_TYPE:
            trailer_at = number
            problems.extend(_check_trailer(number, line, data_records=data_lines))
        else:
            problems.append(_unknown_record(number, kind))
    if trailer_at is None:
        problems.append(
            Problem(
                f"最後にトレーラレコード（レコード区分 {TRAILER_TYPE}）がありません。"
                "ファイルが途中で切れていないか確認してください",
                f"no trailer record (record type {TRAILER_TYPE}) at the end: is the file cut short?",
                line=len(lines) + 1,
            )
        )
    if not data_lines:
        problems.append(Problem("データレコードがありません", "no data records"))
    return records, problems


def _second_header(number: int) -> Problem:
    return Problem(
        "ヘッダレコードは1行目だけです（ファイルを2つつなげていませんか）",
        "a header record is allowed on line 1 only (were two files joined?)",
        line=number,
    )


def _missing_header() -> Problem:
    return Problem(
        f"1行目がヘッダレコード（{HEADER_TYPE}{FORMAT_ID}{FORMAT_VERSION}…）ではありません",
        f"line 1 is not the header record ({HEADER_TYPE}{FORMAT_ID}{FORMAT_VERSION}…)",
        line=1,
    )


def _unknown_record(number: int, kind: str) -> Problem:
    shown = kind or "空行"
    return Problem(
        f"レコード区分が正しくありません（{shown}）。{DATA_TYPE}（データ）か {TRAILER_TYPE}（トレーラ）です",
        f"unknown record type {kind or '(empty line)'!r}: "
        f"data records are {DATA_TYPE}, the trailer {TRAILER_TYPE}",
        line=number,
    )


def _check_header(line: str) -> list[Problem]:
    fields, problem = _split(1, line, HEADER_WIDTHS)
    if problem is not None:
        return [problem]
    if fields["format_id"] != FORMAT_ID or fields["version"] != FORMAT_VERSION:
        return [_missing_header()]
    created = fields["created_on"]
    if not (created.isascii() and created.isdigit() and _is_date(created)):
        return [
            Problem(
                f"ヘッダレコードの作成日が正しくありません（{created!r}、YYYYMMDD）",
                f"the header record's creation date is not a date ({created!r}, YYYYMMDD)",
                line=1,
            )
        ]
    return []


def _check_trailer(number: int, line: str, *, data_records: int) -> list[Problem]:
    fields, problem = _split(number, line, TRAILER_WIDTHS)
    if problem is not None:
        return [problem]
    count = fields["count"]
    if not (count.isascii() and count.isdigit()):
        return [
            Problem(
                f"トレーラレコードの件数が数字{COUNT_DIGITS}桁ではありません（{count!r}）",
                f"the trailer's record count is not {COUNT_DIGITS} digits ({count!r})",
                line=number,
            )
        ]
    if int(count) != data_records:
        return [
            Problem(
                f"トレーラレコードの件数（{int(count)}件）がデータレコードの数（{data_records}件）と合いません。"
                "ファイルが途中で切れているか、余分なレコードがあります",
                f"the trailer says {int(count)} record(s) but the file has {data_records} data record(s): "
                "the file is cut short or has extra records",
                line=number,
            )
        ]
    return []


def _data_record(number: int, line: str) -> tuple[RawRecord | None, Problem | None]:
    fields, problem = _split(number, line, DATA_WIDTHS)
    if problem is not None:
        return None, problem
    del fields["record_type"]
    return RawRecord(number, {name: value.rstrip(_PADDING) for name, value in fields.items()}), None


def _split(
    number: int, line: str, widths: tuple[tuple[str, int], ...]
) -> tuple[dict[str, str], Problem | None]:
    """The record cut into its fields by Shift_JIS byte widths, or the problem with its width."""
    size = _width(line)
    if size != RECORD_BYTES:
        return {}, Problem(
            f"レコードの長さが{size}バイトです（{RECORD_BYTES}バイトにしてください。全角文字は2バイトと数えます）",
            f"the record is {size} bytes long, it must be {RECORD_BYTES} (a full-width character counts 2)",
            line=number,
        )
    fields: dict[str, str] = {}
    try:
        encoded = line.encode(CP932)
    except UnicodeEncodeError:
        return _split_by_characters(number, line, widths)
    start = 0
    for name, width in widths:
        try:
            fields[name] = encoded[start : start + width].decode(CP932)
        except UnicodeDecodeError:
            return {}, _cut_character(number, name)
        start += width
    return fields, None


def _split_by_characters(
    number: int, line: str, widths: tuple[tuple[str, int], ...]
) -> tuple[dict[str, str], Problem | None]:
    """The slow way, for UTF-8 lines with characters Shift_JIS lacks: count each character's width."""
    fields: dict[str, str] = {}
    position = 0
    for name, width in widths:
        taken = 0
        end = position
        while taken < width:
            taken += _char_width(line[end])
            end += 1
        if taken != width:
            return {}, _cut_character(number, name)
        fields[name] = line[position:end]
        position = end
    return fields, None


def _cut_character(number: int, name: str) -> Problem:
    return Problem(
        "項目の境目で全角文字が分断されています（項目の桁数が正しくありません）",
        "a full-width character is cut at the end of the field (the field widths are wrong)",
        line=number,
        field=name,
    )


def _width(line: str) -> int:
    """Shift_JIS bytes of the line: ASCII and half-width katakana 1, any other character 2."""
    try:
        return len(line.encode(CP932))
    except UnicodeEncodeError:
        return sum(_char_width(char) for char in line)


def _char_width(char: str) -> int:
    code = ord(char)
    return 1 if code < 0x80 or 0xFF61 <= code <= 0xFF9F else 2


def _is_date(digits: str) -> bool:
    try:
        dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


# --- writing (the reference for converters, and test data) ---------------------------------------------


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
    size = _width(value)
    if size > width:
        raise ValueError(f"{value[:20]!r} is {size} bytes, wider than its field ({width})")
    return value + " " * (width - size)
