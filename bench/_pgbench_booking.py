"""The database's own limit for `bench/http_bench.py`: pgbench running the booking transaction.

The transaction is what `do_book`'s writes come to in PostgreSQL, without Django: take a place if the slot
has one (the trigger's conditional capacity UPDATE), then INSERT the booking under a partial unique index
(one confirmed booking per card). Scratch tables in their own schema, dropped afterwards; pgbench may run
on them several times.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

SCHEMA = "pgbench_booking"
Limit = tuple[float, float, float]  # transactions per second, p50 ms, p99 ms
# 600,000 places: capacity is never the limit within a short run, as in the HTTP scenario.
SLOTS = 100_000

SETUP = """
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
CREATE TABLE {schema}.slot (id bigint PRIMARY KEY, capacity integer NOT NULL,
    taken integer NOT NULL DEFAULT 0, CHECK (taken BETWEEN 0 AND capacity));
INSERT INTO {schema}.slot (id, capacity) SELECT g, 6 FROM generate_series(1, {slots}) g;
CREATE TABLE {schema}.booking (id bigserial PRIMARY KEY, card_id bigint NOT NULL,
    slot_id bigint NOT NULL REFERENCES {schema}.slot, status varchar(16) NOT NULL,
    channel varchar(8) NOT NULL, created_at timestamptz NOT NULL);
CREATE UNIQUE INDEX booking_one_active ON {schema}.booking (card_id) WHERE status = 'confirmed';
CREATE INDEX booking_slot ON {schema}.booking (slot_id);
"""

SCRIPT = """\\set slot random(1, {slots})
\\set card random(1, 1000000000)
BEGIN;
WITH taken AS (UPDATE {schema}.slot SET taken = taken + 1 WHERE id = :slot AND taken < capacity RETURNING 1)
SELECT count(*) AS got FROM taken \\gset
\\if :got
INSERT INTO {schema}.booking (card_id, slot_id, status, channel, created_at)
VALUES (:card, :slot, 'confirmed', 'web', now()) ON CONFLICT (card_id) WHERE status = 'confirmed' DO NOTHING;
\\endif
COMMIT;
"""


@contextlib.contextmanager
def pgbench_booking(database_url: str, clients: int, work_dir: Path) -> Iterator[Callable[[int, str], Limit]]:
    """The booking transaction's tables made in their own schema (dropped on the way out); yields
    `run(seconds, label)`, which runs pgbench once more on them: the rounds of one benchmark alternate it
    with the project's requests, on the same tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SETUP.format(schema=SCHEMA, slots=SLOTS).encode())
    script = work_dir / "booking.sql"
    script.write_text(SCRIPT.format(schema=SCHEMA, slots=SLOTS))

    def run(seconds: int, label: str) -> Limit:
        return run_pgbench(database_url, clients, seconds, script, work_dir / f"pgbench_log_{label}")

    try:
        yield run
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def run_pgbench(database_url: str, clients: int, seconds: int, script: Path, log_prefix: Path) -> Limit:
    """(transactions per second, p50 ms, p99 ms); latencies from pgbench's per-transaction log."""
    completed = subprocess.run(  # noqa: S603 - our own command line
        [
            shutil.which("pgbench") or "/usr/bin/pgbench",
            "--no-vacuum",
            f"--client={clients}",
            f"--jobs={max(1, os.cpu_count() or 1)}",
            f"--time={seconds}",
            f"--file={script}",
            "--log",
            f"--log-prefix={log_prefix}",
            database_url,
        ],
        cwd=log_prefix.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"tps = ([\d.]+)", completed.stdout)
    if match is None:
        raise SystemExit(f"pgbench printed no tps:\n{completed.stdout}\n{completed.stderr}")
    # Log lines: client, transaction number, latency in µs, …
    latencies = sorted(
        int(line.split()[2])
        for log in log_prefix.parent.glob(f"{log_prefix.name}.*")
        for line in log.read_text().splitlines()
    )
    if not latencies:
        return float(match.group(1)), math.nan, math.nan
    p50 = latencies[len(latencies) // 2] / 1e3
    p99 = latencies[max(0, math.ceil(len(latencies) * 0.99) - 1)] / 1e3
    return float(match.group(1)), p50, p99
