"""Realistic test data made through the same services production uses."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from booking.cards.moves import do_move_cards
from booking.engine.queries import FreeSlot, free_slots
from booking.engine.services import IssuedCard, do_issue_card
from booking.models import Booking, Card, Place, Service
from booking.rules.card_states import CardState

_application_ids = itertools.count(10_000_000_000_000_000_000_001)
KANA = ["ヤマダ タロウ", "スズキ ハナコ", "タナカ イチロウ", "キョウト ミヤコ", "サトウ ジロウ"]


def issue_card(name_kana: str | None = None, *, state: str = CardState.NOTICE_SENT) -> IssuedCard:
    """A card as a citizen holds it: imported, set up and its notice letter sent (unless `state` says)."""
    number = next(_application_ids)
    kana = name_kana or KANA[number % len(KANA)]
    issued = do_issue_card(
        application_id=f"{number:023d}",
        name="京都 太郎",
        name_kana=kana,
        birth_date=dt.date(1950, 4, 1),
        postal_code="604-8571",
        address="京都市中京区寺町通御池上る上本能寺前町488",
    )
    for step in _STEPS[: _STEPS.index(state) + 1] if state in _STEPS else []:
        do_move_cards([issued.card.pk], step, actor="factory")
    issued.card.refresh_from_db()
    return issued


_STEPS: list[str] = [CardState.SET_UP, CardState.NOTICE_SENT]


def issue_cards(count: int) -> list[Card]:
    return [issue_card().card for _ in range(count)]


def card_issuance() -> Service:
    return Service.objects.get(code="card_issuance")


def place(code: str = "center-3f") -> Place:
    return Place.objects.get(code=code)


def next_free_slot(place_code: str = "center-3f", after_days: int = 0) -> FreeSlot:
    today = timezone.localdate() + dt.timedelta(days=after_days)
    return free_slots(place(place_code), card_issuance(), today, today + dt.timedelta(days=40))[0]


def next_free_slot_list(count: int, place_code: str = "center-3f") -> list[FreeSlot]:
    today = timezone.localdate()
    slots = free_slots(place(place_code), card_issuance(), today, today + dt.timedelta(days=60))
    assert len(slots) >= count, "the preset should give plenty of free slots"
    return slots[:count]


def slot_on_or_after(day: dt.date, place_code: str = "center-3f") -> dt.datetime:
    """The first opening-rule slot of `place` on `day` or the next open day (ignores the booking window)."""
    from booking.engine.queries import closed_days_for
    from booking.rules import schedule

    the_place = place(place_code)
    patterns = list(the_place.opening_patterns.filter(service__code="card_issuance"))
    for offset in range(14):
        candidate = day + dt.timedelta(days=offset)
        slots = schedule.day_slots(
            the_place, patterns, candidate, closed_days_for(the_place, candidate, candidate)
        )
        if slots:
            return slots[0].starts_at
    raise AssertionError("no open day within two weeks")


def card_of(booking: Booking) -> Card:
    """The card of a card booking (tests of card bookings; phone-only visits have none)."""
    assert booking.card is not None
    return booking.card
