"""Booking benchmarks: the Django services against raw PostgreSQL doing the same work, in one run.

Run from the repository root against a throwaway database (see docs/performance.md for the whole recipe):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        DEBUG=true python bench/booking_bench.py

It works in the tenant schema `kyoto` (provisioned with the kyoto preset) and measures:

1. one booking: `services.do_book` against the minimal raw-SQL transaction (INSERT into booking_booking,
   the trigger keeping `Slot.taken`), with and without an explicit `SELECT ... FOR UPDATE` of the slot,
   and against plain INSERTs into a scratch copy of the table that has no trigger (`bench_plain_booking`);
2. contention: K threads, each on its own connection, booking the same few slots until they are full,
   against the same threads on distinct slots and against one thread; the slot invariants are checked
   afterwards and the run fails (exit status 1) if any is broken;
3. the login check: `credentials.password_matches` (HMAC-SHA256) against Django's Argon2 and PBKDF2 hashers;
4. availability: `queries.free_slots` for one place over 31 days against raw SQL reading the same slot rows.

Figures are medians and p95 of per-operation times (`time.perf_counter_ns`) after warm-ups; what matters
is the ratios within one run, never an absolute time. Everything the run creates (cards, bookings, slots,
the scratch table, the settings row if it made it) is removed at the end, also when it fails.
"""

# ruff: noqa: E402 - Django must be configured before the project's models can be imported.

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"

import django

django.setup()

import psycopg
from _booking_fixtures import (
    CARD_PREFIX,
    PLAIN_TABLE,
    SCHEMA,
    SERVICE_CODE,
    Fixtures,
    InvariantBroken,
    RawConnection,
    SlotFull,
    Target,
    audit_slots,
    cleanup,
    raw_book,
    raw_connection,
)
from _common import (
    Samples,
    add_any_database_option,
    fmt_ratio,
    fmt_split,
    fmt_time,
    print_table,
    refused_database,
    run_interleaved,
    sql_split,
)
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg import sql

from booking.cards import credentials
from booking.citizen.login import do_citizen_login
from booking.engine import queries
from booking.engine.services import BookingError, do_book, do_issue_card
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingSettings, Card, Place, Service, Slot
from booking.rules import windows

HOT_PLACE = "center-3f"  # capacity 6 per 10-minute slot in the kyoto preset
SLOT_ROWS = (
    "SELECT s.starts_at, s.taken, count(h.id) FILTER (WHERE h.expires_at <= %s) AS expired"
    " FROM booking_slot s LEFT JOIN booking_hold h ON h.slot_id = s.id"
    " WHERE s.place_id = %s AND s.service_id = %s AND s.starts_at BETWEEN %s AND %s"
    " GROUP BY s.id"
)


# --- 1. one booking --------------------------------------------------------------------------------------


def bench_booking(
    fx: Fixtures, conn: RawConnection, places: Sequence[Place], n: int, warmup: int, split: int = 200
) -> None:
    total = warmup + n
    channels = [Booking.Channel.WEB, Booking.Channel.PHONE]  # about half the bookings come by phone
    conn.execute(
        sql.SQL(
            "CREATE TABLE {plain} (LIKE {booking} INCLUDING ALL);"
            " ALTER TABLE {plain}"
            "  ADD FOREIGN KEY (card_id) REFERENCES {card} (id) DEFERRABLE INITIALLY DEFERRED,"
            "  ADD FOREIGN KEY (slot_id) REFERENCES {slot} (id) DEFERRABLE INITIALLY DEFERRED"
        ).format(
            plain=sql.Identifier(SCHEMA, PLAIN_TABLE),
            booking=sql.Identifier(SCHEMA, "booking_booking"),
            card=sql.Identifier(SCHEMA, "booking_card"),
            slot=sql.Identifier(SCHEMA, "booking_slot"),
        )
    )
    django_cards = fx.cards(total + 1)  # one more: the booking whose statements are counted
    django_slots = fx.slots(places, total + 1, days=90)

    def django_op(i: int) -> None:
        target = django_slots[i]
        do_book(django_cards[i], target.place, fx.service, target.starts_at, channel=channels[i % 2])

    def raw_op(slots: list[Target], *, lock: bool, table: str, history: bool) -> Callable[[int], None]:
        cards = fx.cards(total)  # fresh: one confirmed booking per card

        def op(i: int) -> None:
            raw_book(
                conn, cards[i].pk, slots[i].slot_id, channels[i % 2], lock=lock, table=table, history=history
            )

        return op

    # Each variant that writes booking_booking books slots of its own; the variants writing the copy reuse
    # those of another variant (their rows do not count in `taken`).
    history_slots, insert_slots, locked_slots = (fx.slots(places, total, days=90) for _ in range(3))
    equivalent = "raw SQL: INSERT booking + history row; trigger counts"
    plain = "raw SQL: INSERT into a copy without the trigger"
    ops: dict[str, Callable[[int], object]] = {
        "do_book (Django service)": django_op,
        equivalent: raw_op(history_slots, lock=False, table="booking_booking", history=True),
        "raw SQL: INSERT booking; trigger counts": raw_op(
            insert_slots, lock=False, table="booking_booking", history=False
        ),
        "raw SQL: SELECT … FOR UPDATE + INSERT booking; trigger counts": raw_op(
            locked_slots, lock=True, table="booking_booking", history=False
        ),
        plain: raw_op(insert_slots, lock=False, table=PLAIN_TABLE, history=False),
        "raw SQL: SELECT … FOR UPDATE + INSERT into the copy": raw_op(
            locked_slots, lock=True, table=PLAIN_TABLE, history=False
        ),
    }

    with CaptureQueriesContext(connection) as captured:
        django_op(total)
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    gc.collect()
    samples = run_interleaved(ops, n=n, warmup=warmup)
    audit_slots(conn, [t.slot_id for t in django_slots + history_slots + insert_slots + locked_slots])

    print_table(
        f"1. One booking, one transaction each (n = {n} per variant, interleaved, after {warmup} warm-ups)",
        ["variant", "median", "p95", "÷ equivalent raw SQL", "÷ plain INSERT"],
        [
            [
                s.label,
                fmt_time(s.median),
                fmt_time(s.p95),
                fmt_ratio(s.median / samples[equivalent].median),
                fmt_ratio(s.median / samples[plain].median),
            ]
            for s in samples.values()
        ],
    )
    print(f"\nRound trips of one do_book ({len(statements)}): {', '.join(statements)}.")
    print("Round trips of the equivalent raw transaction (4): BEGIN, INSERT, INSERT, COMMIT.")

    split_cards, split_slots = fx.cards(split), fx.slots(places, split, days=90)

    def split_op(i: int) -> None:
        do_book(split_cards[i], split_slots[i].place, fx.service, split_slots[i].starts_at)

    whole, in_sql = sql_split(split_op, split)
    audit_slots(conn, [t.slot_id for t in split_slots])
    print(f"Where do_book's time goes: {fmt_split(whole, in_sql)}.")


# --- 2. contention ---------------------------------------------------------------------------------------


@dataclass
class RaceResult:
    label: str
    threads: int
    booked: int = 0
    refused: int = 0
    wall_ns: int = 0
    latencies: Samples = field(default_factory=lambda: Samples("latency of a successful booking"))

    @property
    def rate(self) -> float:
        return self.booked / (self.wall_ns / 1e9) if self.wall_ns else float("nan")

    @property
    def attempt_rate(self) -> float:
        """Transactions per second, the refused ones included."""
        return (self.booked + self.refused) / (self.wall_ns / 1e9) if self.wall_ns else float("nan")


Booker = Callable[[Card, Target], None]  # raises SlotFull when the slot is full
BookerFactory = Callable[[], tuple[Booker, Callable[[], None]]]  # run in the thread: (book, close)


def race(
    label: str,
    threads: int,
    rounds: Sequence[Sequence[Target]],
    cards: deque[Card],
    factory: BookerFactory,
    *,
    shared: bool,
    seed: int,
) -> RaceResult:
    """Round after round, `threads` threads, each with its own connection, book with fresh cards.

    shared: all threads race for the round's few slots until every one is full. A thread picks at random
    one of them not yet known to be full; a refusal marks that slot full and the same card tries another.
    Otherwise the round's slots are dealt out, `threads` apart, and each thread books its own once.
    The clock runs from the moment all threads are released on a round until the last one is done with it
    (connecting is not timed).
    """
    result = RaceResult(label, threads)
    marks: list[int] = []
    barrier = threading.Barrier(threads, action=lambda: marks.append(time.perf_counter_ns()))
    lock = threading.Lock()
    full: set[int] = set()
    errors: list[BaseException] = []

    def attempt(book: Booker, card: Card, target: Target) -> bool:
        start = time.perf_counter_ns()
        try:
            book(card, target)
        except SlotFull:
            with lock:
                full.add(target.slot_id)
                result.refused += 1
            return False
        elapsed = time.perf_counter_ns() - start
        with lock:
            result.booked += 1
            result.latencies.ns.append(elapsed)
        return True

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        book, close = factory()
        try:
            for targets in rounds:
                barrier.wait()
                if shared:
                    card = cards.pop()
                    while open_slots := [t for t in targets if t.slot_id not in full]:
                        if attempt(book, card, rng.choice(open_slots)):
                            card = cards.pop()
                    cards.append(card)
                else:
                    for target in targets[index::threads]:
                        if not attempt(book, cards.pop(), target):
                            raise RuntimeError(f"slot {target.slot_id} refused a booking but had room")
                barrier.wait()
        except BaseException as error:
            errors.append(error)
            barrier.abort()
        finally:
            close()

    pool = [threading.Thread(target=worker, args=(i,), name=f"bench-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (real or errors)[0]
    result.wall_ns = sum(marks[i + 1] - marks[i] for i in range(0, len(marks) - 1, 2))
    return result


def django_factory(service: Service) -> BookerFactory:
    def factory() -> tuple[Booker, Callable[[], None]]:
        context = schema_context(SCHEMA)  # this thread's own connection, on the tenant's schema
        context.__enter__()
        queries.booking_rules()  # connect and set the search path before the clock starts

        def book(card: Card, target: Target) -> None:
            try:
                do_book(card, target.place, service, target.starts_at)
            except BookingError as error:
                if error.code == "slot_full":
                    raise SlotFull from error
                raise

        def close() -> None:
            context.__exit__(None, None, None)
            connection.close()

        return book, close

    return factory


def raw_factory() -> tuple[Booker, Callable[[], None]]:
    own = raw_connection()

    def book(card: Card, target: Target) -> None:
        raw_book(
            own,
            card.pk,
            target.slot_id,
            Booking.Channel.WEB,
            lock=False,
            table="booking_booking",
            history=True,
        )

    return book, own.close


def bench_contention(
    fx: Fixtures, conn: RawConnection, places: Sequence[Place], hot_place: Place, threads: int, rounds: int
) -> None:
    group_size = 4
    results: list[tuple[RaceResult, RaceResult]] = []  # (the result, its one-thread baseline)
    for name, factory in (("do_book", django_factory(fx.service)), ("raw SQL INSERT", raw_factory)):
        hot = fx.consecutive_slots(hot_place, rounds, group_size, days=60)
        bookings = sum(t.capacity for group in hot for t in group)  # the same number in every configuration
        runs: list[tuple[str, int, list[list[Target]], bool]] = [
            (f"{name}: 1 thread, distinct slots", 1, [fx.slots(places, bookings, days=90)], False),
            (
                f"{name}: {threads} threads, distinct slots",
                threads,
                [fx.slots(places, bookings, days=90)],
                False,
            ),
            (f"{name}: {threads} threads racing for {group_size} slots at a time", threads, hot, True),
        ]
        baseline: RaceResult | None = None
        for label, count, run_rounds, shared in runs:
            targets = [t for targets in run_rounds for t in targets]
            need = sum(t.capacity for t in targets) + count if shared else len(targets)
            cards = deque(fx.cards(need))
            gc.collect()
            result = race(label, count, run_rounds, cards, factory, shared=shared, seed=len(results))
            audited = audit_slots(conn, [t.slot_id for t in targets])
            confirmed = sum(row[3] for row in audited)
            if confirmed != result.booked:
                raise InvariantBroken(
                    f"{label}: {result.booked} successes but {confirmed} confirmed bookings"
                )
            if shared and any(row[2] != row[1] for row in audited):
                raise InvariantBroken(f"{label}: a raced slot did not end exactly full")
            baseline = baseline or result
            results.append((result, baseline))
    audit_slots(conn)  # and every slot of the schema

    print_table(
        f"2. Contention: throughput with {threads} threads, each on its own connection "
        f"({rounds} rounds of {group_size} slots × capacity {hot[0][0].capacity} when racing)",
        [
            "configuration",
            "booked",
            "refused (full)",
            "bookings/s",
            "÷ 1 thread",
            "attempts/s",
            "median latency",
            "p95 latency",
        ],
        [
            [
                r.label,
                str(r.booked),
                str(r.refused),
                f"{r.rate:,.0f}",
                fmt_ratio(r.rate / base.rate),
                f"{r.attempt_rate:,.0f}",
                fmt_time(r.latencies.median),
                fmt_time(r.latencies.p95),
            ]
            for r, base in results
        ],
    )
    print("\nInvariant held: every slot of the schema has 0 <= taken <= capacity and taken == confirmed")
    print("bookings + holds; every raced slot ended exactly full; successes == confirmed bookings in the DB.")


# --- 3. login check --------------------------------------------------------------------------------------


def bench_login() -> None:
    password = credentials.new_password()
    digest = credentials.password_digest(password)
    argon2 = Argon2PasswordHasher()
    pbkdf2 = PBKDF2PasswordHasher()
    argon2_encoded = argon2.encode(password, argon2.salt())
    pbkdf2_encoded = pbkdf2.encode(password, pbkdf2.salt())

    issued = do_issue_card(
        application_id=f"{CARD_PREFIX}{999_999_999_999_999_999:018d}",
        name="ベンチ 花子",
        name_kana="ベンチ ハナコ",
        birth_date=dt.date(1950, 4, 1),
        postal_code="604-8571",
        address="京都市中京区寺町通御池上る上本能寺前町488",
    )
    number = issued.card.reservation_number

    checks: list[tuple[str, Callable[[], object], int, int]] = [
        (
            "credentials.password_matches (HMAC-SHA256)",
            lambda: credentials.password_matches(password, digest),
            20_000,
            1_000,
        ),
        (
            f"Argon2PasswordHasher.verify (t={argon2.time_cost}, m={argon2.memory_cost // 1024} MiB,"
            f" p={argon2.parallelism})",
            lambda: argon2.verify(password, argon2_encoded),
            30,
            3,
        ),
        (
            f"PBKDF2PasswordHasher.verify ({pbkdf2.iterations:,} × SHA-256)",
            lambda: pbkdf2.verify(password, pbkdf2_encoded),
            10,
            2,
        ),
        (
            "do_citizen_login (card lookup + Redis throttle + HMAC)",
            lambda: do_citizen_login(number, issued.password, "bench"),
            1_000,
            50,
        ),
    ]
    results: list[Samples] = []
    for label, check, n, warmup in checks:
        for _ in range(warmup):
            if not check():
                raise RuntimeError(f"{label}: the right password was refused")
        samples = Samples(label)
        gc.collect()
        for _ in range(n):
            samples.timed(check)
        results.append(samples)
    base = results[0].median
    print_table(
        "3. Login check: verifying one password",
        ["check", "n", "median", "p95", "÷ HMAC"],
        [
            [s.label, str(len(s.ns)), fmt_time(s.median), fmt_time(s.p95), fmt_ratio(s.median / base)]
            for s in results
        ],
    )


# --- 4. availability -------------------------------------------------------------------------------------


def bench_availability(fx: Fixtures, conn: RawConnection, place: Place, n: int) -> None:
    now = timezone.now()
    first = windows.first_bookable_day(now, queries.booking_rules(), place)
    last = first + dt.timedelta(days=30)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=TOKYO)
    end = dt.datetime.combine(last, dt.time.max, tzinfo=TOKYO)
    params = (now, place.pk, fx.service.pk, start, end)

    def django_op() -> object:
        return queries.free_slots(place, fx.service, first, last, now=now)

    def raw_op() -> object:
        return conn.execute(SLOT_ROWS, params).fetchall()

    with CaptureQueriesContext(connection) as captured:
        free = queries.free_slots(place, fx.service, first, last, now=now)
    rows = conn.execute(SLOT_ROWS, params).fetchall()
    booked = Booking.objects.filter(
        slot__place=place, slot__service=fx.service, slot__starts_at__range=(start, end), status="confirmed"
    ).count()
    samples = {
        "free": Samples(f"queries.free_slots ({len(captured.captured_queries)} queries)"),
        "raw": Samples("raw SQL: the same slot rows"),
    }
    for _ in range(20):
        django_op()
        raw_op()
    gc.collect()
    for i in range(n):
        pair = [("free", django_op), ("raw", raw_op)]
        for key, op in pair if i % 2 else reversed(pair):
            samples[key].timed(op)
    base = samples["raw"].median
    print_table(
        f"4. Availability of {place.code} for {SERVICE_CODE}, {first} to {last} (31 days; n = {n})",
        ["query", "median", "p95", "÷ raw SQL"],
        [
            [s.label, fmt_time(s.median), fmt_time(s.p95), fmt_ratio(s.median / base)]
            for s in samples.values()
        ],
    )
    print(
        f"\n{len(free)} free slots returned; {len(rows)} slot rows exist in the range, "
        f"holding {booked} confirmed bookings."
    )
    whole, in_sql = sql_split(lambda _: django_op(), n)
    print(f"Where free_slots' time goes: {fmt_split(whole, in_sql)}.")


# --- main ------------------------------------------------------------------------------------------------


def environment(conn: RawConnection) -> None:
    row = conn.execute(
        "SELECT current_setting('server_version'), current_setting('synchronous_commit'),"
        " current_setting('fsync'), current_setting('shared_buffers')"
    ).fetchone()
    assert row is not None
    print("## Booking benchmark\n")
    print(f"- run at {timezone.now():%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs;")
    print(
        f"  Python {platform.python_version()}; Django {django.get_version()}; psycopg {psycopg.__version__}"
    )
    print(f"- PostgreSQL {row[0]} (synchronous_commit={row[1]}, fsync={row[2]}, shared_buffers={row[3]})")
    host = settings.DATABASES["default"]["HOST"] or "the local socket"
    print(f"- schema {SCHEMA}; the Django and the raw psycopg connections both go to {host}")
    print("- DEBUG's query log is switched off for the run (settings.DEBUG = False), as in production")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bookings", type=int, default=2000, help="bookings per variant in part 1")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16, help="threads (connections) in part 2")
    parser.add_argument("--rounds", type=int, default=25, help="groups of 4 slots raced for in part 2")
    parser.add_argument("--free-slots-runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261124)
    add_any_database_option(parser)
    args = parser.parse_args(argv)

    if refused_database(args.any_database):
        return 2
    settings.DEBUG = False  # no query log: the Django path costs what it costs in production
    started = time.perf_counter()
    conn = raw_connection()
    with schema_context(SCHEMA):
        made_settings = not BookingSettings.objects.exists()
        max_slot_before = Slot.objects.order_by("-id").values_list("id", flat=True).first() or 0
        cleanup(conn, max_slot_before, made_settings=False)  # what a crashed run may have left
        try:
            environment(conn)
            service = Service.objects.get(code=SERVICE_CODE)
            today = timezone.localdate()
            places = list(queries.places_offering(service, today))
            hot_place = Place.objects.get(code=HOT_PLACE)
            fx = Fixtures(service, args.seed)
            bench_booking(fx, conn, places, n=args.bookings, warmup=args.warmup)
            bench_contention(fx, conn, places, hot_place, threads=args.threads, rounds=args.rounds)
            bench_login()
            bench_availability(fx, conn, hot_place, n=args.free_slots_runs)
        except InvariantBroken as error:
            print(f"\n!!! INVARIANT BROKEN: {error}", file=sys.stderr)
            return 1
        finally:
            cleanup(conn, max_slot_before, made_settings)
            conn.close()
    print(
        f"\nTotal run time {time.perf_counter() - started:.0f} s; everything the run made has been removed."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
