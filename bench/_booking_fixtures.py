"""The booking benchmark's fixtures and raw SQL: the cards and slots it makes, the raw-psycopg booking, the
slot invariants it checks, and the clean-up of everything it made (bench/booking_bench.py runs it).

Imported by the script after `django.setup()`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.utils import timezone
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from booking.cards import credentials
from booking.engine import queries
from booking.models import Card, Place, Service, Slot
from booking.rules import windows
from booking.rules.card_states import CardState

SCHEMA = "kyoto"
SERVICE_CODE = "card_issuance"
# Every card the benchmark makes has an application ID starting with these digits (5 + 18 = 23 digits),
# which is how the clean-up finds them.
CARD_PREFIX = "99999"
PLAIN_TABLE = "bench_plain_booking"
PASSWORD = "BENCH2345X"  # noqa: S105 - the benchmark's own cards, deleted at the end

RawConnection = psycopg.Connection[TupleRow]

BOOKING_COLUMNS = "(card_id, slot_id, status, channel, contact_phone, contact_email, created_at)"
BOOKING_VALUES = " VALUES (%s, %s, 'confirmed', %s, '', '', now()) RETURNING id"
INSERT_BOOKING = "INSERT INTO booking_booking " + BOOKING_COLUMNS + BOOKING_VALUES
INSERT_HISTORY = (
    "INSERT INTO booking_bookingevent (booking_id, at, kind, channel, actor, from_slot_id, to_slot_id)"
    " VALUES (%s, now(), 'booked', %s, '', NULL, %s)"
)
INSERT_PLAIN = f"INSERT INTO {PLAIN_TABLE} " + BOOKING_COLUMNS + BOOKING_VALUES  # noqa: S608 - constants
LOCK_SLOT = "SELECT taken, capacity FROM booking_slot WHERE id = %s FOR UPDATE"
SLOT_AUDIT = (
    "SELECT s.id, s.capacity, s.taken,"
    " (SELECT count(*) FROM booking_booking b WHERE b.slot_id = s.id AND b.status = 'confirmed'),"
    " (SELECT count(*) FROM booking_hold h WHERE h.slot_id = s.id)"
    " FROM booking_slot s"
)


class InvariantBroken(RuntimeError):
    """A slot holds more people than its capacity, or its counter disagrees with its bookings."""


class SlotFull(Exception):
    """The raw-SQL path's equivalent of BookingError("slot_full")."""


# --- fixtures: cards, slots, connections ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A bookable slot the benchmark made, and the place it belongs to."""

    place: Place
    slot_id: int
    starts_at: dt.datetime
    capacity: int


class Fixtures:
    def __init__(self, service: Service, seed: int) -> None:
        self.service = service
        self.rng = random.Random(seed)
        self._card_counter = 0

    def cards(self, count: int) -> list[Card]:
        """Fresh cards made in bulk (issuing is not what is measured); unique numbers, fixed password."""
        digest = credentials.password_digest(PASSWORD)
        if self._card_counter == 0:
            # a database kept by an earlier run (--keep) holds its cards: number on after the highest
            last = (
                Card.objects.filter(application_id__startswith=CARD_PREFIX)
                .order_by("-application_id")
                .values_list("application_id", flat=True)
                .first()
            )
            self._card_counter = int(last[len(CARD_PREFIX) :]) if last else 0
        numbers: set[str] = set()
        while len(numbers) < count:
            numbers.add(credentials.new_reservation_number())
        taken = set(
            Card.objects.filter(reservation_number__in=numbers).values_list("reservation_number", flat=True)
        )
        while taken:  # one in 10^12 per card: draw again
            numbers -= taken
            while len(numbers) < count:
                numbers.add(credentials.new_reservation_number())
            taken = set(
                Card.objects.filter(reservation_number__in=numbers).values_list(
                    "reservation_number", flat=True
                )
            )
        cards = []
        for number in sorted(numbers):
            self._card_counter += 1
            cards.append(
                Card(
                    application_id=f"{CARD_PREFIX}{self._card_counter:018d}",
                    reservation_number=number,
                    password_digest=digest,
                    # Citizens book once the notice letter is out: the state do_book accepts.
                    state=CardState.NOTICE_SENT,
                    name="ベンチ 太郎",
                    name_kana="ベンチ タロウ",
                    birth_date=dt.date(1950, 4, 1),
                    postal_code="604-8571",
                    address="京都市中京区寺町通御池上る上本能寺前町488",
                )
            )
        self.rng.shuffle(cards)
        return Card.objects.bulk_create(cards, batch_size=2000)

    def slots(self, places: Sequence[Place], count: int, days: int) -> list[Target]:
        """`count` slots, made now, drawn at random from the free slots of `places` over `days` days."""
        now = timezone.now()
        first = windows.first_bookable_day(now, queries.booking_rules())
        candidates: list[tuple[Place, queries.FreeSlot]] = []
        for place in places:
            day = first
            while day < first + dt.timedelta(days=days):
                last = min(day + dt.timedelta(days=60), first + dt.timedelta(days=days - 1))
                candidates += [
                    (place, free)
                    for free in queries.free_slots(place, self.service, day, last, now=now)
                    if free.remaining == free.capacity
                ]
                day = last + dt.timedelta(days=1)
        existing = set(
            Slot.objects.filter(service=self.service, place__in=places).values_list("place_id", "starts_at")
        )
        candidates = [(p, f) for p, f in candidates if (p.pk, f.starts_at) not in existing]
        if len(candidates) < count:
            raise SystemExit(f"only {len(candidates)} free slots in {days} days; need {count}")
        chosen = self.rng.sample(candidates, count)
        return self._make(chosen)

    def consecutive_slots(self, place: Place, groups: int, size: int, days: int) -> list[list[Target]]:
        """`groups` runs of `size` consecutive slots of one place (the few popular times people race for)."""
        now = timezone.now()
        first = windows.first_bookable_day(now, queries.booking_rules(), place)
        free = [
            f
            for f in queries.free_slots(place, self.service, first, first + dt.timedelta(days=days), now=now)
            if f.remaining == f.capacity
        ]
        existing = set(
            Slot.objects.filter(service=self.service, place=place).values_list("starts_at", flat=True)
        )
        free = [f for f in free if f.starts_at not in existing]
        runs = [free[i : i + size] for i in range(0, len(free) - size + 1, size)]
        if len(runs) < groups:
            raise SystemExit(f"only {len(runs)} runs of {size} free slots at {place.code}; need {groups}")
        made = self._make([(place, f) for run in runs[:groups] for f in run])
        return [made[i : i + size] for i in range(0, len(made), size)]

    def _make(self, chosen: Sequence[tuple[Place, queries.FreeSlot]]) -> list[Target]:
        """The Slot rows as `services._bookable_slot` would make them on first use."""
        Slot.objects.bulk_create(
            [
                Slot(
                    place=place,
                    service=self.service,
                    starts_at=free.starts_at,
                    ends_at=free.ends_at,
                    capacity=free.capacity,
                )
                for place, free in chosen
            ],
            batch_size=2000,
        )
        ids = {
            (place_id, starts_at): slot_id
            for slot_id, place_id, starts_at in Slot.objects.filter(
                service=self.service, starts_at__in={free.starts_at for _, free in chosen}
            ).values_list("id", "place_id", "starts_at")
        }
        return [
            Target(
                place=place,
                slot_id=ids[(place.pk, free.starts_at)],
                starts_at=free.starts_at,
                capacity=free.capacity,
            )
            for place, free in chosen
        ]


def raw_connection() -> RawConnection:
    """A plain psycopg connection to the same database, on the tenant's schema as django-tenants sets it."""
    db = settings.DATABASES["default"]
    conninfo = make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER"),
        password=db.get("PASSWORD"),
        host=db.get("HOST"),
        port=db.get("PORT"),
    )
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(SCHEMA)))
    return conn


def raw_book(
    conn: RawConnection, card_id: int, slot_id: int, channel: str, *, lock: bool, table: str, history: bool
) -> None:
    """One booking as one transaction of plain SQL; the trigger (if the table has it) counts it.

    lock: first lock the slot row and check its count (as an application without the trigger would);
    history: also write the booking's history row, as do_book does (only with booking_booking).
    """
    try:
        with conn.transaction():
            if lock:
                row = conn.execute(LOCK_SLOT, (slot_id,)).fetchone()
                if row is None or row[0] >= row[1]:
                    raise SlotFull
            insert = INSERT_BOOKING if table == "booking_booking" else INSERT_PLAIN
            booked = conn.execute(insert, (card_id, slot_id, channel)).fetchone()
            if history:
                assert booked is not None
                conn.execute(INSERT_HISTORY, (booked[0], channel, slot_id))
    except psycopg.errors.CheckViolation as error:
        if error.diag.constraint_name == "slot_taken_within_capacity":
            raise SlotFull from error
        raise


# --- invariants ----------------------------------------------------------------------------------------


def audit_slots(
    conn: RawConnection, slot_ids: Sequence[int] | None = None
) -> list[tuple[int, int, int, int, int]]:
    """Every slot (or those given) as (id, capacity, taken, confirmed, holds); raises if any is wrong."""
    if slot_ids is None:
        rows = conn.execute(SLOT_AUDIT).fetchall()
    else:
        rows = conn.execute(SLOT_AUDIT + " WHERE s.id = ANY(%s)", (list(slot_ids),)).fetchall()
    broken = [row for row in rows if not (0 <= row[2] <= row[1] and row[2] == row[3] + row[4])]
    if broken:
        listing = "\n".join(
            f"  slot {r[0]}: capacity {r[1]}, taken {r[2]}, confirmed {r[3]}, holds {r[4]}"
            for r in broken[:20]
        )
        raise InvariantBroken(
            f"{len(broken)} slot(s) break taken <= capacity or taken == bookings:\n{listing}"
        )
    return rows


def cleanup(conn: RawConnection, max_slot_before: int, made_settings: bool) -> None:
    """Remove what the benchmark made: its scratch table, its cards' bookings, holds and tokens, its cards,
    the slots it created that no booking or hold refers to, and the settings row if it made that."""
    with conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, PLAIN_TABLE)))
        prefix = (CARD_PREFIX + "%",)
        conn.execute(
            "CREATE TEMPORARY TABLE bench_cards ON COMMIT DROP AS"
            " SELECT id FROM booking_card WHERE application_id LIKE %s",
            prefix,
        )
        conn.execute(
            "DELETE FROM booking_bookingevent WHERE booking_id IN"
            " (SELECT id FROM booking_booking WHERE card_id IN (SELECT id FROM bench_cards))"
        )
        conn.execute("DELETE FROM booking_booking WHERE card_id IN (SELECT id FROM bench_cards)")
        conn.execute("DELETE FROM booking_hold WHERE card_id IN (SELECT id FROM bench_cards)")
        conn.execute("DELETE FROM booking_citizentoken WHERE card_id IN (SELECT id FROM bench_cards)")
        # do_book moves the card to "booked", which writes the card's history.
        conn.execute("DELETE FROM booking_cardevent WHERE card_id IN (SELECT id FROM bench_cards)")
        conn.execute("DELETE FROM booking_card WHERE id IN (SELECT id FROM bench_cards)")
        conn.execute(
            "DELETE FROM booking_slot s WHERE s.id > %s AND s.taken = 0"
            " AND NOT EXISTS (SELECT 1 FROM booking_booking b WHERE b.slot_id = s.id)"
            " AND NOT EXISTS (SELECT 1 FROM booking_hold h WHERE h.slot_id = s.id)",
            (max_slot_before,),
        )
        if made_settings:
            conn.execute("DELETE FROM booking_bookingsettings")
    audit_slots(conn)
