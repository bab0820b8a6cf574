"""What the old system's files hold, as Madoguchi reads them (SO-20): the typed rows, the words the files may
use for booking outcomes, card states, channels, kinds of place and requirements, and LegacyData, the whole
folder as the importer takes it.

Built by booking.migration.parsing from the tables integrations.legacy_import reads; pure: no database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booking.lib.dates import TOKYO
from booking.rules.card_states import CardState
from integrations.legacy_import import Problem

DEFAULT_SERVICE = "card_issuance"
PASSWORD_MIN, PASSWORD_MAX = 4, 64

# Booking outcomes as the file gives them: the Booking's status, plus the visit's outcome.
CONFIRMED, CANCELLED, VISITED, NO_SHOW = "confirmed", "cancelled", "visited", "no_show"
STATUSES = (CONFIRMED, VISITED, NO_SHOW, CANCELLED)
STATUS_ALIASES = {
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
CHANNEL_ALIASES = {"web": "web", "phone": "phone", "ウェブ": "web", "電話": "phone"}
KIND_ALIASES = {
    "center": "center",
    "certificate_corner": "certificate_corner",
    "ward_office": "ward_office",
    "other": "other",
    "センター": "center",
    "証明書発行コーナー": "certificate_corner",
    "区役所・支所": "ward_office",
    "その他": "other",
}
REQUIREMENT_ALIASES = {
    "required": "required",
    "optional": "optional",
    "hidden": "hidden",
    "必須": "required",
    "任意": "optional",
    "表示しない": "hidden",
}
# A card's state by its code or by its Japanese label, as the staff console shows it.
CARD_STATE_ALIASES = {
    **{state.value: state.value for state in CardState},
    **{str(state.label): state.value for state in CardState},
}


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
