"""Writes of the booking domain: cards, holds, bookings. Each `do_*` is one transaction.

Capacity and one-active-booking-per-card are kept by PostgreSQL (see the Slot and Booking models and
migration 0003): these functions check what they can to give a precise answer, and map the database's
refusals (which win any race) to the same answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from booking.audit import oplog
from booking.cards import credentials
from booking.cards import moves as lifecycle
from booking.engine import idempotency, outbox, slot_rows
from booking.engine.notifications import BOOKED, CANCELLED, CHANGED
from booking.engine.queries import booking_rules
from booking.engine.refusals import BookingError, card_refusal
from booking.engine.retry import retried
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingEvent, BookingSettings, Card, Hold, Place, Service, Slot
from booking.rules import schedule, windows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedCard:
    card: Card
    password: str  # the only moment the clear password exists: printed on the notice letter


def _constraint_of(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def database_refusal(error: IntegrityError) -> BookingError:
    constraint = _constraint_of(error)
    if constraint == "slot_taken_within_capacity":
        return BookingError("slot_full")
    if constraint in {"booking_one_active_per_card", "booking_hold_card_id_key"}:
        return BookingError("already_booked")
    raise error


# --- cards ---------------------------------------------------------------------------------------------


def do_issue_card(
    *, application_id: str, name: str, name_kana: str, birth_date: dt.date, postal_code: str, address: str
) -> IssuedCard:
    """A new card with a fresh unique reservation number and password."""
    password = credentials.new_password()
    for _attempt in range(20):
        number = credentials.new_reservation_number()
        try:
            with transaction.atomic():
                card = Card.objects.create(
                    application_id=application_id,
                    reservation_number=number,
                    password_digest=credentials.password_digest(password),
                    name=name,
                    name_kana=name_kana,
                    birth_date=birth_date,
                    postal_code=postal_code,
                    address=address,
                )
        except IntegrityError as error:
            if "reservation_number" in str(error):
                continue  # one in 10^12: draw again
            raise
        return IssuedCard(card=card, password=password)
    raise RuntimeError("could not draw a unique reservation number")


def do_reissue_credentials(card: Card) -> IssuedCard:
    password = credentials.new_password()
    with transaction.atomic():
        card.password_digest = credentials.password_digest(password)
        card.save(update_fields=["password_digest"])
        card.tokens.all().delete()  # API sessions opened with the old password end with it
    return IssuedCard(card=card, password=password)


# --- slots ---------------------------------------------------------------------------------------------


def _bookable_slot(
    place: Place, service: Service, starts_at: dt.datetime, rules: BookingSettings, now: dt.datetime
) -> Slot:
    """The Slot row for a start the rules allow now (made on first use), read under the lock on the
    place's opening patterns (slot_rows.locked_day)."""
    day = slot_rows.locked_day(place, service, starts_at)
    offered = schedule.day_slots(place, day.patterns, starts_at.astimezone(TOKYO).date(), day.closed)
    slot_time = next((t for t in offered if t.starts_at == starts_at), None)
    if slot_time is None:
        raise BookingError("invalid", "no such slot")
    if not windows.within_window(slot_time.starts_at, now, rules, place):
        raise BookingError("outside_window")
    return day.slot or slot_rows.made_slot(place, service, slot_time)


def release_expired_holds(now: dt.datetime, slot: Slot | None = None) -> int:
    holds = Hold.objects.filter(expires_at__lte=now)
    if slot is not None:
        holds = holds.filter(slot=slot)
    deleted, _ = holds.delete()
    return deleted


def do_release_expired_holds(now: dt.datetime | None = None) -> int:
    with transaction.atomic():
        return release_expired_holds(now or timezone.now())


# --- bookings ------------------------------------------------------------------------------------------


def active_booking(card: Card) -> Booking | None:
    return (
        Booking.objects.select_related("slot__place", "slot__service")
        .filter(card=card, status=Booking.Status.CONFIRMED, outcome="")
        .first()
    )


def _lock_bookable_card(card: Card) -> str:
    """Lock the card's row for the booking's transaction; refuse a card not (or no longer) bookable.

    Every booking path takes this lock first, so a booking and a staff move of the card serialize. The
    state read under the lock is returned.
    """
    # with_probe: the external prober's card is found here so that it is refused by name, never booked (BK-08)
    state, probe = Card.with_probe.select_for_update().values_list("state", "probe").get(pk=card.pk)
    _refuse_unbookable(state, probe)
    return state


def _lock_card_to_book(card: Card) -> str:
    """`_lock_bookable_card` for a new booking, refusing too a card that has one: one statement. The state
    read under the lock is returned (the card's move to "booked" starts from it).

    A booking committed while this waited for the lock is not seen here (the statement's snapshot is older):
    the one-active-booking index refuses the insert then, with the same answer."""
    with connection.cursor() as cursor:
        # with_probe's row, as in _lock_bookable_card; plain SQL: the ORM's compiling of this costs more
        # than the round trip, on the hottest statement of a flash crowd
        cursor.execute(
            "SELECT c.state, c.probe, EXISTS (SELECT 1 FROM booking_booking b"
            " WHERE b.card_id = c.id AND b.status = %s AND b.outcome = '')"
            " FROM booking_card c WHERE c.id = %s FOR UPDATE",
            [Booking.Status.CONFIRMED, card.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Card.DoesNotExist
    state, probe, booked = row
    if booked:
        raise BookingError("already_booked")
    _refuse_unbookable(state, probe)
    return state


def _refuse_unbookable(state: str, probe: bool) -> None:
    refusal = card_refusal(state, probe)
    if refusal is not None:
        raise refusal


def _check_channel(service: Service, channel: str) -> None:
    if channel == Booking.Channel.WEB and not service.web_bookable:
        raise BookingError("web_not_offered")


def _written_at(now: dt.datetime, **booking: object) -> Booking | None:
    """The booking a lost attempt of this very call committed, found by its event's time, the call's own
    `now` (booking.engine.retry): the request answers with it, not with "already booked"."""
    where = {f"booking__{field}": value for field, value in booking.items()}
    kinds = [BookingEvent.Kind.BOOKED, BookingEvent.Kind.CHANGED]
    confirmed = Booking.Status.CONFIRMED
    found = BookingEvent.objects.filter(at=now, kind__in=kinds, booking__status=confirmed, **where)
    event = found.select_related("booking__slot__place", "booking__slot__service").order_by("-pk").first()
    return event.booking if event else None


@retried(lambda card, *_args, now, **_kwargs: _written_at(now, card=card))
def do_book(
    card: Card,
    place: Place,
    service: Service,
    starts_at: dt.datetime,
    *,
    channel: str = Booking.Channel.WEB,
    contact_phone: str = "",
    contact_email: str = "",
    language: str = Booking.Language.JA,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
    rules: BookingSettings | None = None,
) -> Booking:
    """A new booking; `actor` is the staff user making it for the person ("" when it is the person);
    `language` is the one the person used, the language of every mail about the booking. `rules`: the
    booking settings if the caller has them current (availability_cache.kept_setup), else read here."""
    now = now or timezone.now()
    _check_channel(service, channel)
    rules = rules or booking_rules()
    try:
        with transaction.atomic(savepoint=idempotency.savepoint_needed()):
            state = _lock_card_to_book(card)
            slot = _bookable_slot(place, service, starts_at, rules, now)
            with connection.cursor() as cursor:
                # The slot's expired holds (they count against capacity until gone) and this person's hold
                # (a booking made elsewhere ends it), in one statement: no row has a post_delete listener
                # that needs the ORM's delete (it reads the rows first).
                cursor.execute(
                    "DELETE FROM booking_hold WHERE card_id = %s OR (slot_id = %s AND expires_at <= %s)",
                    [card.pk, slot.pk, now],
                )
            booking = Booking.objects.create(
                card=card,
                slot=slot,
                channel=channel,
                contact_phone=contact_phone,
                contact_email=contact_email,
                language=language,
            )
            _event(booking, BookingEvent.Kind.BOOKED, channel, actor, now, to_slot=slot)
            lifecycle.card_booked(card, actor=_name(actor), now=now, state=state)
            _queue_mail(booking, BOOKED)
    except IntegrityError as error:
        raise database_refusal(error) from error
    return booking


def do_change(
    card: Card,
    place: Place | None,
    starts_at: dt.datetime | None,
    *,
    service: Service | None = None,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
) -> Booking:
    """Move the card's booking to another slot in one transaction; if that slot is full the old one stays.
    A place or a start not given stays the booking's own (another time at the same place, or the same time
    at another place)."""
    booking = active_booking(card)
    if booking is None:
        raise BookingError("no_booking")
    return do_move_booking(
        booking,
        place or booking.slot.place,
        starts_at or booking.slot.starts_at,
        service=service,
        channel=channel,
        actor=actor,
        now=now,
    )


def do_move_booking(
    booking: Booking,
    place: Place,
    starts_at: dt.datetime,
    *,
    service: Service | None = None,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
) -> Booking:
    """Move a booking (a card's or a visit) to another slot; if that slot is full the old one stays."""
    now = now or timezone.now()
    rules = booking_rules()
    if not windows.can_change(
        booking.slot.starts_at, now, rules, by_operator=channel == Booking.Channel.PHONE
    ):
        raise BookingError("deadline_passed")
    service = service or booking.slot.service
    if booking.card is not None:
        _check_channel(service, channel)
    try:
        with transaction.atomic():
            slot = _bookable_slot(place, service, starts_at, rules, now)
            if slot.pk == booking.slot_id:
                return booking
            release_expired_holds(now, slot)
            if booking.card is not None:
                Hold.objects.filter(card=booking.card).delete()
            # From the slot it was read at: a move made meanwhile (another request, another operator) is not
            # silently overwritten, nor is a place or time a partial change kept taken from before it.
            still = Booking.objects.filter(pk=booking.pk, status=Booking.Status.CONFIRMED, outcome="")
            if not still.filter(slot_id=booking.slot_id).update(slot=slot, changed_at=now):
                raise BookingError("changed_meanwhile" if still.exists() else "no_booking")
            _event(booking, BookingEvent.Kind.CHANGED, channel, actor, now, booking.slot, slot)
            _queue_mail(booking, CHANGED)
    except IntegrityError as error:
        raise database_refusal(error) from error
    booking.refresh_from_db()
    return booking


def do_cancel(
    card: Card,
    *,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
    seen: str = "",
) -> Booking:
    """Cancel the card's booking; `seen`, the booking id a form showed, if it came from one: a page opened
    for another booking (an operator's tab of the last caller) cancels nothing."""
    booking = active_booking(card)
    if booking is None:
        raise BookingError("no_booking")
    if seen and seen != str(booking.pk):
        raise BookingError("other_page")
    return do_cancel_booking(booking, channel=channel, actor=actor, now=now)


def do_cancel_booking(
    booking: Booking,
    *,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
) -> Booking:
    now = now or timezone.now()
    if not windows.can_change(booking.slot.starts_at, now, booking_rules(), by_operator=channel == "phone"):
        raise BookingError("deadline_passed")
    with transaction.atomic():
        if booking.card is not None:
            Card.objects.select_for_update().filter(pk=booking.card.pk).first()  # before the booking row
        cancelled = Booking.objects.filter(pk=booking.pk, status=Booking.Status.CONFIRMED, outcome="").update(
            status=Booking.Status.CANCELLED, cancelled_at=now
        )
        if not cancelled:
            raise BookingError("no_booking")
        _event(booking, BookingEvent.Kind.CANCELLED, channel, actor, now, from_slot=booking.slot)
        if booking.card is not None:
            lifecycle.card_booking_ended(booking.card, actor=_name(actor), note="予約取消", now=now)
        _queue_mail(booking, CANCELLED)
    booking.refresh_from_db()
    return booking


@retried(
    lambda *_args, now, caller_name_kana, **_kwargs: _written_at(
        now, card=None, caller_name_kana=caller_name_kana.strip()
    )
)
def do_book_visit(
    place: Place,
    service: Service,
    starts_at: dt.datetime,
    *,
    caller_name_kana: str,
    contact_phone: str,
    actor: oplog.Actor | str,
    now: dt.datetime | None = None,
) -> Booking:
    """A phone-only service booked by an operator for a caller with no reservation number (BK-11): only the
    name in kana and a phone number identify the visit (BK-06). Capacity as for every booking."""
    now = now or timezone.now()
    if not caller_name_kana.strip() or not contact_phone.strip():
        raise BookingError("invalid", "name and phone are required")
    rules = booking_rules()
    try:
        with transaction.atomic():
            slot = _bookable_slot(place, service, starts_at, rules, now)
            release_expired_holds(now, slot)
            booking = Booking.objects.create(
                card=None,
                caller_name_kana=caller_name_kana.strip(),
                contact_phone=contact_phone.strip(),
                slot=slot,
                channel=Booking.Channel.PHONE,
            )
            _event(booking, BookingEvent.Kind.BOOKED, Booking.Channel.PHONE, actor, now, to_slot=slot)
    except IntegrityError as error:
        raise database_refusal(error) from error
    return booking


# --- holds (the citizen's web flow) --------------------------------------------------------------------


def _hold_to_find(*_args: object, **_kwargs: object) -> Hold | None:
    return None  # a retried hold replaces the card's hold: a lost attempt's need not be found first


@retried(_hold_to_find)
def do_hold(
    card: Card,
    place: Place,
    service: Service,
    starts_at: dt.datetime,
    *,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
    held_since: dt.datetime | None = None,
) -> Hold:
    """Hold a time for this person while they (or the operator on the phone) confirm; it counts against
    capacity until it expires. Holding the same time again keeps when it was first held (`held_since` for a
    hold already swept away), so that the limit on extensions (engine.holds) cannot be reset that way."""
    now = now or timezone.now()
    _check_channel(service, channel)
    rules = booking_rules()
    booking = active_booking(card)
    by_operator = channel == Booking.Channel.PHONE
    if booking and not windows.can_change(booking.slot.starts_at, now, rules, by_operator=by_operator):
        raise BookingError("deadline_passed")
    try:
        with transaction.atomic():
            _lock_bookable_card(card)
            earlier = Hold.objects.filter(card=card).values_list("slot_id", "created_at").first()
            Hold.objects.filter(card=card).delete()
            slot = _bookable_slot(place, service, starts_at, rules, now)
            release_expired_holds(now, slot)
            if booking and booking.slot_id == slot.pk:
                raise BookingError("same_slot")
            hold = Hold.objects.create(
                card=card, slot=slot, expires_at=now + dt.timedelta(minutes=rules.hold_minutes)
            )
            first = [t for t in (held_since, earlier[1] if earlier and earlier[0] == slot.pk else None) if t]
            if first:
                hold.created_at = min(first)
                Hold.objects.filter(pk=hold.pk).update(created_at=hold.created_at)
            _record_operator(actor, "booking.hold", f"card {card.pk}", {"to": _slot_detail(slot)})
            return hold
    except IntegrityError as error:
        raise database_refusal(error) from error


def do_release_hold(card: Card, *, actor: oplog.Actor | str = "") -> None:
    with transaction.atomic():
        released, _by_model = Hold.objects.filter(card=card).delete()
        if released:  # an operator's release of nothing changed nothing: no entry
            _record_operator(actor, "booking.hold_released", f"card {card.pk}", {})


@retried(lambda card, *_args, now, **_kwargs: _written_at(now, card=card))
def do_confirm_hold(
    card: Card,
    *,
    contact_phone: str = "",
    contact_email: str = "",
    channel: str = Booking.Channel.WEB,
    language: str | None = None,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
    hold_id: int | None = None,
) -> Booking:
    """Turn the held time into the booking (a new one, or the card's booking moved there). `language` is the
    one the person is using (None: Japanese for a new booking, the booking's own for a change). `hold_id`:
    the hold the confirming page showed; another hold of the card (a time chosen or held anew in another tab
    since) is refused as `hold_changed`, checked under the hold's lock."""
    now = now or timezone.now()
    by_operator = channel == Booking.Channel.PHONE
    try:
        with transaction.atomic():
            state = _lock_bookable_card(card)
            hold = Hold.objects.select_for_update().select_related("slot").filter(card=card).first()
            if hold is None or hold.expires_at <= now:
                if hold is not None:
                    hold.delete()
                raise BookingError("hold_expired")
            if hold_id is not None and hold.pk != hold_id:
                raise BookingError("hold_changed")
            slot = hold.slot
            booking = (
                Booking.objects.select_for_update()
                .filter(card=card, status=Booking.Status.CONFIRMED, outcome="")
                .first()
            )
            if booking and not windows.can_change(
                Slot.objects.get(pk=booking.slot_id).starts_at, now, booking_rules(), by_operator=by_operator
            ):
                raise BookingError("deadline_passed")
            hold.delete()  # first release the held place, then take it as the booking
            if booking is None:
                booking = Booking.objects.create(
                    card=card,
                    slot=slot,
                    channel=channel,
                    contact_phone=contact_phone,
                    contact_email=contact_email,
                    language=language or Booking.Language.JA,
                )
                kind = BOOKED
                _event(booking, BookingEvent.Kind.BOOKED, channel, actor, now, to_slot=slot)
                lifecycle.card_booked(card, actor=_name(actor), now=now, state=state)
            else:
                kind = CHANGED
                _event(booking, BookingEvent.Kind.CHANGED, channel, actor, now, booking.slot, slot)
                booking.slot = slot
                booking.changed_at = now
                booking.contact_phone = contact_phone
                booking.contact_email = contact_email
                booking.language = language or booking.language
                booking.save(
                    update_fields=["slot", "changed_at", "contact_phone", "contact_email", "language"]
                )
            _queue_mail(booking, kind)
    except IntegrityError as error:
        raise database_refusal(error) from error
    return booking


def _name(actor: oplog.Actor | str) -> str:
    """Who acted, as BookingEvent and CardEvent name them: the staff user ID, "" for the person."""
    return actor.username if isinstance(actor, oplog.Actor) else actor


def _record_operator(actor: oplog.Actor | str, action: str, target: str, detail: dict[str, object]) -> None:
    """An operator's write goes in the operation log too (SO-14), in the caller's transaction.

    Views pass the signed-in operator as an `oplog.Actor` (user ID and address); a bare name (scripts,
    tests) is logged without a user ID. A resident acting for themselves ("") is recorded in BookingEvent
    only: the operation log is for staff.
    """
    if not actor:
        return
    who = actor if isinstance(actor, oplog.Actor) else oplog.Actor(None, actor, "")
    oplog.record(who, action, target, detail)


def _slot_detail(slot: Slot | None) -> dict[str, object] | None:
    if slot is None:
        return None
    return {"place": slot.place_id, "service": slot.service_id, "starts_at": slot.starts_at.isoformat()}


def _event(
    booking: Booking,
    kind: str,
    channel: str,
    actor: oplog.Actor | str,
    now: dt.datetime,
    from_slot: Slot | None = None,
    to_slot: Slot | None = None,
) -> None:
    BookingEvent.objects.create(
        booking=booking,
        at=now,
        kind=kind,
        channel=channel,
        actor=_name(actor),
        from_slot=from_slot,
        to_slot=to_slot,
    )
    detail: dict[str, object] = {
        "channel": channel,
        "from": _slot_detail(from_slot),
        "to": _slot_detail(to_slot),
    }
    _record_operator(actor, f"booking.{kind}", f"booking {booking.pk}", detail)


def _queue_mail(booking: Booking, kind: str) -> None:
    """The mail about the booking (`kind`: made, changed, cancelled) into the outbox, in the caller's
    transaction: the change and its mail are committed together or not at all, and a broker outage only
    delays the mail (`booking.engine.outbox`)."""
    outbox.queue_booking_mail(booking, kind)
