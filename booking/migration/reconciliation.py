"""The reconciliation of a migration import (SO-20): each file's rows against what a fresh look at the
database finds, and the bookings of each day by outcome."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Count
from django.db.models.functions import TruncDate

from booking.cards import credentials
from booking.lib.dates import TOKYO
from booking.migration.matching import booking_key, chunks, existing_bookings
from booking.migration.outcome import DayCheck, KindCheck, Reconciliation
from booking.migration.records import CANCELLED, CONFIRMED, STATUSES, LegacyData
from booking.models import Booking, BookingSettings, Card, Place
from integrations.legacy_import import BOOKINGS, CARDS, PLACES, SETTINGS


def reconcile(data: LegacyData) -> Reconciliation:
    """Each file's rows against what a fresh look at the database finds, and the bookings of each day.

    Counted by queries of their own, not from the import's bookkeeping, so a bug in the import shows here.
    """
    kinds = [
        KindCheck(SETTINGS, data.source_rows(SETTINGS), _settings_found(data)),
        KindCheck(PLACES, data.source_rows(PLACES), _places_found(data)),
        KindCheck(CARDS, data.source_rows(CARDS), _cards_found(data)),
        KindCheck(BOOKINGS, data.source_rows(BOOKINGS), _bookings_found(data)),
    ]
    return Reconciliation(kinds=kinds, days=_days(data))


def _settings_found(data: LegacyData) -> int:
    rules = BookingSettings.objects.filter(singleton=True).first()
    if rules is None:
        return 0
    return sum(1 for row in data.settings if getattr(rules, row.key) == row.value)


def _places_found(data: LegacyData) -> int:
    codes = set(
        Place.objects.filter(code__in=[row.code for row in data.places]).values_list("code", flat=True)
    )
    return sum(1 for row in data.places if row.code in codes)


def _cards_found(data: LegacyData) -> int:
    """Cards with the same application, reservation number and password (the citizen's letter works)."""
    ids = [row.application_id for row in data.cards]
    stored: dict[str, tuple[str, str]] = {}
    for chunk in chunks(ids):
        cards = Card.objects.filter(application_id__in=chunk).values_list(
            "application_id", "reservation_number", "password_digest"
        )
        stored.update((application_id, (number, digest)) for application_id, number, digest in cards)
    found = 0
    for row in data.cards:
        number, digest = stored.get(row.application_id, ("", ""))
        if number == row.reservation_number and credentials.password_matches(row.password, digest):
            found += 1
    return found


def _bookings_found(data: LegacyData) -> int:
    wanted = Counter(booking_key(row) for row in data.bookings)
    stored = existing_bookings(data.bookings)
    return sum(min(count, stored[key]) for key, count in wanted.items())


def _days(data: LegacyData) -> list[DayCheck]:
    stored: Counter[tuple[dt.date, str]] = Counter()
    per_day = (
        Booking.objects.annotate(day=TruncDate("slot__starts_at", tzinfo=TOKYO))
        .values("day", "status", "outcome")
        .annotate(count=Count("pk"))
    )
    for item in per_day:
        status = CANCELLED if item["status"] == Booking.Status.CANCELLED else item["outcome"] or CONFIRMED
        stored[(item["day"], status)] += item["count"]
    days = sorted({day for day, _status in data.source_days} | {day for day, _status in stored})
    return [
        DayCheck(
            day=day,
            source=tuple(data.source_days[(day, status)] for status in STATUSES),
            database=tuple(stored[(day, status)] for status in STATUSES),
        )
        for day in days
    ]
