"""Matching the file's bookings with the tenant's (SO-20): the import's "existing" (left alone, so a second
run changes nothing) and the reconciliation's "found" are the same comparison, by the same key."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from booking.migration.records import CANCELLED, CONFIRMED, BookingRow
from booking.models import Booking

# Rows looked up in one query: IN lists this long keep each statement well within PostgreSQL's limits.
_CHUNK = 5000
T = TypeVar("T")

# A booking's key: whose (reservation number, or caller kana and phone), where, what, when, and how it ended.
BookingKey = tuple[str, str, str, str, str, dt.datetime, str]


def booking_key(row: BookingRow) -> BookingKey:
    if row.reservation_number:
        who = (row.reservation_number, "", "")
    else:
        who = ("", row.caller_name_kana, row.contact_phone)
    return (*who, row.place, row.service, row.starts_at, row.status)


def _db_key(values: dict[str, Any]) -> BookingKey:
    cancelled = values["status"] == Booking.Status.CANCELLED
    status = CANCELLED if cancelled else values["outcome"] or CONFIRMED
    number = values["card__reservation_number"] or ""
    who = (number, "", "") if number else ("", values["caller_name_kana"], values["contact_phone"])
    return (
        *who,
        values["slot__place__code"],
        values["slot__service__code"],
        values["slot__starts_at"],
        status,
    )


def existing_bookings(rows: Iterable[BookingRow]) -> Counter[BookingKey]:
    """The tenant's bookings of the people in `rows`, by key (a multiset: the same booking may recur)."""
    numbers = sorted({row.reservation_number for row in rows if row.reservation_number})
    kanas = sorted({row.caller_name_kana for row in rows if not row.reservation_number})
    fields = (
        "card__reservation_number",
        "caller_name_kana",
        "contact_phone",
        "slot__place__code",
        "slot__service__code",
        "slot__starts_at",
        "status",
        "outcome",
    )
    keys: Counter[BookingKey] = Counter()
    for chunk in chunks(numbers):
        keys.update(
            _db_key(values)
            for values in Booking.objects.filter(card__reservation_number__in=chunk).values(*fields)
        )
    for chunk in chunks(kanas):
        callers = Booking.objects.filter(card__isnull=True, caller_name_kana__in=chunk)
        keys.update(_db_key(values) for values in callers.values(*fields))
    return keys


def chunks(values: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def in_chunks(queryset: Any, field_name: str, values: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        found.update(
            (getattr(item, field_name), item) for item in queryset.filter(**{f"{field_name}__in": chunk})
        )
    return found
