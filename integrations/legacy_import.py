"""Reading the old booking system's data (SO-20): a folder of CSV files → typed rows and numbered problems.

The files and their rules are described for the municipality's IT staff and the old vendor in
docs/formats/legacy-import.md; keep the two in step. Pure: no database. What needs the tenant's data (places
and cards already there, capacities) is checked by booking.migration_import, which writes.

Every message is Japanese first, then English. A file that cannot be read at all (missing, wrong encoding,
wrong header) stops everything (LegacyImportError); a wrong row is a *rejection*: it is named with its file,
line and column, and the other rows are still checked, so one run shows the whole picture.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from booking import credentials
from booking.lifecycle.states import CardState
from booking.notifications import PLACEHOLDERS
from integrations import card_fields
from integrations.card_fields import INVISIBLE_CATEGORIES, InvalidField, visible_text
from integrations.jlis import CsvError, csv_records

TOKYO = ZoneInfo("Asia/Tokyo")
T = TypeVar("T")


class _Lined(Protocol):
    @property
    def line(self) -> int: ...


R = TypeVar("R", bound=_Lined)

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
DEFAULT_SERVICE = "card_issuance"
PASSWORD_MIN, PASSWORD_MAX = 4, 64
MAX_TEXT = 5000
ENCODINGS = (("utf-8-sig", "UTF-8"), ("cp932", "Shift_JIS"))

# Booking outcomes as the file gives them: the Booking's status, plus the visit's outcome.
CONFIRMED, CANCELLED, VISITED, NO_SHOW = "confirmed", "cancelled", "visited", "no_show"
STATUSES = (CONFIRMED, VISITED, NO_SHOW, CANCELLED)
_STATUS_ALIASES = {
    **{status: status for status in STATUSES},
    "予約済み": CONFIRMED,
    "予約中": CONFIRMED,
    "取消": CANCELLED,
    "取消済み": CANCELLED,
    "来庁": VISITED,
    "来庁（交付済み）": VISITED,
    "交付済み": VISITED,
    "来庁なし": NO_SHOW,
}
_CHANNEL_ALIASES = {"web": "web", "phone": "phone", "ウェブ": "web", "電話": "phone"}
_KIND_ALIASES = {
    "center": "center",
    "certificate_corner": "certificate_corner",
    "ward_office": "ward_office",
    "other": "other",
    "センター": "center",
    "証明書発行コーナー": "certificate_corner",
    "区役所・支所": "ward_office",
    "その他": "other",
}
_REQUIREMENT_ALIASES = {
    "required": "required",
    "optional": "optional",
    "hidden": "hidden",
    "必須": "required",
    "任意": "optional",
    "表示しない": "hidden",
}
_CODE_RE = re.compile(r"[-a-zA-Z0-9_]{1,40}")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([+-][0-9:]+|Z)?"
)
_PHONE_RE = re.compile(r"0[0-9]{9,10}")
_PHONE_SEPARATORS = re.compile(r"[\s\-‐－ー()（）]")
_PASSWORD_RE = re.compile(r"[\x21-\x7e]+")
EARLIEST_DAY, LATEST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


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


class LegacyImportError(Exception):
    """The folder cannot be imported at all (a file missing or unreadable); nothing was looked at further."""

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        count = len(self.problems)
        head = f"{count}件の問題のため取り込めません / cannot import: {count} problem(s)"
        return "\n".join([head, *(str(problem) for problem in sorted(self.problems, key=_key))])


def _key(problem: Problem) -> tuple[int, int, str, str]:
    return problem.sort_key


# --- rows ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingRow:
    line: int
    key: str
    value: Any


@dataclass(frozen=True)
class PlaceRow:
    line: int
    code: str
    name: str
    address: str
    name_en: str
    kind: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    bookable_from: dt.date | None
    bookable_until: dt.date | None


@dataclass(frozen=True)
class CardRow:
    line: int
    application_id: str
    reservation_number: str
    password: str = field(repr=False)  # as printed on the letter; only its HMAC is ever stored
    name: str
    name_kana: str
    birth_date: dt.date
    postal_code: str
    address: str
    state: str
    notice_sent_on: dt.date | None
    state_changed_at: dt.datetime | None


@dataclass(frozen=True)
class BookingRow:
    """One booking; `reservation_number` for a card's booking, else the caller's kana and phone (BK-11)."""

    line: int
    reservation_number: str
    caller_name_kana: str
    place: str
    service: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    status: str  # confirmed / visited / no_show / cancelled
    channel: str
    contact_phone: str
    contact_email: str
    created_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    outcome_at: dt.datetime | None

    @property
    def day(self) -> dt.date:
        return self.starts_at.astimezone(TOKYO).date()


@dataclass(frozen=True)
class SourceFile:
    name: str
    encoding: str  # "UTF-8" or "Shift_JIS"; "" for a file that is not there
    rows: int


@dataclass
class LegacyData:
    """What the folder holds: accepted rows per kind, rejections and warnings, and the source's own counts."""

    directory: Path
    files: list[SourceFile]
    settings: list[SettingRow]
    places: list[PlaceRow]
    cards: list[CardRow]
    bookings: list[BookingRow]
    rejections: list[Problem]
    warnings: list[Problem]
    # Per day and status, every booking row whose date and status could be read (rejected ones too): the
    # source side of the reconciliation, counted before anything else looks at the rows.
    source_days: Counter[tuple[dt.date, str]]

    def source_rows(self, name: str) -> int:
        return next((file.rows for file in self.files if file.name == name), 0)


# --- reading the folder --------------------------------------------------------------------------------


def read_directory(directory: Path, *, today: dt.date) -> LegacyData:
    """Read and check every file in `directory`; LegacyImportError if any file cannot be read at all."""
    tables = _read_tables(directory)
    reader = _Reader(today)
    settings = reader.rows(tables.get(SETTINGS), SETTINGS, reader.setting)
    places = reader.rows(tables.get(PLACES), PLACES, reader.place)
    cards = reader.rows(tables.get(CARDS), CARDS, reader.card)
    bookings = reader.rows(tables.get(BOOKINGS), BOOKINGS, reader.booking)
    settings = _unique(settings, SETTINGS, "key", lambda row: row.key, reader.rejections)
    places = _unique(places, PLACES, "code", lambda row: row.code, reader.rejections)
    cards = _unique(cards, CARDS, "application_id", lambda row: row.application_id, reader.rejections)
    cards = _unique(cards, CARDS, "reservation_number", lambda row: row.reservation_number, reader.rejections)
    cards, bookings = _consistent(cards, bookings, reader, tables.get(CARDS))
    files = [
        SourceFile(name, tables[name].encoding, len(tables[name].records))
        if name in tables
        else SourceFile(name, "", 0)
        for name in FILES
    ]
    return LegacyData(
        directory=directory,
        files=files,
        settings=settings,
        places=places,
        cards=cards,
        bookings=bookings,
        rejections=sorted(reader.rejections, key=_key),
        warnings=sorted(reader.warnings, key=_key),
        source_days=reader.source_days,
    )


@dataclass(frozen=True)
class _Table:
    name: str
    encoding: str
    columns: tuple[str, ...]
    records: list[tuple[int, list[str]]]


def _read_tables(directory: Path) -> dict[str, _Table]:
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
    tables: dict[str, _Table] = {}
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


def _table(name: str, data: bytes) -> _Table:
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
    return _Table(name, encoding, _header(name, header_line, header), body)


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


class _Row:
    """The cells of one record by column name; each read cleans a cell or records why it cannot."""

    def __init__(self, table: _Table, line: int, cells: list[str]) -> None:
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

    def reject(self, column: str, ja: str, en: str) -> None:
        self.problems.append(Problem(self.file, self.line, column, ja, en))


class _Reader:
    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.rejections: list[Problem] = []
        self.warnings: list[Problem] = []
        self.source_days: Counter[tuple[dt.date, str]] = Counter()

    def rows(self, table: _Table | None, name: str, parse: Callable[[_Row], T | None]) -> list[T]:
        if table is None:
            return []
        width = len(table.columns)
        parsed: list[T] = []
        for line, cells in table.records:
            if len(cells) != width:
                self.rejections.append(
                    Problem(
                        name,
                        line,
                        "",
                        f"列の数が見出しと合いません（{len(cells)}列、見出しは{width}列）",
                        f"has {len(cells)} cells, the header has {width}",
                    )
                )
                continue
            row = _Row(table, line, cells)
            value = parse(row)
            self.rejections.extend(row.problems)
            if value is not None and not row.problems:
                parsed.append(value)
        return parsed

    # settings.csv

    def setting(self, row: _Row) -> SettingRow | None:
        key = row.text("key", str.strip, required=True).lower()
        if not key:
            return None
        spec = _SETTINGS.get(key)
        if spec is None:
            listed = ", ".join(_SETTINGS)
            row.reject(
                "key", f"不明な設定項目です（使えるのは {listed}）", f"unknown setting (known: {listed})"
            )
            return None
        clean, may_be_empty = spec
        raw = row.cells.get("value", "").replace("\r\n", "\n").replace("\r", "\n")
        try:
            value = _multiline(raw) if key in _TEXT_SETTINGS else visible_text(raw)
            if not value.strip():
                if not may_be_empty:
                    raise InvalidField("入力されていません", "is required")
                return SettingRow(row.line, key, None if key == "bookable_until" else "")
            parsed = clean(value)
            if key == "bookable_until" and parsed < self.today:
                raise InvalidField("過去の日付です", "is in the past")
        except InvalidField as bad:
            row.reject("value", f"{key}: {bad.ja}", f"{key}: {bad.en}")
            return None
        return SettingRow(row.line, key, parsed)

    # places.csv

    def place(self, row: _Row) -> PlaceRow | None:
        code = row.text("code", _code, required=True)
        name = row.text("name", _within(100), required=True)
        address = row.text("address", _within(200), required=True)
        name_en = row.text("name_en", _within(150))
        kind = row.text("kind", _choice(_KIND_ALIASES)) or "ward_office"
        starts_on, ends_on = row.get("starts_on", _date), row.get("ends_on", _date)
        bookable_from, bookable_until = row.get("bookable_from", _date), row.get("bookable_until", _date)
        if starts_on and ends_on and ends_on < starts_on:
            row.reject("ends_on", "実施開始日より前です", "is before starts_on")
        if bookable_from and bookable_until and bookable_until < bookable_from:
            row.reject("bookable_until", "予約受付開始日より前です", "is before bookable_from")
        if row.problems:
            return None
        return PlaceRow(
            line=row.line,
            code=code,
            name=name,
            address=address,
            name_en=name_en,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            bookable_from=bookable_from,
            bookable_until=bookable_until,
        )

    # cards.csv

    def card(self, row: _Row) -> CardRow | None:
        application_id = row.text("application_id", card_fields.clean_application_id, required=True)
        number = row.text("reservation_number", _reservation_number, required=True)
        password = row.text("password", _password, required=True)
        name = row.text("name", card_fields.clean_name, required=True)
        name_kana = row.text("name_kana", card_fields.clean_name_kana, required=True)
        birth_date = row.get("birth_date", self._birth_date, required=True)
        postal_code = row.text("postal_code", card_fields.clean_postal_code, required=True)
        address = row.text("address", card_fields.clean_address, required=True)
        state = row.text("state", _choice(_CARD_STATE_ALIASES), required=True)
        notice_sent_on = row.get("notice_sent_on", self._past_date)
        state_changed_at = row.get("state_changed_at", self._past_datetime)
        if notice_sent_on and state in {CardState.RECEIVED, CardState.SET_UP}:
            row.reject(
                "notice_sent_on",
                f"状態「{CardState(state).label}」（通知書の送付前）のカードに通知書送付日があります",
                f"a card in state {state} (before the notice) cannot have a notice date",
            )
        if row.problems or birth_date is None:
            return None
        return CardRow(
            line=row.line,
            application_id=application_id,
            reservation_number=number,
            password=password,
            name=name,
            name_kana=name_kana,
            birth_date=birth_date,
            postal_code=postal_code,
            address=address,
            state=state,
            notice_sent_on=notice_sent_on,
            state_changed_at=state_changed_at,
        )

    def _birth_date(self, text: str) -> dt.date:
        return card_fields.clean_birth_date(text, self.today)

    def _past_date(self, text: str) -> dt.date:
        day = _date(text)
        if day > self.today:
            raise InvalidField(f"未来の日付です（{day}）", f"is in the future ({day})")
        return day

    def _past_datetime(self, text: str) -> dt.datetime:
        moment = _datetime(text)
        if moment.astimezone(TOKYO).date() > self.today:
            raise InvalidField("未来の日時です", "is in the future")
        return moment

    # bookings.csv

    def booking(self, row: _Row) -> BookingRow | None:
        day = row.get("date", _date, required=True)
        status = row.get("status", _choice(_STATUS_ALIASES), required=True)
        if day is not None and status is not None:
            self.source_days[(day, status)] += 1
        number = row.text("reservation_number", _reservation_number)
        kana = row.text("caller_name_kana", card_fields.clean_name_kana)
        phone = row.text("contact_phone", _phone)
        service = row.text("service", _code)
        start, end = row.get("start", _time, required=True), row.get("end", _time)
        place = row.text("place", _code, required=True)
        channel = row.text("channel", _choice(_CHANNEL_ALIASES))
        email = row.text("contact_email", _email)
        created_at = row.get("created_at", self._past_datetime)
        cancelled_at = row.get("cancelled_at", self._past_datetime)
        outcome_at = row.get("outcome_at", self._past_datetime)
        _identity(row)
        if row.problems or day is None or status is None or start is None:
            return None
        booking = BookingRow(
            line=row.line,
            reservation_number=number,
            caller_name_kana=kana,
            place=place,
            service=service or DEFAULT_SERVICE,
            starts_at=dt.datetime.combine(day, start, tzinfo=TOKYO),
            ends_at=dt.datetime.combine(day, end, tzinfo=TOKYO) if end else None,
            status=status,
            channel=channel or ("web" if number else "phone"),
            contact_phone=phone,
            contact_email=email,
            created_at=created_at,
            cancelled_at=cancelled_at,
            outcome_at=outcome_at,
        )
        self._booking_rules(row, booking)
        return None if row.problems else booking

    def _booking_rules(self, row: _Row, booking: BookingRow) -> None:
        if booking.ends_at is not None and booking.ends_at <= booking.starts_at:
            row.reject("end", "開始時刻より後にしてください", "must be after start")
        if booking.status == CANCELLED and booking.cancelled_at is None:
            row.reject(
                "cancelled_at", "取消の予約には取消日時が必要です", "is required for a cancelled booking"
            )
        if booking.status != CANCELLED and booking.cancelled_at is not None:
            row.reject(
                "cancelled_at", "取消でない予約に取消日時があります", "only a cancelled booking has one"
            )
        if booking.status not in {VISITED, NO_SHOW} and booking.outcome_at is not None:
            row.reject(
                "outcome_at", "来庁結果のない予約に記録日時があります", "only a visit's outcome has one"
            )
        if booking.status in {VISITED, NO_SHOW} and booking.day > self.today:
            row.reject("status", "未来の予約に来庁結果があります", "a future booking cannot have an outcome")
        if booking.created_at and booking.cancelled_at and booking.cancelled_at < booking.created_at:
            row.reject("cancelled_at", "予約日時より前です", "is before created_at")
        if booking.status == CONFIRMED and booking.day < self.today:
            self.warnings.append(
                Problem(
                    BOOKINGS,
                    row.line,
                    "status",
                    "過去の日の予約で来庁結果がありません（移行後に窓口で記録してください）",
                    "a past booking without an outcome (record it at the counter after the migration)",
                )
            )


def _identity(row: _Row) -> None:
    """A card's booking names its reservation number; a caller's visit (BK-11) the kana name and phone."""

    def given(column: str) -> bool:
        return bool(row.cells.get(column, "").strip())

    if given("reservation_number"):
        if given("caller_name_kana"):
            row.reject(
                "caller_name_kana",
                "予約番号のある予約には caller_name_kana を入れないでください",
                "leave caller_name_kana empty when there is a reservation_number",
            )
        return
    if not given("caller_name_kana") or not given("contact_phone"):
        row.reject(
            "reservation_number",
            "予約番号か、予約番号のない来庁者の caller_name_kana と contact_phone が必要です",
            "needs a reservation_number, or caller_name_kana and contact_phone for a caller without one",
        )
    if not given("service"):
        row.reject("service", "予約番号のない来庁者の予約にはサービスが必要です", "is required for a caller")


# --- checks across rows ---------------------------------------------------------------------------------


def _unique(
    rows: list[R], name: str, column: str, key: Callable[[R], str], problems: list[Problem]
) -> list[R]:
    """Rows whose key was seen on an earlier line are rejected, naming that line."""
    first: dict[str, int] = {}
    kept = []
    for row in rows:
        value, line = key(row), row.line
        if value in first:
            problems.append(
                Problem(
                    name, line, column, f"{first[value]}行目と重複しています", f"same as line {first[value]}"
                )
            )
        else:
            first[value] = line
            kept.append(row)
    return kept


def _consistent(
    cards: list[CardRow], bookings: list[BookingRow], reader: _Reader, card_table: _Table | None
) -> tuple[list[CardRow], list[BookingRow]]:
    """Card states and booking outcomes must tell the same story; a card that does not is rejected with its
    bookings, and every booking needs its card in cards.csv."""
    known_lines = _card_lines_in_file(card_table)
    by_number = {card.reservation_number: card for card in cards}
    kept_bookings: list[BookingRow] = []
    per_card: dict[str, list[BookingRow]] = {}
    for booking in bookings:
        if not booking.reservation_number:
            kept_bookings.append(booking)
        elif booking.reservation_number in by_number:
            per_card.setdefault(booking.reservation_number, []).append(booking)
        elif booking.reservation_number in known_lines:
            line = known_lines[booking.reservation_number]
            reader.rejections.append(_card_rejected(booking, line))
        else:
            reader.rejections.append(
                Problem(
                    BOOKINGS,
                    booking.line,
                    "reservation_number",
                    "この予約番号のカードが cards.csv にありません",
                    "no card with this reservation number in cards.csv",
                )
            )
    kept_cards: list[CardRow] = []
    for card in cards:
        own = per_card.get(card.reservation_number, [])
        own, problems = _second_bookings(own)
        reader.rejections.extend(problems)
        reason = _state_conflict(card, own)
        if reason is None:
            kept_cards.append(card)
            kept_bookings.extend(own)
            continue
        reader.rejections.append(Problem(CARDS, card.line, "state", *reason))
        reader.rejections.extend(_card_rejected(booking, card.line) for booking in own)
    kept_bookings.sort(key=lambda booking: booking.line)
    return kept_cards, kept_bookings


def _card_lines_in_file(table: _Table | None) -> dict[str, int]:
    """Reservation number → line for every card row of the file, readable or not (to name the card's line)."""
    if table is None or "reservation_number" not in table.columns:
        return {}
    position = table.columns.index("reservation_number")
    lines: dict[str, int] = {}
    for line, cells in table.records:
        number = credentials.normalise_reservation_number(cells[position]) if position < len(cells) else ""
        if number:
            lines.setdefault(number, line)
    return lines


def _card_rejected(booking: BookingRow, card_line: int) -> Problem:
    return Problem(
        BOOKINGS,
        booking.line,
        "reservation_number",
        f"カード（cards.csv {card_line}行目）を取り込めないため、この予約も取り込めません",
        f"its card (cards.csv line {card_line}) is rejected, so this booking is too",
    )


def _second_bookings(bookings: list[BookingRow]) -> tuple[list[BookingRow], list[Problem]]:
    """A card has at most one confirmed booking and is handed over at most once: later lines are rejected."""
    kept: list[BookingRow] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for booking in bookings:
        if booking.status in {CONFIRMED, VISITED} and booking.status in first:
            earlier = first[booking.status]
            ja, en = (
                (
                    f"このカードには{earlier}行目にも予約中の予約があります",
                    f"the card has a confirmed booking on line {earlier} too",
                )
                if booking.status == CONFIRMED
                else (
                    f"このカードは{earlier}行目でも交付済みです",
                    f"the card was handed over on line {earlier} too",
                )
            )
            problems.append(Problem(BOOKINGS, booking.line, "status", ja, en))
            continue
        first.setdefault(booking.status, booking.line)
        kept.append(booking)
    return kept, problems


def _state_conflict(card: CardRow, bookings: list[BookingRow]) -> tuple[str, str] | None:
    """Why the card's state contradicts its bookings, or None (the rules are in the format document)."""
    state = CardState(card.state)
    label, code = state.label, state.value
    confirmed = next((b for b in bookings if b.status == CONFIRMED), None)
    visited = next((b for b in bookings if b.status == VISITED), None)
    if confirmed and state not in {CardState.BOOKED, CardState.MOVED}:
        where = f"bookings.csv {confirmed.line}行目", f"bookings.csv line {confirmed.line}"
        return (
            f"状態が「{label}」ですが、予約中の予約があります（{where[0]}）。予約中なら booked か moved です",
            f"state is {code} but the card has a confirmed booking ({where[1]}); then it is booked or moved",
        )
    if visited and state != CardState.HANDED_OVER:
        where = f"bookings.csv {visited.line}行目", f"bookings.csv line {visited.line}"
        return (
            f"状態が「{label}」ですが、来庁（交付済み）の予約があります（{where[0]}）。"
            "交付済みなら handed_over です",
            f"state is {code} but the card was handed over at a visit ({where[1]}); then it is handed_over",
        )
    if state in {CardState.BOOKED, CardState.MOVED} and confirmed is None:
        return (
            f"状態が「{label}」ですが、予約中の予約が bookings.csv にありません",
            f"state is {code} but bookings.csv has no confirmed booking for the card",
        )
    if state in {CardState.RECEIVED, CardState.SET_UP} and bookings:
        where = f"bookings.csv {bookings[0].line}行目", f"bookings.csv line {bookings[0].line}"
        return (
            f"状態が「{label}」（通知書の送付前）ですが、予約があります（{where[0]}）",
            f"state is {code} (before the notice) but the card has bookings ({where[1]})",
        )
    return None


# --- the fields (each: stripped, non-empty text in; the value out, or InvalidField) ---------------------


def _multiline(raw: str) -> str:
    """Texts may span lines (a quoted cell); other control characters are still refused."""
    if any(unicodedata.category(char) in INVISIBLE_CATEGORIES and char != "\n" for char in raw):
        raise InvalidField(
            "タブなどの制御文字や見えない文字は使えません", "contains a tab or other invisible character"
        )
    return raw.strip()


def _code(text: str) -> str:
    if not _CODE_RE.fullmatch(text):
        raise InvalidField(
            "英数字・ハイフン・アンダースコアの40文字以内で入力してください",
            "must be at most 40 letters, digits, hyphens or underscores",
        )
    return text


def _within(limit: int) -> Callable[[str], str]:
    def clean(text: str) -> str:
        if len(text) > limit:
            raise InvalidField(
                f"{limit}文字以内にしてください（{len(text)}文字）", f"longer than {limit} characters"
            )
        return text

    return clean


def _choice(aliases: dict[str, str]) -> Callable[[str], str]:
    def clean(text: str) -> str:
        normal = unicodedata.normalize("NFKC", text).strip()
        value = aliases.get(normal) or aliases.get(normal.lower())
        if value is None:
            listed = ", ".join(sorted(set(aliases.values()), key=list(aliases.values()).index))
            raise InvalidField(
                f"使えない値です: {text}（使えるのは {listed}）", f"unknown value {text!r} (one of {listed})"
            )
        return value

    return clean


_CARD_STATE_ALIASES = {
    **{state.value: state.value for state in CardState},
    **{str(state.label): state.value for state in CardState},
}


def _reservation_number(text: str) -> str:
    number = credentials.normalise_reservation_number(text)
    if not number:
        raise InvalidField(
            "12桁の数字ではありません（ハイフン・空白は可）",
            "must be 12 digits (hyphens and spaces are fine)",
        )
    return number


def _password(text: str) -> str:
    """As printed on the letter. Login compares it the way the citizen types it (normalise_password)."""
    value = credentials.normalise_password(text)
    if not _PASSWORD_RE.fullmatch(value) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidField(
            f"{PASSWORD_MIN}〜{PASSWORD_MAX}文字の英数字・記号にしてください",
            f"must be {PASSWORD_MIN} to {PASSWORD_MAX} ASCII letters, digits or symbols",
        )
    return text


def _date(text: str) -> dt.date:
    value = unicodedata.normalize("NFKC", text)
    if not _DATE_RE.fullmatch(value):
        raise InvalidField("日付の形式が正しくありません（YYYY-MM-DD）", "not a date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"存在しない日付です（{value}）", f"no such date ({value})") from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidField("2000年から2099年の日付にしてください", "must be between 2000 and 2099")
    return day


def _time(text: str) -> dt.time:
    match = _TIME_RE.fullmatch(unicodedata.normalize("NFKC", text))
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidField("時刻の形式が正しくありません（HH:MM）", "not a time (HH:MM)")
    return dt.time(int(match[1]), int(match[2]))


def _datetime(text: str) -> dt.datetime:
    value = unicodedata.normalize("NFKC", text)
    if not _DATETIME_RE.fullmatch(value):
        raise InvalidField(
            "日時の形式が正しくありません（YYYY-MM-DD HH:MM[:SS]）",
            "not a date and time (YYYY-MM-DD HH:MM[:SS])",
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"存在しない日時です（{value}）", f"no such date and time ({value})") from exc
    if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
        raise InvalidField("2000年から2099年の日時にしてください", "must be between 2000 and 2099")
    return moment if moment.tzinfo else moment.replace(tzinfo=TOKYO)


def _phone(text: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if not _PHONE_RE.fullmatch(digits):
        raise InvalidField(
            "0から始まる10桁または11桁の電話番号にしてください", "must be 10 or 11 digits starting with 0"
        )
    return digits


def _email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError as exc:
        raise InvalidField("メールアドレスの形式が正しくありません", "not an e-mail address") from exc
    if len(text) > 254:
        raise InvalidField("254文字以内にしてください", "longer than 254 characters")
    return text


# --- settings.csv's keys ------------------------------------------------------------------------------------


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def clean(text: str) -> int:
        value = unicodedata.normalize("NFKC", text)
        if not value.isdigit() or not low <= int(value) <= high:
            raise InvalidField(
                f"{low}〜{high}の整数にしてください", f"must be a whole number from {low} to {high}"
            )
        return int(value)

    return clean


def _mail_text(text: str) -> str:
    text = _text(text)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidField(
            "波かっこ { } の対応が正しくありません（文字の { } は {{ }} と書きます）",
            "unbalanced braces { } (write {{ and }} for the characters)",
        ) from exc
    allowed = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    for _literal, name, spec, conversion in parts:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            raise InvalidField(
                f"使えない差し込み項目 {{{name}}} があります（使えるのは {allowed}）",
                f"unknown placeholder {{{name}}} (allowed: {allowed})",
            )
    return text


def _text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise InvalidField(f"{MAX_TEXT}文字以内にしてください", f"longer than {MAX_TEXT} characters")
    return text


def _emails(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            _email(line.strip())
    return text


# key → (cleaner, whether an empty value is allowed)
_SETTINGS: dict[str, tuple[Callable[[str], Any], bool]] = {
    "first_days_ahead": (_int_between(0, 365), False),
    "bookable_until": (_date, True),
    "deadline_days_before": (_int_between(0, 60), False),
    "deadline_time": (_time, False),
    "hold_minutes": (_int_between(1, 60), False),
    "phone_requirement": (_choice(_REQUIREMENT_ALIASES), False),
    "email_requirement": (_choice(_REQUIREMENT_ALIASES), False),
    "text_top": (_text, True),
    "text_bring": (_text, False),
    "text_done": (_text, True),
    "confirmation_mail_text": (_mail_text, False),
    "reminder_mail_text": (_mail_text, False),
    "callcenter_script": (_mail_text, False),
    "report_emails": (_emails, True),
    "transfer_cutoff_days_before": (_int_between(0, 60), False),
    "transfer_cutoff_time": (_time, False),
    "card_waiting_days": (_int_between(1, 3650), False),
}
SETTING_KEYS = tuple(_SETTINGS)
_TEXT_SETTINGS = frozenset(
    {
        "text_top",
        "text_bring",
        "text_done",
        "confirmation_mail_text",
        "reminder_mail_text",
        "callcenter_script",
        "report_emails",
    }
)
