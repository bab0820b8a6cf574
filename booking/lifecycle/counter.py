"""The counter's day (BK-13): the day's bookings at a counter, check-in, hand-over, no-show.

Reads first, then the writes (`do_*`, each one transaction, all or nothing, logged inside it). The database
has the last word on outcomes (migration 0014: a final outcome never changes, except a no-show turned into a
visit when the person came late; an outcome only on a confirmed booking); the checks here come first so that
staff get a precise answer, and the database's refusals are mapped to the same kind of answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.cards.moves import CardMoveError, LifecycleError, card_booking_ended, do_move_cards
from booking.lib.dates import TOKYO
from booking.lifecycle import queries
from booking.lifecycle.transfers import day_bounds
from booking.models import Booking, Card, Place
from booking.rules.card_states import CardState

# The day list's filters: who is still to come, who is waiting at the counter, who is done, who never came.
FILTERS: dict[str, Q] = {
    "waiting": Q(checked_in_at__isnull=True, outcome=""),
    "checked_in": Q(checked_in_at__isnull=False, outcome=""),
    "done": Q(outcome=Booking.Outcome.VISITED),
    "no_show": Q(outcome=Booking.Outcome.NO_SHOW),
}


class CounterError(LifecycleError):
    """A counter operation that cannot be carried out; nothing was changed."""


# --- reads -------------------------------------------------------------------------------------------------


def day_bookings(place: Place, day: dt.date, show: str = "") -> QuerySet[Booking]:
    """The confirmed bookings (cards and phone-only visits) at the counter on the day, in time order."""
    start, end = day_bounds(day)
    rows = Booking.objects.filter(
        slot__place=place,
        slot__starts_at__gte=start,
        slot__starts_at__lt=end,
        status=Booking.Status.CONFIRMED,
    )
    if show in FILTERS:
        rows = rows.filter(FILTERS[show])
    # whether the person booked again after a no-show (the late hand-over is then that booking's)
    rows = rows.annotate(rebooked=Exists(_booked_again(OuterRef("card"), OuterRef("pk"))))
    return rows.select_related("card__at_place", "slot__service").order_by("slot__starts_at", "pk")


def day_counts(place: Place, day: dt.date) -> dict[str, int]:
    """How many bookings each filter shows, and all of them, in one query."""
    counts = day_bookings(place, day).aggregate(
        all=Count("pk"), **{name: Count("pk", filter=condition) for name, condition in FILTERS.items()}
    )
    return {name: int(value or 0) for name, value in counts.items()}


@dataclass(frozen=True)
class Lookup:
    booking: Booking | None
    problem: str = ""


def find_booking(scanned: str, place: Place, day: dt.date) -> Lookup:
    """The booking a scanned QR code (the 12-digit reservation number) or a typed number names at this
    counter on this day; otherwise what is wrong, in words for the clerk."""
    shown = scanned.strip()[:40]
    if not shown:
        return Lookup(None, _("QRコードを読み取るか、12桁の予約番号を入力してください"))
    card = queries.card_by_number(scanned)
    if card is None:
        return Lookup(
            None,
            _(
                "「%(shown)s」に当たる予約番号はありません。QRコードを読み直すか、12桁の予約番号を入力してください"
            )
            % {"shown": shown},
        )
    start, end = day_bounds(day)
    bookings = Booking.objects.filter(card=card, status=Booking.Status.CONFIRMED).select_related(
        "card__at_place", "slot__place", "slot__service"
    )
    that_day = list(bookings.filter(slot__starts_at__gte=start, slot__starts_at__lt=end))
    for booking in that_day:
        if booking.slot.place_id == place.pk:
            return Lookup(booking)
    if that_day:
        other = that_day[0].slot.place
        return Lookup(
            None,
            _("この方の予約は「%(place)s」です。この窓口ではありません") % {"place": other.label},
        )
    active = bookings.filter(outcome="").first()
    if active is not None:
        when = timezone.localtime(active.slot.starts_at, TOKYO)
        return Lookup(
            None,
            _("この方の予約は %(when)s「%(place)s」です。%(day)sの予約ではありません")
            % {"when": f"{when:%Y-%m-%d %H:%M}", "place": active.slot.place.label, "day": f"{day:%Y-%m-%d}"},
        )
    return Lookup(
        None,
        _("予約番号 %(number)s の方は %(day)s の予約がありません")
        % {"number": card.reservation_number, "day": f"{day:%Y-%m-%d}"},
    )


# --- writes ------------------------------------------------------------------------------------------------


def do_check_in(booking: Booking, *, actor: oplog.Actor, now: dt.datetime | None = None) -> Booking:
    """The person arrived at the counter (checked in by QR code or number): only on the booking's day."""
    now = now or timezone.now()
    with _refusals():
        row = _locked_booking(booking)
        _refuse_if_ended(row)
        day = _day_of(row)
        if day != timezone.localtime(now, TOKYO).date():
            raise CounterError(
                "other_day",
                _("この予約は %(day)s の予約です。受付は当日だけできます") % {"day": f"{day:%Y-%m-%d}"},
            )
        if row.checked_in_at is not None:
            at = timezone.localtime(row.checked_in_at, TOKYO)
            raise CounterError(
                "already_checked_in",
                _("この予約は %(at)s に受付済みです") % {"at": f"{at:%H:%M}"},
            )
        row.checked_in_at = now
        row.save(update_fields=["checked_in_at"])
        oplog.record(actor, "counter.check_in", _target(row), {"booking": row.pk})
    return row


def do_hand_over(booking: Booking, *, actor: oplog.Actor, now: dt.datetime | None = None) -> Booking:
    """The card was handed over (or, for a phone-only visit, the person was served): the visit's outcome, and
    the card goes to "handed over". Recorded on the day or later (a late entry), never before the day."""
    now = now or timezone.now()
    with _refusals():
        card = _locked_card(booking)
        row = _locked_booking(booking)
        _refuse_if_cancelled(row)
        if row.outcome == Booking.Outcome.VISITED:
            raise CounterError(
                "already_handed_over",
                _("この予約は交付済みです"),
            )
        day = _day_of(row)
        if day > timezone.localtime(now, TOKYO).date():
            raise CounterError(
                "not_yet",
                _("この予約は %(day)s の予約です。当日より前には交付を記録できません")
                % {"day": f"{day:%Y-%m-%d}"},
            )
        if card is not None:
            _check_card_can_be_handed_over(card, row)
        row.outcome = Booking.Outcome.VISITED
        row.outcome_at = now
        row.outcome_by = actor.username
        row.checked_in_at = row.checked_in_at or now
        row.save(update_fields=["outcome", "outcome_at", "outcome_by", "checked_in_at"])
        if card is not None:
            do_move_cards(
                [card.pk],
                CardState.HANDED_OVER,
                actor=actor.username,
                note="交付",
                place=row.slot.place,
                now=now,
            )
        oplog.record(actor, "counter.hand_over", _target(row), {"booking": row.pk})
    return row


def do_mark_no_show(booking: Booking, *, actor: oplog.Actor, now: dt.datetime | None = None) -> Booking:
    """Nobody came. A card still in the back office goes back to "notice sent", so the person can book again;
    a card already moved to the counter stays there (the lists and the card screen show it must go back)."""
    now = now or timezone.now()
    with _refusals():
        card = _locked_card(booking)
        row = _locked_booking(booking)
        _refuse_if_ended(row)
        if now < row.slot.starts_at:
            at = timezone.localtime(row.slot.starts_at, TOKYO)
            raise CounterError(
                "too_early",
                _("予約の時刻（%(at)s）より前は「来庁なし」にできません") % {"at": f"{at:%Y-%m-%d %H:%M}"},
            )
        row.outcome = Booking.Outcome.NO_SHOW
        row.outcome_at = now
        row.outcome_by = actor.username
        row.save(update_fields=["outcome", "outcome_at", "outcome_by"])
        if card is not None:
            card_booking_ended(card, actor=actor.username, note="来庁なし", now=now)
        oplog.record(actor, "counter.no_show", _target(row), {"booking": row.pk})
    return row


@contextmanager
def _refusals() -> Iterator[None]:
    """One transaction; the database's and the card lifecycle's refusals become CounterErrors."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        raise _database_refusal(error) from error
    except CardMoveError as error:
        raise CounterError("card_illegal_move", error.message) from error


def _database_refusal(error: IntegrityError) -> CounterError:
    constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") or ""
    if constraint == "booking_legal_change":
        return CounterError(
            "outcome_final",
            _("来庁結果は既に記録されていて変更できません"),
        )
    if constraint == "booking_outcome_of_confirmed":
        return CounterError(
            "cancelled",
            _("取り消された予約には来庁結果を記録できません"),
        )
    if constraint == "card_legal_move":
        return CounterError(
            "card_illegal_move",
            _("カードの状態が変わったため記録できませんでした"),
        )
    raise error


def _locked_card(booking: Booking) -> Card | None:
    """The card's row first, then the booking's: the order every booking service takes them in."""
    if booking.card_id is None:
        return None
    return Card.objects.select_for_update(of=("self",)).select_related("at_place").get(pk=booking.card_id)


def _locked_booking(booking: Booking) -> Booking:
    return (
        Booking.objects.select_for_update(of=("self",))
        .select_related("card", "slot__place")
        .get(pk=booking.pk)
    )


def _refuse_if_cancelled(row: Booking) -> None:
    if row.status == Booking.Status.CANCELLED:
        raise CounterError("cancelled", _("この予約は取り消されています"))


def _refuse_if_ended(row: Booking) -> None:
    _refuse_if_cancelled(row)
    if row.outcome:
        outcome = Booking.Outcome(row.outcome)
        raise CounterError(
            f"already_{row.outcome}",
            _("この予約は「%(outcome)s」として記録済みです") % {"outcome": outcome.label},
        )


def _check_card_can_be_handed_over(card: Card, row: Booking) -> None:
    if card.state == CardState.MOVED and card.at_place_id not in (None, row.slot.place_id):
        where = card.at_place.label if card.at_place else ""
        raise CounterError(
            "card_elsewhere",
            _("カードは「%(place)s」に移送されています。この窓口にはありません") % {"place": where},
        )
    if card.state not in {CardState.BOOKED, CardState.MOVED}:
        state = CardState(card.state).label
        raise CounterError(
            "card_not_ready",
            _("カードの状態が「%(state)s」のため交付を記録できません") % {"state": state},
        )
    if row.outcome == Booking.Outcome.NO_SHOW and _booked_again(card, row.pk).exists():
        raise CounterError(
            "rebooked",
            _("この方は来庁なしの後に別の予約をしています。その予約で交付してください"),
        )


def _booked_again(card: Any, booking: Any) -> QuerySet[Booking]:
    """The card's standing bookings other than `booking` (a card or its id, or outer references): after a
    no-show, the one the card is handed over with. The counter's row and its service ask this alike."""
    return Booking.objects.filter(card=card, status=Booking.Status.CONFIRMED, outcome="").exclude(pk=booking)


def _day_of(row: Booking) -> dt.date:
    return timezone.localtime(row.slot.starts_at, TOKYO).date()


def _target(row: Booking) -> str:
    return row.card.reservation_number if row.card else f"booking {row.pk}"
