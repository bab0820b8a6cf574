"""The old booking system's export as a format (SO-20): a folder of CSV files → tables of cells, and the
cells' raw fields as text, codes, dates, times, phone numbers and e-mail addresses.

The files and their rules are described for the municipality's IT staff and the old vendor in
docs/formats/legacy-import.md; keep the two in step. Only the outside format lives here: what the values mean
in Madoguchi (card states, reservation numbers and passwords, booking outcomes, the settings and their mail
placeholders) is read by booking.migration.parsing on top of this module, and what needs the tenant's data
(places and cards already there, capacities) by booking.migration.importer, which writes. Pure: no database.

Every message is Japanese first, then English. A file that cannot be read at all (missing, wrong encoding,
wrong header) stops everything (LegacyImportError); a wrong cell is a *rejection* (a Problem naming its file,
line and column), and the other rows are still checked, so one run shows the whole picture.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from booking.lib.dates import TOKYO, date_parts, plausible_day
from booking.lib.digits import whole_number
from booking.lib.japanese import nfkc
from booking.lib.phone import phone_number
from integrations.card_fields import INVISIBLE_CATEGORIES, InvalidField, visible_text
from integrations.jlis import CsvError, csv_records

T = TypeVar("T")

SETTINGS, PLACES, CARDS, BOOKINGS = "settings.csv", "places.csv", "cards.csv", "bookings.csv"
FILES = (SETTINGS, PLACES, CARDS, BOOKINGS)
REQUIRED_FILES = (CARDS, BOOKINGS)
# (required columns, optional columns) of each file; any other column is refused.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    SETTINGS: (("key", "value"), ()),
    PLACES: (
        ("code", "name", "address"),
        ("name_en", "kind", "starts_on", "ends_on", "bookable_from", "bookable_until"),
    ),
    CARDS: (
        (
            "application_id",
            "reservation_number",
            "password",
            "name",
            "name_kana",
            "birth_date",
            "postal_code",
            "address",
            "state",
        ),
        ("notice_sent_on", "state_changed_at"),
    ),
    BOOKINGS: (
        ("place", "date", "start", "status"),
        (
            "reservation_number",
            "caller_name_kana",
            "service",
            "end",
            "channel",
            "contact_phone",
            "contact_email",
            "created_at",
            "cancelled_at",
            "outcome_at",
        ),
    ),
}
MAX_TEXT = 5000
ENCODINGS = (("utf-8-sig", "UTF-8"), ("cp932", "Shift_JIS"))

_CODE_RE = re.compile(r"[-a-zA-Z0-9_]{1,40}")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([+-][0-9:]+|Z)?"
)


# --- problems ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A rejection or a warning: which file, line (1 = header) and column, and why (ja / en)."""

    file: str
    line: int | None
    field: str
    ja: str
    en: str

    def __str__(self) -> str:
        if self.line is None:
            where_ja = where_en = self.file
        else:
            where_ja, where_en = f"{self.file} {self.line}行目", f"{self.file} line {self.line}"
        column = f" {self.field}" if self.field else ""
        return f"{where_ja}{column}: {self.ja} / {where_en}{column}: {self.en}"

    @property
    def sort_key(self) -> tuple[int, int, str, str]:
        order = FILES.index(self.file) if self.file in FILES else len(FILES)
        return (order, self.line or 0, self.field, self.ja)


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """In the order of the files, then lines: the order every report shows them in."""
    return sorted(problems, key=_key)


def _key(problem: Problem) -> tuple[int, int, str, str]:
    return problem.sort_key


class LegacyImportError(Exception):
    """The folder cannot be imported at all (a file missing or unreadable); nothing was looked at further."""

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        count = len(self.problems)
        head = f"{count}件の問題のため取り込めません / cannot import: {count} problem(s)"
        return "\n".join([head, *(str(problem) for problem in sorted_problems(self.problems))])


# --- reading the folder --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One file: its encoding, its header's column names (lower case) and its data records by line."""

    name: str
    encoding: str  # "UTF-8" or "Shift_JIS"
    columns: tuple[str, ...]
    records: list[tuple[int, list[str]]]


def read_tables(directory: Path) -> dict[str, Table]:
    """Every file of the set that is in `directory`, by name; LegacyImportError if any cannot be read."""
    if not directory.is_dir():
        raise LegacyImportError(
            Problem(str(directory), None, "", "フォルダがありません", "no such directory")
        )
    problems: list[Problem] = []
    try:
        present = {path.name: path for path in directory.iterdir() if path.is_file()}
    except OSError as exc:
        raise LegacyImportError(
            Problem(
                str(directory), None, "", f"読めません（{exc.strerror}）", f"cannot read ({exc.strerror})"
            )
        ) from exc
    for name in sorted(present):
        if name.lower().endswith(".csv") and name not in FILES:
            problems.append(
                Problem(
                    name,
                    None,
                    "",
                    f"不明なファイルです（使えるのは {', '.join(FILES)}。名前は小文字で）",
                    f"unknown file (the files are {', '.join(FILES)}, in lower case)",
                )
            )
    for name in REQUIRED_FILES:
        if name not in present:
            problems.append(Problem(name, None, "", "必要なファイルがありません", "required file is missing"))
    tables: dict[str, Table] = {}
    for name in FILES:
        if name in present:
            try:
                tables[name] = _table(name, present[name].read_bytes())
            except LegacyImportError as exc:
                problems.extend(exc.problems)
            except OSError as exc:
                problems.append(
                    Problem(name, None, "", f"読めません（{exc.strerror}）", f"cannot read ({exc.strerror})")
                )
    if problems:
        raise LegacyImportError(problems)
    return tables


def decode(name: str, data: bytes) -> tuple[str, str]:
    """(text, encoding label): UTF-8 (a BOM is fine) or else Shift_JIS (Windows' cp932)."""
    for codec, label in ENCODINGS:
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    raise LegacyImportError(
        Problem(
            name,
            None,
            "",
            "文字コードが UTF-8 でも Shift_JIS でもありません",
            "the encoding is neither UTF-8 nor Shift_JIS",
        )
    )


def _table(name: str, data: bytes) -> Table:
    text, encoding = decode(name, data)
    try:
        records = csv_records(text)
    except CsvError as exc:
        raise LegacyImportError(Problem(name, exc.line, "", exc.ja, exc.en)) from exc
    if not records:
        raise LegacyImportError(
            Problem(
                name,
                None,
                "",
                "ファイルが空です（見出し行が必要です）",
                "the file is empty (a header line is needed)",
            )
        )
    (header_line, header), *body = records
    return Table(name, encoding, _header(name, header_line, header), body)


def _header(name: str, line: int, header: list[str]) -> tuple[str, ...]:
    required, optional = COLUMNS[name]
    names = tuple(cell.strip().lower() for cell in header)
    problems = []
    missing = [column for column in required if column not in names]
    if missing:
        listed = ", ".join(missing)
        problems.append(Problem(name, line, "", f"列がありません: {listed}", f"missing column(s): {listed}"))
    unknown = [
        cell or f"({n}列目: 空欄)" for n, cell in enumerate(names, 1) if cell not in required + optional
    ]
    if unknown:
        listed = ", ".join(unknown)
        problems.append(Problem(name, line, "", f"不明な列です: {listed}", f"unknown column(s): {listed}"))
    repeated = sorted({cell for cell in names if cell and names.count(cell) > 1})
    if repeated:
        listed = ", ".join(repeated)
        problems.append(
            Problem(name, line, "", f"同じ列が複数あります: {listed}", f"repeated column(s): {listed}")
        )
    if problems:
        raise LegacyImportError(problems)
    return names


# --- one row at a time ----------------------------------------------------------------------------------


class Row:
    """The cells of one record by column name; each read cleans a cell or records why it cannot."""

    def __init__(self, table: Table, line: int, cells: list[str]) -> None:
        self.file = table.name
        self.line = line
        self.cells = dict(zip(table.columns, cells, strict=False))
        self.problems: list[Problem] = []

    def get(self, column: str, clean: Callable[[str], T], *, required: bool = False) -> T | None:
        try:
            text = visible_text(self.cells.get(column, ""))
            if not text:
                if required:
                    raise InvalidField("入力されていません", "is required")
                return None
            return clean(text)
        except InvalidField as bad:
            self.reject(column, bad.ja, bad.en)
            return None

    def text(self, column: str, clean: Callable[[str], str] = str, *, required: bool = False) -> str:
        return self.get(column, clean, required=required) or ""

    def given(self, column: str) -> bool:
        """Whether the cell holds anything but spaces (before it is cleaned)."""
        return bool(self.cells.get(column, "").strip())

    def reject(self, column: str, ja: str, en: str) -> None:
        self.problems.append(Problem(self.file, self.line, column, ja, en))


def read_rows(table: Table | None, parse: Callable[[Row], T | None], rejections: list[Problem]) -> list[T]:
    """`parse` of every record of the table whose cells all read; a record with the wrong number of cells,
    and every problem `parse` records, go to `rejections`."""
    if table is None:
        return []
    width = len(table.columns)
    parsed: list[T] = []
    for line, cells in table.records:
        if len(cells) != width:
            rejections.append(
                Problem(
                    table.name,
                    line,
                    "",
                    f"列の数が見出しと合いません（{len(cells)}列、見出しは{width}列）",
                    f"has {len(cells)} cells, the header has {width}",
                )
            )
            continue
        row = Row(table, line, cells)
        value = parse(row)
        rejections.extend(row.problems)
        if value is not None and not row.problems:
            parsed.append(value)
    return parsed


# --- the fields (each: stripped, non-empty text in; the value out, or InvalidField) ---------------------


def multiline_text(raw: str) -> str:
    """Texts may span lines (a quoted cell); other control characters are still refused."""
    if any(unicodedata.category(char) in INVISIBLE_CATEGORIES and char != "\n" for char in raw):
        raise InvalidField(
            "タブなどの制御文字や見えない文字は使えません", "contains a tab or other invisible character"
        )
    return raw.strip()


def clean_code(text: str) -> str:
    if not _CODE_RE.fullmatch(text):
        raise InvalidField(
            "英数字・ハイフン・アンダースコアの40文字以内で入力してください",
            "must be at most 40 letters, digits, hyphens or underscores",
        )
    return text


def within(limit: int) -> Callable[[str], str]:
    def clean(text: str) -> str:
        if len(text) > limit:
            raise InvalidField(
                f"{limit}文字以内にしてください（{len(text)}文字）", f"longer than {limit} characters"
            )
        return text

    return clean


def choice(aliases: dict[str, str]) -> Callable[[str], str]:
    """One of the values of `aliases`, written as any of its keys (full-width or any case is fine)."""

    def clean(text: str) -> str:
        normal = nfkc(text).strip()
        value = aliases.get(normal) or aliases.get(normal.lower())
        if value is None:
            listed = ", ".join(sorted(set(aliases.values()), key=list(aliases.values()).index))
            raise InvalidField(
                f"使えない値です: {text}（使えるのは {listed}）", f"unknown value {text!r} (one of {listed})"
            )
        return value

    return clean


def clean_date(text: str) -> dt.date:
    value = nfkc(text)
    parts = date_parts(value)
    if parts is None:
        raise InvalidField("日付の形式が正しくありません（YYYY-MM-DD）", "not a date (YYYY-MM-DD)")
    try:
        day = dt.date(*parts)
    except ValueError as exc:
        raise InvalidField(f"存在しない日付です（{value}）", f"no such date ({value})") from exc
    if not plausible_day(day):
        raise InvalidField("2000年から2099年の日付にしてください", "must be between 2000 and 2099")
    return day


def clean_past_date(text: str, today: dt.date) -> dt.date:
    day = clean_date(text)
    if day > today:
        raise InvalidField(f"未来の日付です（{day}）", f"is in the future ({day})")
    return day


def clean_time(text: str) -> dt.time:
    match = _TIME_RE.fullmatch(nfkc(text))
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidField("時刻の形式が正しくありません（HH:MM）", "not a time (HH:MM)")
    return dt.time(int(match[1]), int(match[2]))


def clean_datetime(text: str) -> dt.datetime:
    """A time without an offset is Japan's (the old system ran in Japan)."""
    value = nfkc(text)
    if not _DATETIME_RE.fullmatch(value):
        raise InvalidField(
            "日時の形式が正しくありません（YYYY-MM-DD HH:MM[:SS]）",
            "not a date and time (YYYY-MM-DD HH:MM[:SS])",
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"存在しない日時です（{value}）", f"no such date and time ({value})") from exc
    if not plausible_day(moment.date()):
        raise InvalidField("2000年から2099年の日時にしてください", "must be between 2000 and 2099")
    return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)


def clean_past_datetime(text: str, today: dt.date) -> dt.datetime:
    moment = clean_datetime(text)
    if moment.astimezone(TOKYO).date() > today:
        raise InvalidField("未来の日時です", "is in the future")
    return moment


def clean_phone(text: str) -> str:
    digits = phone_number(text)
    if digits is None:
        raise InvalidField(
            "0から始まる10桁または11桁の電話番号にしてください", "must be 10 or 11 digits starting with 0"
        )
    return digits


def clean_email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError as exc:
        raise InvalidField("メールアドレスの形式が正しくありません", "not an e-mail address") from exc
    if len(text) > 254:
        raise InvalidField("254文字以内にしてください", "longer than 254 characters")
    return text


def clean_emails(text: str) -> str:
    """One e-mail address a line."""
    for line in text.splitlines():
        if line.strip():
            clean_email(line.strip())
    return text


def int_between(low: int, high: int) -> Callable[[str], int]:
    def clean(text: str) -> int:
        # ASCII digits after NFKC: isdigit() also passes "⓵", on which int() raises instead of refusing.
        value = whole_number(nfkc(text))
        if value is None or not low <= value <= high:
            raise InvalidField(
                f"{low}〜{high}の整数にしてください", f"must be a whole number from {low} to {high}"
            )
        return value

    return clean


def clean_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise InvalidField(f"{MAX_TEXT}文字以内にしてください", f"longer than {MAX_TEXT} characters")
    return text


def template_fields(text: str) -> list[tuple[str, str, str]]:
    """The `{name}` fields of a text with Python's format syntax, as (name, format spec, conversion); a text
    whose braces do not pair is refused. Which names may be used is the caller's (its domain's) business."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidField(
            "波かっこ { } の対応が正しくありません（文字の { } は {{ }} と書きます）",
            "unbalanced braces { } (write {{ and }} for the characters)",
        ) from exc
    return [
        (name, spec or "", conversion or "") for _literal, name, spec, conversion in parts if name is not None
    ]
