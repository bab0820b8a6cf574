"""A second limit for `bench/http_bench.py`: pgbench running the project's own booking call.

P1 compares booking POSTs with pgbench running the issue's two-statement booking transaction (a capacity
UPDATE and an INSERT: `_pgbench_booking`). The project's booking does more in PostgreSQL, by design: the
idempotency key's row and its kept answer, the card's lock, legal state change and event, the opening
patterns' check under their lock, the booking's event (the audit trail), the triggers' counters. This limit
is pgbench calling that same function, `booking_book_in_one_call` (migration 0023), with the arguments the
web process gives it, so that the web layer's own cost can be read apart from the database's: bookings/s ÷
this tps is the share of the database's pace the HTTP path keeps.

Each pgbench transaction books and is rolled back (the same cards and free slots serve every transaction,
and no slot fills): a rollback spares the commit's WAL flush, so this limit is if anything higher than the
committed booking's, and the ratio against it lower. It runs in a municipality of its own (`TENANT`): the
rolled-back rows it leaves behind (tens of thousands a run) would otherwise slow the HTTP rounds' writes to
the same tables and indexes; and its tables are vacuumed after each run, so that every round finds them
alike.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
from _booking_fixtures import Fixtures
from _pgbench_booking import Limit, run_pgbench
from django_tenants.utils import schema_context
from psycopg import sql

from booking.access import bearer
from booking.citizen.login import do_create_citizen_token
from booking.engine import one_call, queries
from booking.lib.dates import TOKYO
from booking.models import Place, Service, Slot

SCHEMA = "pgbench_one_call"
TENANT = "benchcall"  # its own municipality, provisioned by the benchmark beside kyoto
WRITTEN = (
    "booking_booking",
    "booking_bookingevent",
    "booking_card",
    "booking_cardevent",
    "booking_idempotentrequest",
    "booking_slot",
)
CARDS = 200  # 16 clients on 200 cards: two seldom want the same card's lock at once
SLOTS = 50
TARGET_COLUMNS = "digest, place, service, starts_at, ends_at, capacity, day, print"

SETUP = """
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
CREATE TABLE {schema}.target (i integer PRIMARY KEY, digest text NOT NULL, place bigint NOT NULL,
    service bigint NOT NULL, starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL,
    capacity integer NOT NULL, day date NOT NULL, print text NOT NULL);
"""

CALL = """SELECT r.result FROM {schema}.target t, {tenant}.booking_book_in_one_call(
    t.digest, now(), 'pgbench-' || {client} || '-' || random()::text, 'fingerprint', t.place, t.service,
    t.starts_at, t.ends_at, t.capacity, t.day, t.print, '{bookable}'::text[], '{booked_from}'::text[],
    '{moves}'::text[], 'ja', '{answer}'::jsonb) r
 WHERE t.i = {i}"""
SCRIPT = "\\set i random(1, {count})\nBEGIN;\n{call};\nROLLBACK;\n"


def one_call_targets(service_code: str, seed: int) -> list[tuple[object, ...]]:
    """Cards in TENANT, each with a bearer token, paired with free slots: the rows pgbench's transactions
    book from."""
    with schema_context(TENANT):
        fixtures = Fixtures(Service.objects.get(code=service_code), seed)
        return _targets(fixtures, list(Place.objects.order_by("pk")))


def _targets(fixtures: Fixtures, places: Sequence[Place]) -> list[tuple[object, ...]]:
    cards = fixtures.cards(CARDS)
    targets = fixtures.slots(places, SLOTS, days=60)
    ends = dict(Slot.objects.filter(pk__in=[t.slot_id for t in targets]).values_list("pk", "ends_at"))
    prints = {place.pk: queries.patterns_with_print(place, fixtures.service)[1] for place in places}
    rows: list[tuple[object, ...]] = []
    for card, target in zip(cards, itertools.cycle(targets), strict=False):
        token, _expires = do_create_citizen_token(card)
        rows.append(
            (
                bearer.digest(token),
                target.place.pk,
                fixtures.service.pk,
                target.starts_at,
                ends[target.slot_id],
                target.capacity,
                target.starts_at.astimezone(TOKYO).date(),
                prints[target.place.pk],
            )
        )
    return rows


@contextlib.contextmanager
def pgbench_one_call(
    database_url: str, clients: int, work_dir: Path, rows: Sequence[tuple[object, ...]]
) -> Iterator[Callable[[int, str], Limit]]:
    """The targets' table in its own schema (dropped on the way out); yields `run(seconds, label)`."""
    bookable, booked_from, moves = one_call._state_arrays()
    answer = json.dumps({"status": "confirmed"})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SETUP.format(schema=SCHEMA).encode())
        with conn.cursor() as cursor:
            cursor.executemany(
                sql.SQL("INSERT INTO {}.target (i, {}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)").format(
                    sql.Identifier(SCHEMA), sql.SQL(TARGET_COLUMNS)
                ),
                [(i, *row) for i, row in enumerate(rows, 1)],
            )
    call = CALL.format(
        schema=SCHEMA,
        tenant=TENANT,
        bookable=bookable,
        booked_from=booked_from,
        moves=moves,
        answer=answer,
        client="@client@",
        i="@i@",
    )
    with psycopg.connect(database_url) as conn:  # a refused call would measure a refusal, not a booking
        result = conn.execute(call.replace("@client@", "0").replace("@i@", "1").encode()).fetchone()
        conn.rollback()
    if result is None or result[0] != "booked":
        raise SystemExit(f"pgbench's booking call does not book: {result}")
    script = work_dir / "one_call.sql"
    script.write_text(
        SCRIPT.format(count=len(rows), call=call.replace("@client@", ":client_id").replace("@i@", ":i"))
    )

    def run(seconds: int, label: str) -> Limit:
        limit = run_pgbench(
            database_url, clients, seconds, script, work_dir / f"pgbench_one_call_log_{label}"
        )
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("VACUUM {}").format(sql.SQL(", ").join(sql.Identifier(TENANT, t) for t in WRITTEN))
            )
        return limit

    try:
        yield run
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
