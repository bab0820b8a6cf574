"""The slots a migration import puts its bookings in (SO-20): the tenant's own where they exist, else made
from the opening pattern of that time, else (no pattern offers the time) sized for the people booked."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence

from booking.lib.dates import TOKYO
from booking.migration.records import CANCELLED, BookingRow
from booking.models import OpeningPattern, Place, Service, Slot
from booking.rules import schedule
from integrations.legacy_import import BOOKINGS, Problem

# The length of a slot made for a time no opening pattern offers, when the file gives no end time.
FALLBACK_SLOT = dt.timedelta(minutes=15)


class Slots:
    """The Slot row of each booking's time: the tenant's own, else one made with the opening pattern's
    capacity for that time, else (no pattern offers it) with as many places as the file has people there.
    The missing ones are made together, up front."""

    def __init__(
        self, places: dict[str, Place], services: dict[str, Service], rows: Sequence[BookingRow]
    ) -> None:
        self.created = 0
        self.unpatterned: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
        self.by_key: dict[SlotKey, Slot] = {}
        if not rows:
            return
        starts = [row.starts_at for row in rows]
        existing = Slot.objects.filter(
            place__in={places[row.place] for row in rows},
            starts_at__gte=min(starts),
            starts_at__lte=max(starts),
        ).select_related("place", "service")
        self.by_key = {(slot.place.code, slot.service.code, slot.starts_at): slot for slot in existing}
        patterns: dict[tuple[int, int], list[OpeningPattern]] = defaultdict(list)
        for pattern in OpeningPattern.objects.filter(place__in=places.values()):
            patterns[(pattern.place_id, pattern.service_id)].append(pattern)
        people = Counter(_slot_key(row) for row in rows if row.status != CANCELLED)
        missing: dict[SlotKey, Slot] = {}
        for row in rows:
            key = _slot_key(row)
            if key in self.by_key or key in missing:
                continue
            place, service = places[row.place], services[row.service]
            offered = _offered(patterns.get((place.pk, service.pk), []), row.starts_at)
            if offered is not None:
                ends_at, capacity = offered.ends_at, offered.capacity
            else:
                ends_at = row.ends_at or row.starts_at + FALLBACK_SLOT
                capacity = max(1, people[key])
                self.unpatterned[(row.place, row.service)].append(row.starts_at)
            missing[key] = Slot(
                place=place, service=service, starts_at=row.starts_at, ends_at=ends_at, capacity=capacity
            )
        # The slot table is locked for the import (importer._lock): nobody else makes one of these meanwhile.
        Slot.objects.bulk_create(missing.values(), batch_size=1000)
        self.by_key.update(missing)
        self.created = len(missing)

    def slot_for(self, row: BookingRow) -> Slot:
        return self.by_key[_slot_key(row)]

    def warnings(self) -> Iterator[Problem]:
        for (place, service), times in sorted(self.unpatterned.items()):
            shown = ", ".join(f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M}" for moment in sorted(times)[:3])
            more = "…" if len(times) > 3 else ""
            yield Problem(
                BOOKINGS,
                None,
                "",
                f"{place} / {service}: 受付パターンにない時間が{len(times)}件あり（{shown}{more}）、"
                "その時間の定員は予約の人数にしました",
                f"{place} / {service}: {len(times)} time(s) no opening pattern offers ({shown}{more}); "
                "their capacity is the number of people booked",
            )


SlotKey = tuple[str, str, dt.datetime]


def _slot_key(row: BookingRow) -> SlotKey:
    return (row.place, row.service, row.starts_at)


def _offered(patterns: Iterable[OpeningPattern], starts_at: dt.datetime) -> schedule.SlotTime | None:
    """The pattern's slot at that time. Holidays, closed days and the place's dates are ignored on purpose:
    the booking was made, and only the pattern's capacity and slot length are wanted."""
    day = starts_at.astimezone(TOKYO).date()
    for pattern in patterns:
        for slot in schedule.pattern_slots(pattern, day):
            if slot.starts_at == starts_at:
                return slot
    return None
