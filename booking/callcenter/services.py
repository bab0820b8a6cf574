"""The call center's own work (CC-01, CC-03, CC-05): finding a caller's card, the call log, the script.

Bookings themselves go through booking.services like every other channel; this module only adds what a
telephone conversation needs around them.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from booking.audit import oplog
from booking.cards import credentials
from booking.engine import services
from booking.engine.notifications import booking_values, render_text
from booking.engine.queries import booking_rules
from booking.lib.dates import TOKYO
from booking.lib.japanese import same_kana
from booking.models import Booking, CallLogEntry, Card, Place, Service


class CallerNotFound(Exception):
    pass


def do_identify_caller(
    actor: oplog.Actor, reservation_number: str, *, birth_date: dt.date | None, name_kana: str
) -> Card:
    """The caller's card if the number and the birth date or the kana name match (instead of the password)."""
    number = credentials.normalise_reservation_number(reservation_number)
    card = Card.objects.filter(reservation_number=number).first() if number else None
    matched = card is not None and (
        (birth_date is not None and card.birth_date == birth_date)
        or (bool(name_kana.strip()) and same_kana(card.name_kana, name_kana))
    )
    oplog.record(
        actor, "caller.identify" if matched else "caller.identify_failed", number or reservation_number[:40]
    )
    if not matched or card is None:
        raise CallerNotFound
    return card


def do_log_call(actor: oplog.Actor, kind: str, now: dt.datetime | None = None) -> CallLogEntry:
    if kind not in CallLogEntry.Kind.values:
        raise ValueError(f"unknown call kind {kind!r}")
    with transaction.atomic():
        entry = CallLogEntry.objects.create(at=now or timezone.now(), kind=kind, operator=actor.username)
        oplog.record(actor, "call.log", kind)
    return entry


def call_tallies(day: dt.date) -> dict[str, int]:
    start = dt.datetime.combine(day, dt.time.min, TOKYO)
    counts = dict(
        CallLogEntry.objects.filter(at__gte=start, at__lt=start + dt.timedelta(days=1))
        .values_list("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    return {kind: counts.get(kind, 0) for kind in CallLogEntry.Kind.values}


def script_lines(booking: Booking) -> list[str]:
    """What the operator reads out after booking (CC-03): the tenant's items, one a line, filled in."""
    values = booking_values(booking)
    return [
        render_text(line, values) for line in booking_rules().callcenter_script.splitlines() if line.strip()
    ]


def do_confirm_script_read(actor: oplog.Actor, booking: Booking) -> None:
    oplog.record(actor, "caller.script_read", f"booking {booking.pk}")


def do_move_visit(
    actor: oplog.Actor,
    visit: Booking,
    place: Place,
    starts_at: dt.datetime,
    *,
    service: Service,
    seen_slot: int | None,
    caller_name_kana: str,
    contact_phone: str,
) -> Booking:
    """Move a phone-only visit, and keep the caller's name and number as the operator has them now (the
    form shows both for correcting). `seen_slot` is the slot the operator's page showed: a move made since
    (another operator, another tab) is refused, not silently moved again. A time not changed keeps the
    slot; the name and number are still taken."""
    with transaction.atomic():
        if seen_slot != visit.slot_id:
            raise services.BookingError("changed_meanwhile")
        moved = services.do_move_booking(
            visit, place, starts_at, service=service, channel=Booking.Channel.PHONE, actor=actor
        )
        caller = {"caller_name_kana": caller_name_kana, "contact_phone": contact_phone}
        changed = sorted(field for field, value in caller.items() if getattr(moved, field) != value)
        if changed:
            confirmed = Booking.Status.CONFIRMED
            still = Booking.objects.filter(pk=moved.pk, status=confirmed, slot_id=moved.slot_id)
            if not still.update(**caller):  # cancelled meanwhile: not corrected, not logged as corrected
                raise services.BookingError("no_booking")
            # which fields, not their values: the operation log holds no caller's number
            oplog.record(actor, "visit.caller_changed", f"booking {moved.pk}", {"fields": changed})
            moved.refresh_from_db()
    return moved
