"""Reading the old booking system's data (SO-20): a folder of CSV files → typed rows and numbered problems.

integrations.legacy_import reads the files as a format (tables of cells, raw dates, times, codes, phone
numbers); this module says what the cells mean here: reservation numbers and passwords as the citizen's
letter has them, card states, booking outcomes, the tenant's settings and their mail placeholders. The files
and their rules are described in docs/formats/legacy-import.md; keep the two in step. Pure: no database. What
needs the tenant's data (places and cards already there, capacities) is checked by
booking.migration.importer, which writes.

A wrong row is a *rejection*: it is named with its file, line and column, and the other rows are still
checked, so one run shows the whole picture.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from booking.cards import credentials
from booking.engine.notifications import PLACEHOLDERS
from booking.lib.dates import TOKYO
from booking.migration.consistency import consistent, unique
from booking.migration.records import (
    CANCELLED,
    CARD_STATE_ALIASES,
    CHANNEL_ALIASES,
    CONFIRMED,
    DEFAULT_SERVICE,
    KIND_ALIASES,
    NO_SHOW,
    PASSWORD_MAX,
    PASSWORD_MIN,
    REQUIREMENT_ALIASES,
    STATUS_ALIASES,
    VISITED,
    BookingRow,
    CardRow,
    LegacyData,
    PlaceRow,
    SettingRow,
    SourceFile,
)
from booking.rules.card_states import CardState
from integrations import card_fields
from integrations.card_fields import InvalidField, visible_text
from integrations.legacy_import import (
    BOOKINGS,
    CARDS,
    FILES,
    PLACES,
    SETTINGS,
    Problem,
    Row,
    choice,
    clean_code,
    clean_date,
    clean_email,
    clean_emails,
    clean_past_date,
    clean_past_datetime,
    clean_phone,
    clean_text,
    clean_time,
    int_between,
    multiline_text,
    read_rows,
    read_tables,
    sorted_problems,
    template_fields,
    within,
)

_PASSWORD_RE = re.compile(r"[\x21-\x7e]+")


def read_directory(directory: Path, *, today: dt.date) -> LegacyData:
    """Read and check every file in `directory`; LegacyImportError if any file cannot be read at all."""
    tables = read_tables(directory)
    reader = _Reader(today)
    rejections = reader.rejections
    settings = read_rows(tables.get(SETTINGS), reader.setting, rejections)
    places = read_rows(tables.get(PLACES), reader.place, rejections)
    cards = read_rows(tables.get(CARDS), reader.card, rejections)
    bookings = read_rows(tables.get(BOOKINGS), reader.booking, rejections)
    settings = unique(settings, SETTINGS, "key", lambda row: row.key, rejections)
    places = unique(places, PLACES, "code", lambda row: row.code, rejections)
    cards = unique(cards, CARDS, "application_id", lambda row: row.application_id, rejections)
    cards = unique(cards, CARDS, "reservation_number", lambda row: row.reservation_number, rejections)
    cards, bookings = consistent(cards, bookings, rejections, tables.get(CARDS))
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
        rejections=sorted_problems(rejections),
        warnings=sorted_problems(reader.warnings),
        source_days=reader.source_days,
    )


class _Reader:
    """One row of each file → its typed row, or None with the row's problems recorded on it."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.rejections: list[Problem] = []
        self.warnings: list[Problem] = []
        self.source_days: Counter[tuple[dt.date, str]] = Counter()

    # settings.csv

    def setting(self, row: Row) -> SettingRow | None:
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
            value = multiline_text(raw) if key in _TEXT_SETTINGS else visible_text(raw)
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

    def place(self, row: Row) -> PlaceRow | None:
        code = row.text("code", clean_code, required=True)
        name = row.text("name", within(100), required=True)
        address = row.text("address", within(200), required=True)
        name_en = row.text("name_en", within(150))
        kind = row.text("kind", choice(KIND_ALIASES)) or "ward_office"
        starts_on, ends_on = row.get("starts_on", clean_date), row.get("ends_on", clean_date)
        bookable_from = row.get("bookable_from", clean_date)
        bookable_until = row.get("bookable_until", clean_date)
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

    def card(self, row: Row) -> CardRow | None:
        application_id = row.text("application_id", card_fields.clean_application_id, required=True)
        number = row.text("reservation_number", _reservation_number, required=True)
        password = row.text("password", _password, required=True)
        name = row.text("name", card_fields.clean_name, required=True)
        name_kana = row.text("name_kana", card_fields.clean_name_kana, required=True)
        birth_date = row.get("birth_date", self._birth_date, required=True)
        postal_code = row.text("postal_code", card_fields.clean_postal_code, required=True)
        address = row.text("address", card_fields.clean_address, required=True)
        state = row.text("state", choice(CARD_STATE_ALIASES), required=True)
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
        return clean_past_date(text, self.today)

    def _past_datetime(self, text: str) -> dt.datetime:
        return clean_past_datetime(text, self.today)

    # bookings.csv

    def booking(self, row: Row) -> BookingRow | None:
        day = row.get("date", clean_date, required=True)
        status = row.get("status", choice(STATUS_ALIASES), required=True)
        if day is not None and status is not None:
            self.source_days[(day, status)] += 1
        number = row.text("reservation_number", _reservation_number)
        kana = row.text("caller_name_kana", card_fields.clean_name_kana)
        phone = row.text("contact_phone", clean_phone)
        service = row.text("service", clean_code)
        start, end = row.get("start", clean_time, required=True), row.get("end", clean_time)
        place = row.text("place", clean_code, required=True)
        channel = row.text("channel", choice(CHANNEL_ALIASES))
        email = row.text("contact_email", clean_email)
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

    def _booking_rules(self, row: Row, booking: BookingRow) -> None:
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


def _identity(row: Row) -> None:
    """A card's booking names its reservation number; a caller's visit (BK-11) the kana name and phone."""
    if row.given("reservation_number"):
        if row.given("caller_name_kana"):
            row.reject(
                "caller_name_kana",
                "予約番号のある予約には caller_name_kana を入れないでください",
                "leave caller_name_kana empty when there is a reservation_number",
            )
        return
    if not row.given("caller_name_kana") or not row.given("contact_phone"):
        row.reject(
            "reservation_number",
            "予約番号か、予約番号のない来庁者の caller_name_kana と contact_phone が必要です",
            "needs a reservation_number, or caller_name_kana and contact_phone for a caller without one",
        )
    if not row.given("service"):
        row.reject("service", "予約番号のない来庁者の予約にはサービスが必要です", "is required for a caller")


# --- the fields whose rules are Madoguchi's (stripped, non-empty text in; the value out, or InvalidField) --


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


def _mail_text(text: str) -> str:
    """A text the mails and the call-centre script fill in: only the placeholders notifications know."""
    text = clean_text(text)
    allowed = " ".join("{" + name + "}" for name in PLACEHOLDERS)
    for name, spec, conversion in template_fields(text):
        if name not in PLACEHOLDERS or spec or conversion:
            raise InvalidField(
                f"使えない差し込み項目 {{{name}}} があります（使えるのは {allowed}）",
                f"unknown placeholder {{{name}}} (allowed: {allowed})",
            )
    return text


# --- settings.csv's keys ------------------------------------------------------------------------------------

# key → (cleaner, whether an empty value is allowed)
_SETTINGS: dict[str, tuple[Callable[[str], Any], bool]] = {
    "first_days_ahead": (int_between(0, 365), False),
    "bookable_until": (clean_date, True),
    "deadline_days_before": (int_between(0, 60), False),
    "deadline_time": (clean_time, False),
    "hold_minutes": (int_between(1, 60), False),
    "phone_requirement": (choice(REQUIREMENT_ALIASES), False),
    "email_requirement": (choice(REQUIREMENT_ALIASES), False),
    "text_top": (clean_text, True),
    "text_bring": (clean_text, False),
    "text_done": (clean_text, True),
    "confirmation_mail_text": (_mail_text, False),
    "reminder_mail_text": (_mail_text, False),
    "callcenter_script": (_mail_text, False),
    "report_emails": (clean_emails, True),
    "transfer_cutoff_days_before": (int_between(0, 60), False),
    "transfer_cutoff_time": (clean_time, False),
    "card_waiting_days": (int_between(1, 3650), False),
}
SETTING_KEYS = tuple(_SETTINGS)
# Settings whose value may span lines (a quoted cell in the file).
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
