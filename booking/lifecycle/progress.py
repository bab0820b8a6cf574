"""Reads of the cards' progress for staff (AD-03, AD-08): counts per state and place, cards waiting too long.

A card's place is where it is or is to be handed over: the counter it was moved to, else the counter of its
latest booking that was not cancelled; None means the back office with no booking yet.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import BigIntegerField, Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from booking.models import Booking, BookingSettings, Card, Place
from booking.rules.card_states import CardState

# Steps before a booking, in which a card should not stay for long.
WAITING_STATES = (CardState.RECEIVED, CardState.SET_UP, CardState.NOTICE_SENT, CardState.RETURNED)


def _booking_place() -> Subquery:
    latest = (
        Booking.objects.filter(card=OuterRef("pk"))
        .exclude(status=Booking.Status.CANCELLED)
        .order_by("-created_at")
        .values("slot__place")[:1]
    )
    return Subquery(latest)


def state_counts() -> list[tuple[str, str, int]]:
    """(state, label, count) for every state, in lifecycle order, zeros included."""
    counts = dict(Card.objects.values_list("state").annotate(n=Count("pk")).order_by())
    return [(state.value, str(state.label), counts.get(state.value, 0)) for state in CardState]


@dataclass(frozen=True)
class PlaceRow:
    place: Place | None  # None: the back office, no booking yet
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def place_counts() -> list[PlaceRow]:
    """Per place, the cards in each state; places in their display order, then the back office."""
    grid: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CardState.values, 0))
    counter = Coalesce("at_place", _booking_place(), output_field=BigIntegerField())
    rows = Card.objects.values_list(counter, "state").annotate(n=Count("pk")).order_by()
    for place_id, state, count in rows:
        grid[place_id][state] = count
    places = {place.pk: place for place in Place.objects.filter(pk__in=[k for k in grid if k is not None])}
    ordered = sorted(places.values(), key=lambda place: (place.display_order, place.pk))
    result = [PlaceRow(place, grid[place.pk]) for place in ordered]
    if None in grid:
        result.append(PlaceRow(None, grid[None]))
    return result


@dataclass(frozen=True)
class WaitingCard:
    card: Card
    reason: str  # "no_show" | "stranded" | "overdue" | "stale" (the template words them)
    since: dt.datetime
    days: int


def waiting_cards(now: dt.datetime | None = None, limit: int = 500) -> tuple[list[WaitingCard], int]:
    """Cards that need chasing, oldest first, and how many there are in all.

    - in a step before the booking for longer than the tenant's `card_waiting_days`;
    - booked or moved, but their booking's day has passed with no hand-over recorded;
    - moved to a counter while they have no booking any more (to be brought back).
    """
    now = now or timezone.now()
    settings_row = BookingSettings.objects.first()
    days = settings_row.card_waiting_days if settings_row else 30
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    active = Booking.objects.filter(card=OuterRef("pk"), status=Booking.Status.CONFIRMED, outcome="")
    stale = Q(state__in=WAITING_STATES, state_changed_at__lt=now - dt.timedelta(days=days))
    last = Booking.objects.filter(card=OuterRef("pk")).order_by("-slot__starts_at", "-pk")
    cards = Card.objects.annotate(
        booking_starts=Subquery(active.values("slot__starts_at")[:1]),
        last_outcome=Subquery(last.values("outcome")[:1]),
    ).select_related("at_place")
    overdue = Q(state__in=[CardState.BOOKED, CardState.MOVED], booking_starts__lt=start_of_today)
    stranded = Q(state=CardState.MOVED, booking_starts__isnull=True)
    matching = cards.filter(stale | overdue | stranded)
    total = matching.count()
    found = []
    for card in matching.order_by("state_changed_at", "pk")[:limit]:
        found.append(WaitingCard(card, *_why(card), days=days))
    return found, total


def _why(card: Card) -> tuple[str, dt.datetime]:
    starts = card.booking_starts  # type: ignore[attr-defined]
    if card.state == CardState.MOVED and starts is None:
        # nobody came (the counter's no-show), or the booking was cancelled or moved away: said apart
        no_show = card.last_outcome == Booking.Outcome.NO_SHOW  # type: ignore[attr-defined]
        return ("no_show" if no_show else "stranded"), card.state_changed_at
    if starts is not None:
        return "overdue", starts
    return "stale", card.state_changed_at
