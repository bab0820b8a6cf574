"""Card import benchmark (AD-03): 100,000 generated J-LIS rows read, checked and imported, as the worker does.

Run from the repository root against a throwaway database whose name contains `bench` (docs/performance.md,
"J-LIS card import", has the whole recipe, also for the embedded PostgreSQL of `make run`):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_card_bench REDIS_URL=redis://127.0.0.1:6379/13 \
        DEBUG=true python bench/card_import_bench.py

The database is created, migrated and given the tenant `kyoto` when it lacks them. For each layout (fixed
width in Shift_JIS, CSV in UTF-8, CSV in Shift_JIS) it generates the file (not timed), then times:

1. read + check: `card_import.parse_card_file` (decode, layout, every field's cleaner, duplicates);
2. import: `card_import.do_import_cards` in one transaction (bulk INSERT … SELECT FROM unnest, history rows);
3. the same file again: all "unchanged" (the idempotent second run);
4. the whole background job, `intake_job.run_import_job`: storage, read + check, import, progress in Redis;

and, for the fixed-width file, the import with letters (passwords made, three history rows per card), as
`import_cards --letters` does. Throughput is rows per second of wall-clock time (`time.perf_counter`);
memory is the process's peak resident size (`resource.getrusage(...).ru_maxrss`, which only grows: read it
as "the peak so far") and, in a separate untimed pass, the Python heap's peak during read + check + import
(`tracemalloc`, which slows Python down, so it never runs while timing). The cards it made (application
IDs starting with 77777) and their history are deleted after each step, also when it fails.
"""

# ruff: noqa: E402 - Django must be configured before the project's models can be imported.

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ["DJANGO_SETTINGS_MODULE"] = "madoguchi.settings"


def _ensure_database() -> None:
    """The throwaway database exists before Django connects to it."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "")
    name = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "")
    if "bench" not in name:
        sys.exit(f"refusing to run on database {name!r}: use a throwaway *bench* database (DATABASE_URL)")
    with psycopg.connect(psycopg.conninfo.make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_ensure_database()

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.lifecycle import intake as card_import
from booking.lifecycle import intake_job
from booking.models import CardImportJob, JobStatus
from integrations import jlis, storage
from tenants.models import Municipality
from tenants.services import do_provision_tenant

SCHEMA = "kyoto"
PREFIX = "77777"  # every application ID the benchmark makes starts with it (5 + 18 = 23 digits)
SURNAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("髙橋", "ﾀｶﾊｼ"),
    ("田中", "タナカ"),
    ("渡邊", "ワタナベ"),
]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美穂", "ミホ"), ("翔", "ショウ")]


@dataclass
class Step:
    label: str
    seconds: list[float] = field(default_factory=list)
    rows: int = 0
    peak_rss_mib: float = 0.0

    def rate(self) -> str:
        best = statistics.median(self.seconds)
        return f"{self.rows / best:,.0f}"


def rows_of(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    made = []
    for n in range(count):
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        made.append(
            {
                "application_id": f"{PREFIX}{n:018d}",
                "name": f"{surname[0]} {given[0]}",
                "name_kana": f"{surname[1]} {given[1]}",
                "birth_date": f"{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                "postal_code": f"{rng.randint(600, 616)}{rng.randint(0, 9999):04d}",
                "address": f"京都市中京区寺町通御池上る上本能寺前町{rng.randint(1, 999)}番地"
                f" コーポ京都{n % 500}号室",
            }
        )
    return made


def files(rows: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    created = dt.date(2026, 11, 20)
    return [
        (
            "J-LIS fixed width, Shift_JIS",
            jlis.fixed_width_file(rows, created_on=created, encoding=jlis.CP932),
        ),
        ("J-LIS CSV, UTF-8", jlis.csv_file(rows, encoding=jlis.UTF8)),
        ("J-LIS CSV, Shift_JIS", jlis.csv_file(rows, encoding=jlis.CP932)),
    ]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def timed(step: Step, action: Callable[[], object]) -> None:
    gc.collect()
    started = time.perf_counter()
    action()
    step.seconds.append(time.perf_counter() - started)
    step.peak_rss_mib = peak_rss_mib()


def cleanup() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM booking_cardevent WHERE card_id IN"
            " (SELECT id FROM booking_card WHERE application_id LIKE %s)",
            [PREFIX + "%"],
        )
        cursor.execute("DELETE FROM booking_card WHERE application_id LIKE %s", [PREFIX + "%"])
        cursor.execute("DELETE FROM booking_cardimportjob WHERE requested_by = 'bench'")


def parse(data: bytes) -> card_import.CardFile:
    return card_import.parse_card_file(data, today=timezone.localdate())


def import_rows(rows: Sequence[card_import.CardRow], *, letters: bool = False) -> card_import.ImportResult:
    with transaction.atomic():
        return card_import.do_import_cards(rows, actor="bench", note="bench", letters=letters)


def job(data: bytes) -> None:
    key = f"{SCHEMA}/card-imports/bench.dat"
    storage.export_storage().save_stream(key, [data])
    made = CardImportJob.objects.create(
        requested_by="bench", requested_at=timezone.now(), filename="bench", file_key=key
    )
    done = intake_job.run_import_job(made.pk)
    assert done.status == JobStatus.DONE, done.problems[:3]


def measure(count: int, repeat: int, seed: int) -> tuple[list[tuple[str, list[Step]]], float]:
    results = []
    for label, data in files(rows_of(count, seed)):
        names = ["read + check", "import", "same file again", "whole job"]
        steps = [Step(name, rows=count) for name in names]
        with_letters = Step("import with letters", rows=count) if label.startswith("J-LIS fixed") else None
        for _ in range(repeat):
            run_once(data, count, steps, with_letters)
        results.append(
            (f"{label} ({len(data) / 1e6:.1f} MB)", steps + ([with_letters] if with_letters else []))
        )
    return results, heap_peak(count, seed)


def run_once(data: bytes, count: int, steps: list[Step], with_letters: Step | None) -> None:
    parsed: list[card_import.CardFile] = []
    timed(steps[0], lambda: parsed.append(parse(data)))
    rows = parsed[0].rows
    again: list[card_import.ImportResult] = []
    try:
        timed(steps[1], lambda: import_rows(rows))
        timed(steps[2], lambda: again.append(import_rows(rows)))
        assert again[0].unchanged == count and again[0].new == 0
    finally:
        cleanup()
    try:
        timed(steps[3], lambda: job(data))
    finally:
        cleanup()
    if with_letters is not None:
        try:
            timed(with_letters, lambda: import_rows(rows, letters=True))
        finally:
            cleanup()


def heap_peak(count: int, seed: int) -> float:
    """The Python heap's peak (MiB) while reading, checking and importing the fixed-width file: untimed."""
    data = files(rows_of(count, seed))[0][1]
    gc.collect()
    tracemalloc.start()
    try:
        import_rows(parse(data).rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        cleanup()
    return peak / 2**20


def environment() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('synchronous_commit'), current_setting('shared_buffers')")
        commit, buffers = cursor.fetchone()
    return [
        f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
        f"PostgreSQL {version} at {connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}"
        f" (synchronous_commit={commit}, shared_buffers={buffers})",
        f"Python {platform.python_version()}, Django {django.get_version()}",
    ]


def ensure_tenant() -> None:
    call_command("migrate_schemas", "--shared", verbosity=0)
    if not Municipality.objects.filter(schema_name=SCHEMA).exists():
        do_provision_tenant(SCHEMA, name="京都市", domain="kyoto.localhost", preset="kyoto")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="applications per file")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each step (the median is shown)")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    settings.DEBUG = False  # no query log: the code costs what it costs in production
    os.environ.setdefault("EXPORT_LOCAL_DIR", str(Path(__file__).resolve().parents[1] / ".local" / "bench"))
    ensure_tenant()
    started = time.perf_counter()
    baseline = peak_rss_mib()
    with schema_context(SCHEMA):
        cleanup()  # what a crashed run may have left
        for line in environment():
            print(line)
        results, heap = measure(args.rows, args.repeat, args.seed)
    print(f"\n{args.rows:,} rows per file, median of {args.repeat} run(s); rows/s = rows / median seconds")
    print(f"peak RSS after start-up: {baseline:.0f} MiB\n")
    print("| file | step | median s | rows/s | peak RSS so far (MiB) |")
    print("|---|---|---|---|---|")
    for label, steps in results:
        for step in steps:
            median = statistics.median(step.seconds)
            print(f"| {label} | {step.label} | {median:.2f} | {step.rate()} | {step.peak_rss_mib:.0f} |")
    print(
        "\nPython heap peak (tracemalloc) during read + check + import of the fixed-width file: "
        f"{heap:.0f} MiB"
    )
    print(f"Total run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
