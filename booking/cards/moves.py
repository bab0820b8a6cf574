"""Moves of cards through their lifecycle (AD-03). Each `do_*` is one transaction, all or nothing.

The database refuses an illegal move whatever the caller (migration 0014); these functions check first so
that staff get a precise answer naming the cards, and record every move in CardEvent with who and when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.models import Booking, BookingEvent, Card, CardEvent, Place
from booking.rules.card_states import CardState, is_legal

# The moves that take a card back to the back office, and the one that takes it to a counter.
_TO_BACK_OFFICE = frozenset({CardState.NOTICE_SENT, CardState.BOOKED})
_LOCK_CHUNK = 5000
# A card withdrawn or past keeping can no longer be collected: its booking ends with it.
_ENDS_BOOKINGS = frozenset({CardState.CANCELLED, CardState.EXPIRED})


@dataclass(frozen=True)
class IllegalMove:
    reservation_number: str
    application_id: str
    from_state: str
    to_state: str

    def __str__(self) -> str:
        old, new = CardState(self.from_state).label, CardState(self.to_state).label
        return _("%(id)s: 「%(old)s」から「%(new)s」には変更できません") % {
            "id": self.application_id,
            "old": old,
            "new": new,
        }


class LifecycleError(Exception):
    """An operation on cards or visits that cannot be carried out; nothing was changed. `code` says why to
    code, `message` to staff (Japanese, then English)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class CardMoveError(Exception):
    """Some cards cannot make the move; nothing was changed. `refused` names them."""

    def __init__(self, refused: list[IllegalMove]) -> None:
        self.refused = refused
        super().__init__(self.message)

    @property
    def message(self) -> str:
        count = len(self.refused)
        head = _("%(count)d枚のカードはこの状態に変更できないため、何も変更していません") % {"count": count}
        shown = [str(move) for move in self.refused[:20]]
        more = [_("ほか%(count)d枚") % {"count": count - 20}] if count > 20 else []
        return "\n".join([head, *shown, *more])


def do_move_cards(
    card_ids: Iterable[int],
    to_state: str,
    *,
    actor: str,
    note: str = "",
    place: Place | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Move every card to `to_state`, or none of them (CardMoveError naming the ones that cannot move).

    `place` is the counter a card is moved to (MOVED); moves back to the back office clear it. A card
    already in `to_state` is left alone and not counted.
    """
    now = now or timezone.now()
    ids = sorted(set(card_ids))
    with transaction.atomic():
        cards = _locked(ids)
        refused = [
            IllegalMove(card.reservation_number, card.application_id, card.state, to_state)
            for card in cards
            if card.state != to_state and not is_legal(card.state, to_state)
        ]
        if refused:
            raise CardMoveError(refused)
        moving = [(card, card.state) for card in cards if card.state != to_state]
        if to_state in _ENDS_BOOKINGS:
            _cancel_bookings([card.pk for card, _ in moving], actor, now)
        by_origin: dict[str, list[int]] = {}
        for card, from_state in moving:
            by_origin.setdefault(from_state, []).append(card.pk)
        # Every card leaving one state gets the same values: one UPDATE per origin and chunk.
        for from_state, moved_ids in by_origin.items():
            changes = _changes(from_state, to_state, place, now)
            for start in range(0, len(moved_ids), _LOCK_CHUNK):
                Card.objects.filter(pk__in=moved_ids[start : start + _LOCK_CHUNK]).update(**changes)
        CardEvent.objects.bulk_create(
            [_event(card.pk, from_state, to_state, actor, note, place, now) for card, from_state in moving],
            batch_size=2000,
        )
    return len(moving)


LOGGED_CARDS = 1000


def do_staff_move_cards(
    actor: oplog.Actor, card_ids: list[int], to_state: str, *, note: str = "", now: dt.datetime | None = None
) -> int:
    """A move staff make by hand (one card or a scanned batch), with its operation-log entry in the same
    transaction: either both are kept or neither."""
    with transaction.atomic():
        moved = do_move_cards(card_ids, to_state, actor=actor.username, note=note, now=now)
        ids = sorted(set(card_ids))
        target = f"card {ids[0]}" if len(ids) == 1 else f"{len(ids)} cards"
        # which cards (each card's own history has the move too); a batch of thousands names its first 1,000
        detail = {"to": to_state, "count": moved, "cards": ids[:LOGGED_CARDS]}
        oplog.record(actor, "card.move", target, detail)
    return moved


def do_move_card(
    card: Card,
    to_state: str,
    *,
    actor: str,
    note: str = "",
    place: Place | None = None,
    now: dt.datetime | None = None,
) -> Card:
    do_move_cards([card.pk], to_state, actor=actor, note=note, place=place, now=now)
    card.refresh_from_db()
    return card


def do_record_event(
    card: Card, *, actor: str, note: str, place: Place | None = None, now: dt.datetime | None = None
) -> None:
    """Something happened to the card that does not change its state (a reprinted notice, say)."""
    CardEvent.objects.create(
        card=card,
        at=now or timezone.now(),
        from_state=card.state,
        to_state=card.state,
        actor=actor,
        note=note,
        place=place,
    )


def _locked(ids: list[int]) -> list[Card]:
    cards: list[Card] = []
    for start in range(0, len(ids), _LOCK_CHUNK):
        chunk = ids[start : start + _LOCK_CHUNK]
        cards.extend(Card.objects.select_for_update().filter(pk__in=chunk).order_by("pk"))
    return cards


def _cancel_bookings(card_ids: list[int], actor: str, now: dt.datetime) -> None:
    active = Booking.objects.select_for_update().filter(
        card_id__in=card_ids, status=Booking.Status.CONFIRMED, outcome=""
    )
    bookings = list(active.select_related("slot"))
    if not bookings:
        return
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(
        status=Booking.Status.CANCELLED, cancelled_at=now
    )
    BookingEvent.objects.bulk_create(
        BookingEvent(
            booking=booking,
            at=now,
            kind=BookingEvent.Kind.CANCELLED,
            channel=booking.channel,
            actor=actor,
            from_slot=booking.slot,
        )
        for booking in bookings
    )


def _changes(from_state: str, to_state: str, place: Place | None, now: dt.datetime) -> dict[str, object]:
    changes: dict[str, object] = {"state": to_state, "state_changed_at": now}
    if to_state == CardState.MOVED:
        changes["at_place"] = place
    elif to_state in _TO_BACK_OFFICE:
        changes["at_place"] = None
    if to_state == CardState.NOTICE_SENT and from_state in {CardState.SET_UP, CardState.RETURNED}:
        changes["notice_sent_on"] = timezone.localdate(now)
    return changes


def _event(
    card_id: int, from_state: str, to_state: str, actor: str, note: str, place: Place | None, now: dt.datetime
) -> CardEvent:
    return CardEvent(
        card_id=card_id, at=now, from_state=from_state, to_state=to_state, actor=actor, note=note, place=place
    )


# --- hooks of the booking services -----------------------------------------------------------------------


_BOOKED_FROM = frozenset({CardState.NOTICE_SENT, CardState.RETURNED})


def booking_moves() -> tuple[frozenset[str], frozenset[str]]:
    """(the states a booking moves a card to "booked" from, those of them card_states allows as that move);
    for the one-call booking (booking.engine.one_call), which makes the move in SQL as `_move_to_booked`."""
    return _BOOKED_FROM, frozenset(state for state in _BOOKED_FROM if is_legal(state, CardState.BOOKED))


def card_booked(card: Card, *, actor: str, now: dt.datetime, state: str | None = None) -> None:
    """A booking was made for the card (inside the booking's transaction, the card row locked).

    `state` is the one the caller read under that lock; without it the state is read again (the caller's
    Card object may be older than the row). One card, already locked, moving along a legal edge: a
    conditional UPDATE and its CardEvent, not the batch machinery of `do_move_cards` (which would lock and
    read the row again), written as one statement.
    """
    if state is None:
        card.refresh_from_db(fields=["state"])
        state = card.state
    if state not in _BOOKED_FROM:
        return
    to_state = CardState.BOOKED
    moved = is_legal(state, to_state) and _move_to_booked(card.pk, state, actor, now)
    if not moved:
        # An edge card_states does not allow, or not the state the caller read: the general path answers.
        do_move_cards([card.pk], to_state, actor=actor, note="予約", now=now)
        return
    card.state, card.state_changed_at, card.at_place = to_state, now, None


def _move_to_booked(card_id: int, from_state: str, actor: str, now: dt.datetime) -> bool:
    """The card's move to "booked" and its CardEvent in one statement (the move `do_move_cards` makes:
    `_changes` of a move to the back office, the event `_event` writes); False if the card was not in
    `from_state`. The database's trigger still refuses an illegal move (migration 0014)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH moved AS ("
            " UPDATE booking_card SET state = %(to)s, state_changed_at = %(now)s, at_place_id = NULL"
            " WHERE id = %(card)s AND state = %(from)s AND NOT probe RETURNING id)"
            " INSERT INTO booking_cardevent (card_id, at, from_state, to_state, actor, note, place_id)"
            " SELECT id, %(now)s, %(from)s, %(to)s, %(actor)s, %(note)s, NULL FROM moved RETURNING id",
            {
                "card": card_id,
                "from": from_state,
                "to": CardState.BOOKED,
                "now": now,
                "actor": actor,
                "note": "予約",
            },
        )
        return cursor.fetchone() is not None


def card_booking_ended(card: Card, *, actor: str, note: str, now: dt.datetime) -> None:
    """The card's booking was cancelled or missed: a card still in the back office waits for a new one.

    A card already moved to a counter stays there: the transfer list shows it to be brought back.
    """
    card.refresh_from_db(fields=["state"])
    if card.state == CardState.BOOKED:
        do_move_cards([card.pk], CardState.NOTICE_SENT, actor=actor, note=note, now=now)
