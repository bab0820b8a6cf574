"""Finding cards by what staff type: a number, a name in kana or a name in kanji (AD-05, AD-08). Reads only.

One home for the card search that the bookings list (`booking.staff.lists`) and the card list
(`booking.lifecycle.views_cards`) share; the text rules themselves are `booking.lib.japanese`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from booking.cards.credentials import RESERVATION_NUMBER_DIGITS
from booking.lib.japanese import is_katakana_name, name_key, name_key_sql, to_katakana, typed_digits
from booking.lib.phone import phone_number
from booking.models import Card
from integrations.card_fields import APPLICATION_ID_DIGITS

RESERVATION_NUMBER = "reservation_number"
APPLICATION_ID = "application_id"
PHONE = "phone"
KANA = "kana"
NAME = "name"


@dataclass(frozen=True)
class Query:
    """What a search text is, and its value in the stored form: a reservation number or an application ID
    (digits), a phone number (digits), a kana name prefix (katakana, single spaces) or a name in kanji
    (`name_key`: usual forms of variant characters, no spaces)."""

    kind: str
    value: str


def read_query(raw: str) -> Query:
    """Numbers first (typed or scanned, any dashes and widths), then kana (hiragana, half- or full-width
    katakana); anything else is a name in kanji, perhaps mixed with kana ("山田 さくら")."""
    digits = typed_digits(raw, RESERVATION_NUMBER_DIGITS, APPLICATION_ID_DIGITS)
    if digits is not None:
        kind = RESERVATION_NUMBER if len(digits) == RESERVATION_NUMBER_DIGITS else APPLICATION_ID
        return Query(kind, digits)
    phone = phone_number(raw)
    if phone is not None:
        return Query(PHONE, phone)
    kana = to_katakana(raw)
    if is_katakana_name(kana):
        return Query(KANA, kana)
    return Query(NAME, name_key(raw))


def kana_attempts(prefix: str) -> list[list[str]]:
    """The kana prefixes to try in turn, each list until one finds someone: the prefix as typed, then, when a
    name was typed without its space ("サイトウミツコ" for "サイトウ ミツコ": registers space family and
    given names, clerks often run them together), each place the space may stand. One space only: a name of
    three parts is found as typed with its spaces."""
    if " " in prefix:
        return [[prefix]]
    return [[prefix], [f"{prefix[:cut]} {prefix[cut:]}" for cut in range(1, len(prefix))]]


def kana_prefix(field: str, forms: list[str]) -> Q:
    """`field` starts with one of `forms`: each a prefix search the kana indexes serve (a BitmapOr of them,
    which reads every match: so the run-together forms are asked for only when the typed prefix itself
    finds nothing, and a surname typed alone keeps its plan, which stops at the first matches)."""
    first, *others = forms
    found = Q(**{f"{field}__startswith": first})
    for form in others:
        found |= Q(**{f"{field}__startswith": form})
    return found


def cards_named(key: str) -> QuerySet[Card]:
    """Cards whose name in kanji holds `key` (a `name_key`) anywhere: "高橋" finds "髙橋 一郎", "一郎" too.

    The database computes `name_key_sql(name)` for every card: no index serves a match inside a name (a
    trigram index on that expression would, if a large municipality needs it). An empty key finds nothing."""
    if not key:
        return Card.objects.none()
    return Card.objects.alias(name_search=name_key_sql("name")).filter(name_search__contains=key)


def cards_matching(query: Query) -> QuerySet[Card]:
    """The cards a search names (cards hold no phone number: a phone finds none)."""
    if query.kind in (RESERVATION_NUMBER, APPLICATION_ID):
        return Card.objects.filter(**{query.kind: query.value})
    if query.kind == KANA:
        tried = kana_attempts(query.value)
        *earlier, last = [Card.objects.filter(kana_prefix("name_kana", forms)) for forms in tried]
        return next((found for found in earlier if found.exists()), last)
    if query.kind == NAME:
        return cards_named(query.value)
    return Card.objects.none()
