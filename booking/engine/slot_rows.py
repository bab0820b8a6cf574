"""The Slot row a booking takes, inside the booking's transaction (`services._bookable_slot` judges it).

`locked_day`: the place's opening patterns for the service share-locked, then read with the day's closed
days and the Slot row at the asked start, if made: two statements where there were five. `made_slot`: the
row made on first use (or the one a concurrent booking made first).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection

from booking.lib.dates import TOKYO
from booking.models import OpeningPattern, Place, Service, Slot
from booking.rules.schedule import SlotTime


@dataclass(frozen=True)
class LockedDay:
    patterns: list[OpeningPattern]  # the place's for the service, in the order the schedule reads them
    closed: set[dt.date]  # the day, if the tenant closed it for the place (or all places)
    slot: Slot | None  # the row at the asked start, if made; its place and service are the caller's


def locked_day(place: Place, service: Service, starts_at: dt.datetime) -> LockedDay:
    """The patterns are share-locked first: an administrator's change to them waits for this booking, and
    this booking, if it comes second, reads the changed patterns (configuration.patterns). The read is a
    statement of its own for that reason (a statement that waited for a lock does not see rows committed
    meanwhile)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM booking_openingpattern WHERE place_id = %s AND service_id = %s FOR SHARE",
            [place.pk, service.pk],
        )
    day = starts_at.astimezone(TOKYO).date()
    patterns = list(
        OpeningPattern.objects.raw(
            """
            SELECT p.*,
                   ARRAY(SELECT c.date FROM booking_closedday c
                          WHERE c.date = %(day)s AND (c.place_id IS NULL OR c.place_id = %(place)s)
                   ) AS closed_on,
                   s.id AS slot_id, s.ends_at AS slot_ends_at,
                   s.capacity AS slot_capacity, s.taken AS slot_taken
              FROM booking_openingpattern p
              LEFT JOIN booking_slot s
                ON s.place_id = %(place)s AND s.service_id = %(service)s AND s.starts_at = %(starts_at)s
             WHERE p.place_id = %(place)s AND p.service_id = %(service)s
             ORDER BY p.opens_at, p.id
            """,
            {"day": day, "place": place.pk, "service": service.pk, "starts_at": starts_at},
        )
    )
    if not patterns:
        return LockedDay(patterns=[], closed=set(), slot=None)
    # The columns after p.* are the same on every pattern's row
    first: Any = patterns[0]
    slot = None
    if first.slot_id is not None:
        slot = Slot(
            pk=first.slot_id,
            place=place,
            service=service,
            starts_at=starts_at,
            ends_at=first.slot_ends_at,
            capacity=first.slot_capacity,
            taken=first.slot_taken,
        )
    return LockedDay(patterns=patterns, closed=set(first.closed_on), slot=slot)


def made_slot(place: Place, service: Service, slot_time: SlotTime) -> Slot:
    """The Slot row made for `slot_time` now, or the one a concurrent booking made first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO booking_slot (place_id, service_id, starts_at, ends_at, capacity, taken)"
            " VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT (place_id, service_id, starts_at) DO NOTHING"
            " RETURNING id",
            [place.pk, service.pk, slot_time.starts_at, slot_time.ends_at, slot_time.capacity],
        )
        made = cursor.fetchone()
    if made is None:
        slot = Slot.objects.get(place=place, service=service, starts_at=slot_time.starts_at)
        slot.place, slot.service = place, service
        return slot
    return Slot(
        pk=made[0],
        place=place,
        service=service,
        starts_at=slot_time.starts_at,
        ends_at=slot_time.ends_at,
        capacity=slot_time.capacity,
        taken=0,
    )
