"""Reads for the staff console: the bookings list with its filters and search (AD-05, AD-08), as rows for
screens and CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet

from booking.cards import search
from booking.lib.dates import TOKYO
from booking.models import Booking, Card
from booking.staff.forms import ORDERINGS
from integrations.csv_export import TextNumber

CSV_HEADER = [
    "予約ID",
    "日付",
    "開始",
    "終了",
    "場所",
    "サービス",
    "状態",
    "経路",
    "予約番号",
    "申請書ID",
    "氏名",
    "氏名カナ",
    "電話番号",
    "メールアドレス",
    "予約日時",
    "変更日時",
    "取消日時",
]


def normalise_query(raw: str) -> tuple[str, str]:
    """(kind, value): a reservation number or an application ID (typed or scanned, any dashes and widths), a
    phone number, a kana name prefix (typed in hiragana, half-width or full-width katakana) or a name in
    kanji (variant forms and spaces as `booking.lib.japanese.name_key`): `booking.cards.search.read_query`."""
    query = search.read_query(raw)
    return query.kind, query.value


# Up to this many matching cards, a name search starts from the cards (measured: docs/performance.md).
KANA_CARD_LIMIT = 5000


def _kana_match(prefix: str) -> Q:
    """Bookings whose card holder's, or phone-only caller's, kana name starts with `prefix`; when none does,
    with the space it may have been typed without (`search.kana_attempts`).

    PostgreSQL's estimate of a LIKE prefix can be a hundred times off; when it overestimates, the plan walks
    every booking in date order looking for 50 matches (seconds at a million bookings). Passing the matching
    card ids, when there are few, makes the plan start from them whatever the statistics say. Visits (no
    card) are added by id only when there are any: an OR across the card join would keep the common-name
    COUNT from using the card index (measured: docs/performance.md).
    """
    for forms in search.kana_attempts(prefix):
        found = _kana_forms_match(forms)
        if found is not None:
            return found
    return Q(pk__in=[])


def _kana_forms_match(forms: list[str]) -> Q | None:
    """`_kana_match` for one or more prefixes; None when no card or visit matches."""
    visit_ids = list(
        Booking.objects.filter(search.kana_prefix("caller_name_kana", forms), card__isnull=True).values_list(
            "pk", flat=True
        )[: KANA_CARD_LIMIT + 1]
    )
    card_ids = list(
        Card.objects.filter(search.kana_prefix("name_kana", forms)).values_list("pk", flat=True)[
            : KANA_CARD_LIMIT + 1
        ]
    )
    if not visit_ids and not card_ids:
        return None
    cards = (
        Q(card_id__in=card_ids)
        if len(card_ids) <= KANA_CARD_LIMIT
        else search.kana_prefix("card__name_kana", forms)
    )
    if not visit_ids:
        return cards
    if len(visit_ids) > KANA_CARD_LIMIT:
        return cards | (Q(card__isnull=True) & search.kana_prefix("caller_name_kana", forms))
    return cards | Q(pk__in=visit_ids)


def _name_match(key: str) -> Q:
    """Bookings of cards whose name in kanji holds `key`: from the matching cards' ids when there are few (as
    `_kana_match`, so the plan starts from them), else as a subquery."""
    named = search.cards_named(key)
    card_ids = list(named.values_list("pk", flat=True)[: KANA_CARD_LIMIT + 1])
    if len(card_ids) <= KANA_CARD_LIMIT:
        return Q(card_id__in=card_ids)
    return Q(card_id__in=named.values("pk"))


def _search(raw: str) -> Q:
    kind, value = normalise_query(raw)
    if kind == search.KANA:
        return _kana_match(value)
    if kind == search.NAME:
        return _name_match(value)
    if kind == search.PHONE:
        return Q(contact_phone=value)
    return Q(**{f"card__{kind}": value})


def bookings(filters: dict[str, Any]) -> QuerySet[Booking]:
    rows = Booking.objects.select_related("card", "slot__place", "slot__service")
    if filters.get("date_from"):
        rows = rows.filter(slot__starts_at__gte=dt.datetime.combine(filters["date_from"], dt.time.min, TOKYO))
    if filters.get("date_to"):
        end = filters["date_to"] + dt.timedelta(days=1)
        rows = rows.filter(slot__starts_at__lt=dt.datetime.combine(end, dt.time.min, TOKYO))
    if filters.get("location"):
        rows = rows.filter(slot__place=filters["location"])
    if filters.get("service"):
        rows = rows.filter(slot__service=filters["service"])
    if filters.get("status"):
        rows = rows.filter(status=filters["status"])
    if filters.get("q"):
        rows = rows.filter(_search(filters["q"]))
    ordering = ORDERINGS.get(filters.get("ordering") or "start", ORDERINGS["start"])
    return rows.order_by(ordering, "slot__starts_at", "pk")


def csv_rows(rows: QuerySet[Booking]) -> Iterator[list[object]]:
    for booking in rows.iterator(chunk_size=2000):
        slot, card = booking.slot, booking.card
        start = slot.starts_at.astimezone(TOKYO)
        yield [
            booking.pk,
            start.date(),
            f"{start:%H:%M}",
            f"{slot.ends_at.astimezone(TOKYO):%H:%M}",
            slot.place.name,
            slot.service.name,
            booking.get_status_display(),
            booking.get_channel_display(),
            # Digits the system made (or normalised, the phone): text, kept as text by Excel (csv_export).
            TextNumber(card.reservation_number) if card else "",
            TextNumber(card.application_id) if card else "",
            card.name if card else "",
            booking.name_kana,
            TextNumber(booking.contact_phone),
            booking.contact_email,
            booking.created_at,
            booking.changed_at,
            booking.cancelled_at,
        ]
