"""Writes of the transfer lists (BK-13): confirm a counter's list (move its cards), bring a card back.

Each `do_*` is one transaction, all or nothing, recorded in the operation log inside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.cards.moves import CardMoveError, LifecycleError, do_move_cards
from booking.lib.dates import TOKYO
from booking.lifecycle import transfers
from booking.models import Booking, Card, Place, Slot, TransferConfirmation
from booking.rules.card_states import CardState

_LOCK_KEY = 0x7472616E  # "tran": one confirmation of a counter's day at a time, per schema


class TransferError(LifecycleError):
    """A transfer operation that cannot be carried out; nothing was changed."""


@dataclass(frozen=True)
class TransferResult:
    moved: int  # cards moved to the counter now
    on_list: int  # cards the list has for the counter (regular and added)
    confirmation: TransferConfirmation


def do_confirm_transfer(
    place: Place,
    day: dt.date,
    *,
    actor: oplog.Actor,
    now: dt.datetime | None = None,
    expected: int | None = None,
) -> TransferResult:
    """Move every card on the list still booked and in the back office to the counter (MOVED), or none.

    Only after the cut: before it the list may still change. Confirming again later moves only what was
    added since. `expected` is the count the person saw on the button: if the list changed meanwhile
    (another clerk confirmed, a booking came in), nothing moves and they are shown the new list.
    """
    now = now or timezone.now()
    with transaction.atomic():
        _lock_day(place, day)
        current = transfers.transfer_list(place, day, now)
        if not current.is_cut:
            cut = timezone.localtime(current.cut_at, TOKYO)
            raise TransferError(
                "not_cut",
                _("このリストは %(cut)s に締めるまで確定できません") % {"cut": f"{cut:%Y-%m-%d %H:%M}"},
            )
        card_ids = _still_to_move(current)
        if not card_ids and expected in (None, 0):
            # the screen offers no button then: nothing to record as a confirmation either
            if current.coming:
                nothing = _("移送するカードはありません（リストのカードはすべて移送済みです）")
            else:
                nothing = _("移送するカードはありません（この日のリストは空です）")
            raise TransferError("nothing", nothing)
        if expected is not None and expected != len(card_ids):
            raise TransferError(
                "changed",
                _("リストが変わりました（移送するカードは%(count)d枚です）。確認してもう一度確定してください")
                % {"count": len(card_ids)},
            )
        try:
            moved = do_move_cards(
                card_ids, CardState.MOVED, actor=actor.username, note="移送", place=place, now=now
            )
        except CardMoveError as error:
            raise TransferError("illegal", error.message) from error
        confirmation = TransferConfirmation.objects.create(
            place=place, day=day, confirmed_at=now, confirmed_by=actor.username, cards=moved
        )
        oplog.record(
            actor,
            "transfer.confirm",
            f"{place.code} {day.isoformat()}",
            {"moved": moved, "on_list": len(current.coming)},
        )
    return TransferResult(moved=moved, on_list=len(current.coming), confirmation=confirmation)


def _lock_day(place: Place, day: dt.date) -> None:
    """Two clerks confirming the same list queue here; the second sees the first one's moves."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema() || '/' || %s))",
            [_LOCK_KEY, f"{place.pk}/{day.isoformat()}"],
        )


def _still_to_move(current: transfers.TransferList) -> list[int]:
    """The list's back-office cards, checked again under lock: a booking cancelled or moved away between
    the list being read and the lock being taken is left out (bookings lock their card, then the booking)."""
    candidates = [entry.card.pk for entry in current.to_move]
    if not candidates:
        return []
    locked = Card.objects.select_for_update().filter(pk__in=candidates).order_by("pk")
    ready = {card.pk for card in locked if card.state == CardState.BOOKED and card.at_place_id is None}
    start, end = transfers.day_bounds(current.day)
    day_slots = Slot.objects.filter(place=current.place, starts_at__gte=start, starts_at__lt=end).values("pk")
    still_here = (
        Booking.objects.select_for_update()
        .filter(card_id__in=ready, status=Booking.Status.CONFIRMED, outcome="", slot__in=day_slots)
        .values_list("card_id", flat=True)
    )
    return sorted(set(still_here))


def do_return_to_back_office(
    card: Card, *, actor: oplog.Actor, now: dt.datetime | None = None, note: str = "事務室へ戻す"
) -> str:
    """Bring a card moved to a counter back to the back office: "booked" if it still has a booking (it waits
    for that day's list), else "notice sent" (the person may book again). Returns the new state."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Card.objects.select_for_update(of=("self",)).select_related("at_place").get(pk=card.pk)
        if locked.state != CardState.MOVED:
            state = CardState(locked.state).label
            raise TransferError(
                "not_moved",
                _("このカードは窓口にありません（状態: %(state)s）。戻す必要はありません") % {"state": state},
            )
        active = Booking.objects.filter(card=locked, status=Booking.Status.CONFIRMED, outcome="").exists()
        to_state = CardState.BOOKED if active else CardState.NOTICE_SENT
        from_place = locked.at_place
        do_move_cards([locked.pk], to_state, actor=actor.username, note=note, now=now)
        oplog.record(
            actor,
            "transfer.return",
            locked.application_id,
            {"from": from_place.code if from_place else "", "to": to_state},
        )
    card.refresh_from_db()
    return to_state
