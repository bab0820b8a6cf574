"""Tenant scale (issue 12 §4; docs/performance.md "Tenant scale"): `make bench-tenants`.

In two throwaway databases, one holding a single municipality and one holding --tenants of them (all made
by the real provisioning service from the template schema (tenants.template_schema), in --processes worker
processes, each with the kyoto preset), it measures and prints:

1. provisioning one tenant: the service (tenants.services.do_provision_tenant) in-process and
   `manage.py provision_tenant` as an operator runs it, at 1 and at N tenants; beside it the full-migration
   path it replaces (every tenant migration, in a throwaway schema).
2. `migrate_schemas --tenant` over the N tenants, with the executor and processes the Helm migrate job uses
   (multiprocessing, 2; tenants.migration_executor skips up-to-date schemas): with nothing to apply, and for
   a release with one new tenant migration (an
   AddField, from a copy of booking's migrations plus one, through MIGRATION_MODULES; undone afterwards).
3. the cost of a request at N tenants ÷ at 1 tenant: the availability GET (one place, 31 days) and a staff
   read (the day's bookings list), in-process through Django's whole middleware stack (django.test.Client,
   production settings: DEBUG off), the same tenant and data in both databases, in alternating rounds; then
   the same GET spread over all N tenants (a day's real traffic) with each backend's catalog cache size.

Keep the big database for the next run with --keep (building 2,000 tenants takes a while); without it both
databases are dropped at the end. Not a test: it prints figures and ratios.

    python bench/tenant_scale_bench.py --tenants 2000 --processes 2 --keep
"""

# ruff: noqa: E402 - the environment must be set before Django is configured.

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The workers' stderr (with DEBUG off, the access log of every measured request)
WORKER_LOG = Path(tempfile.gettempdir()) / "tenant_scale_bench.log"
MEASURED = "kyoto"  # the tenant whose requests are measured, in both databases
HOST_SUFFIX = ".scale.localhost"
STAFF_USER = "bench-viewer"
STAFF_PASSWORD = "Kyoto-2026!ok"  # noqa: S105 - a user of the throwaway database


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="madoguchi_tenant_scale_bench", help="must contain 'bench'")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2, help="building tenants, and migrate_schemas")
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", type=int, default=0, help="tenants the spread GETs visit (default: all)")
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: provision,migrate,requests"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases for the next run")
    # internal: what a worker process does
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--step", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


ARGS = parse_args()
if "bench" not in ARGS.database:
    sys.exit(f"refusing to use database {ARGS.database!r}: use a throwaway *bench* database")
ONE_DATABASE = ARGS.database.replace("bench", "one_bench", 1)
SERVER = ARGS.server.rstrip("/")
DATABASE_URL = f"{SERVER}/{ARGS.database}"
RUN_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": ARGS.redis_url,
    # Stable keys: a kept database's staff password digest must verify in the next run.
    "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", "tenant-scale-bench-" + "k" * 40),
    "RESERVATION_PASSWORD_KEY": "tenant-scale-bench-reservation-key",
    "OPLOG_KEY": "tenant-scale-bench-oplog-key",
    "CACHE_KEY_PREFIX": f"tenant-scale-{secrets.token_hex(4)}",
    "STAFF_DEFAULT_NETWORKS": "127.0.0.0/8",
    "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "madoguchi.settings"),
    "LOG_LEVEL": "WARNING",
}
os.environ.update(RUN_ENV)
os.environ.setdefault("DEBUG", "true")  # setup only; the request measurements run with DEBUG off


def env_for(database: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"{SERVER}/{database}", **extra}


def worker(role: str, database: str, *args: str, **env: str) -> subprocess.Popen[str]:
    command = [PYTHON, __file__, "--role", role, "--database", database, "--server", SERVER, *args]
    log = open(WORKER_LOG, "a")  # noqa: SIM115 - the child writes to it; closed with this process
    return subprocess.Popen(  # noqa: S603 - our own command line
        command, env=env_for(database, **env), stdout=subprocess.PIPE, stderr=log, text=True
    )


def result_of(process: subprocess.Popen[str]) -> Any:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"worker {process.args!r} failed ({process.returncode}); see {WORKER_LOG}")
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else None


def admin_sql(query: str, *params: Any) -> Any:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def ensure_database(name: str) -> None:
    if not admin_sql("SELECT 1 FROM pg_database WHERE datname = %s", name):
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def filler_name(i: int) -> str:
    return f"m{i:05d}"


# --- worker roles (each a process of its own, on --database) -------------------------------------------


def role_setup() -> None:
    """The public schema, the measured tenant with its preset and a staff viewer."""
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from booking.access import accounts
    from booking.audit import oplog
    from booking.models.staff import StaffRole
    from tenants.services import do_provision_tenant

    call_command("migrate_schemas", shared=True, verbosity=0)
    do_provision_tenant(MEASURED, name="京都市", domain=MEASURED + HOST_SUFFIX, preset="kyoto")
    with schema_context(MEASURED):
        from django.contrib.auth import get_user_model

        if not get_user_model().objects.filter(username=STAFF_USER).exists():
            actor = oplog.Actor(None, "tenant-scale-bench", "127.0.0.1")
            accounts.do_create_staff(actor, STAFF_USER, StaffRole.VIEWER, STAFF_PASSWORD, must_change=False)
    print(json.dumps(None))


def role_build() -> None:
    """Provision fillers first, first+step, … below --tenants not provisioned yet, through the service (one
    an interrupted run left unfinished, maybe without its schema, is provisioned again: that ends it)."""
    from tenants.models import Municipality
    from tenants.services import do_provision_tenant

    existing = {m.schema_name for m in Municipality.objects.only("schema_name", "preset") if m.provisioned}
    made, spent = 0, 0.0
    for i in range(ARGS.first, ARGS.tenants, ARGS.step):
        name = filler_name(i)
        if name in existing:
            continue
        start = time.perf_counter()
        do_provision_tenant(name, name=f"市{i}", domain=name + HOST_SUFFIX, preset="kyoto")
        spent += time.perf_counter() - start
        made += 1
    print(json.dumps({"made": made, "seconds": spent}))


def role_provision() -> None:
    """One new tenant through the service, timed in-process (the process is already started)."""
    from tenants import template_schema
    from tenants.services import do_provision_tenant

    start = time.perf_counter()
    do_provision_tenant(ARGS.name, name="計測市", domain=ARGS.name + HOST_SUFFIX, preset="kyoto")
    seconds = time.perf_counter() - start
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    print(json.dumps({"seconds": seconds, "template": template_schema.template_name(), "db_bytes": size}))


def role_drop_tenants() -> None:
    """Remove the tenants made by the provisioning measurement (a bench database, not offboarding)."""
    from tenants.models import Municipality

    for tenant in Municipality.objects.filter(schema_name__startswith="probe"):
        tenant.delete(force_drop=True)
    print(json.dumps(None))


def role_build_template() -> None:
    """The full-migration path, what provisioning cost before the template: every tenant migration in a fresh
    schema (made and dropped here)."""
    from django.db import connection

    from tenants import template_schema

    start = time.perf_counter()
    template_schema.migrate_schema("probe_full_migration")
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA probe_full_migration CASCADE")
    print(json.dumps({"seconds": seconds}))


def role_requests() -> None:
    """Median request times of the measured tenant's availability GET and staff list, in-process through
    the whole middleware stack with DEBUG off; with --name spread, the GET over every tenant."""
    import datetime as dt

    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from booking.models import Place

    with schema_context(MEASURED):
        place = Place.objects.order_by("pk").first()
        assert place is not None
    today = timezone.localdate()
    availability = (
        f"/api/v1/availability/?location={place.pk}&service=card_issuance"
        f"&from={today.isoformat()}&to={(today + dt.timedelta(days=30)).isoformat()}"
    )
    client = Client(HTTP_HOST=MEASURED + HOST_SUFFIX)
    answer = client.post(
        "/api/v1/staff/sessions/",
        {"username": STAFF_USER, "password": STAFF_PASSWORD},
        content_type="application/json",
        secure=True,
    )
    if answer.status_code != 201:
        raise SystemExit(f"staff sign-in answered {answer.status_code}: {answer.content[:300]!r}")
    staff = Client(HTTP_HOST=MEASURED + HOST_SUFFIX, HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
    staff_path = f"/api/v1/staff/bookings/?date={today.isoformat()}"

    def timed(get: Any, path: str, n: int) -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter_ns()
            response = get(path, secure=True)
            times.append((time.perf_counter_ns() - start) / 1e6)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
        return times

    out: dict[str, Any] = {}
    if ARGS.name != "spread":
        timed(client.get, availability, 30)
        timed(staff.get, staff_path, 30)
        out["availability_ms"] = statistics.median(timed(client.get, availability, ARGS.requests))
        out["staff_ms"] = statistics.median(timed(staff.get, staff_path, ARGS.requests))
    else:
        from tenants.models import Municipality

        names = list(Municipality.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
        # tenants with the measured place id (an interrupted provisioning numbers on), on another connection
        with psycopg.connect(DATABASE_URL) as other:
            union = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {} FROM {}.booking_place WHERE id = {}").format(
                    sql.Literal(name), sql.Identifier(name), sql.Literal(place.pk)
                )
                for name in names
            )
            having = {row[0] for row in other.execute(union).fetchall()}
        hosts = [name + HOST_SUFFIX for name in names if name in having][: ARGS.spread or None]
        clients = [Client(HTTP_HOST=host) for host in hosts]
        first_pass: list[float] = []
        second_pass: list[float] = []
        for passes in (first_pass, second_pass):
            for tenant_client in clients:
                passes += timed(tenant_client.get, availability, 1)
        one = timed(client.get, availability, ARGS.requests)
        out.update(
            tenants=len(hosts),
            first_touch_ms=statistics.median(first_pass),
            spread_ms=statistics.median(second_pass),
            same_tenant_ms=statistics.median(one),
        )
    with connection.cursor() as cursor:  # this backend's catalog caches after the run
        cursor.execute(
            "SELECT coalesce(sum(total_bytes), 0) FROM pg_backend_memory_contexts "
            "WHERE name IN ('CacheMemoryContext') OR parent = 'CacheMemoryContext'"
        )
        out["cache_bytes"] = int(cursor.fetchone()[0])
    print(json.dumps(out))


ROLES = {
    "setup": role_setup,
    "build": role_build,
    "provision": role_provision,
    "drop-tenants": role_drop_tenants,
    "build-template": role_build_template,
    "requests": role_requests,
}


# --- the run (the main process only speaks to PostgreSQL directly and starts the workers) --------------


def tenant_count(database: str) -> int:
    with psycopg.connect(f"{SERVER}/{database}") as conn:
        exists = conn.execute("SELECT to_regclass('public.tenants_municipality')").fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute(
            "SELECT count(*) FROM tenants_municipality WHERE schema_name <> 'public' AND preset <> ''"
        ).fetchone()
        return int(row[0]) if row else 0


def build(database: str) -> None:
    result_of(worker("setup", database))
    before = tenant_count(database)
    if before >= ARGS.tenants:
        print(f"{database}: {before} tenants already (kept from an earlier run)", flush=True)
        return
    start = time.perf_counter()
    workers = [
        worker(
            "build",
            database,
            "--tenants",
            str(ARGS.tenants - 1),
            "--first",
            str(i),
            "--step",
            str(ARGS.processes),
        )
        for i in range(ARGS.processes)
    ]
    results = [result_of(w) for w in workers]
    made = sum(r["made"] for r in results)
    wall = time.perf_counter() - start
    print(
        f"{database}: made {made} tenants in {wall:,.0f} s with {ARGS.processes} processes "
        f"({wall / max(made, 1):.2f} s each, wall); {tenant_count(database)} now",
        flush=True,
    )


def measure_provisioning(database: str, label: str, rows: list[list[str]]) -> None:
    run = secrets.token_hex(3)
    services = [
        result_of(worker("provision", database, "--name", f"probe{run}s{i}"))["seconds"] for i in range(3)
    ]
    commands = []
    for i in range(3):
        name = f"probe{run}c{i}"
        start = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own command line
            [
                PYTHON,
                "manage.py",
                "provision_tenant",
                name,
                "--name",
                "計測市",
                "--domain",
                name + HOST_SUFFIX,
                "--preset",
                "kyoto",
            ],
            cwd=REPO,
            env=env_for(database),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        commands.append(time.perf_counter() - start)
    result_of(worker("drop-tenants", database))
    rows.append([label, "service, in-process", fmt_s(statistics.median(services)), fmt_s(max(services))])
    rows.append(
        [label, "`manage.py provision_tenant`", fmt_s(statistics.median(commands)), fmt_s(max(commands))]
    )


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n\n| " + " | ".join(header) + " |\n|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


RELEASE_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("booking", "{leaf}")]
    operations = [
        migrations.AddField(
            model_name="service",
            name="bench_release_note",
            field=models.CharField(max_length=20, blank=True, default=""),
        )
    ]
"""


def release_settings(work: Path) -> dict[str, str]:
    """A settings module whose booking migrations are the repository's plus one new one."""
    package = work / "bench_release_migrations"
    shutil.copytree(REPO / "booking" / "migrations", package, ignore=shutil.ignore_patterns("__pycache__"))
    leaf = sorted(p.stem for p in package.glob("0*.py"))[-1]
    (package / "9999_bench_release.py").write_text(RELEASE_MIGRATION.format(leaf=leaf))
    (work / "bench_release_settings.py").write_text(
        "from madoguchi.settings import *  # noqa: F403\n"
        "MIGRATION_MODULES = {'booking': 'bench_release_migrations'}\n"
    )
    pythonpath = os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"DJANGO_SETTINGS_MODULE": "bench_release_settings", "PYTHONPATH": pythonpath}


def undo_release(database: str) -> None:
    with psycopg.connect(f"{SERVER}/{database}", autocommit=True) as conn:
        conn.execute(
            """
            DO $$ DECLARE s text; BEGIN
              FOR s IN SELECT table_schema FROM information_schema.columns
                        WHERE table_name = 'booking_service' AND column_name = 'bench_release_note' LOOP
                EXECUTE format('ALTER TABLE %I.booking_service DROP COLUMN bench_release_note', s);
                EXECUTE format('DELETE FROM %I.django_migrations WHERE name = %L', s, '9999_bench_release');
              END LOOP;
            END $$
            """
        )


def migrate(database: str, label: str, rows: list[list[str]], extra: dict[str, str], executor: str) -> None:
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command line
        [
            PYTHON,
            "manage.py",
            "migrate_schemas",
            "--tenant",
            "--noinput",
            "-v",
            "0",
            f"--executor={executor}",
        ],
        cwd=REPO,
        env=env_for(database, TENANT_MULTIPROCESSING_MAX_PROCESSES=str(ARGS.processes), **extra),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"migrate_schemas failed: {done.stderr[-2000:]}")
    tenants = tenant_count(database)
    rows.append(
        [label, executor, str(tenants), fmt_s(wall), f"{wall / tenants * 1000:.0f} ms", f"{wall / 600:.2f}"]
    )


def measure_migrations(database: str) -> None:
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="tenant-scale-") as work:
        release = release_settings(Path(work))
        try:
            migrate(database, "nothing to apply", rows, {}, "multiprocessing")
            migrate(database, "one new migration (AddField)", rows, release, "multiprocessing")
            migrate(database, "nothing to apply, after it", rows, release, "multiprocessing")
        finally:
            undo_release(database)
    print_table(
        f"migrate_schemas --tenant ({ARGS.processes} processes)",
        ["case", "executor", "tenants", "wall", "per tenant", "÷ 10 min"],
        rows,
    )


def measure_requests() -> None:
    one, many = [], []
    for _ in range(ARGS.rounds):  # alternating, so that a slow spell of the machine falls on both alike
        one.append(
            result_of(worker("requests", ONE_DATABASE, "--requests", str(ARGS.requests), DEBUG="false"))
        )
        many.append(
            result_of(worker("requests", ARGS.database, "--requests", str(ARGS.requests), DEBUG="false"))
        )
    rows = []
    for key, label in (
        ("availability_ms", "availability GET (31 days)"),
        ("staff_ms", "staff bookings list"),
    ):
        a = statistics.median(r[key] for r in one)
        b = statistics.median(r[key] for r in many)
        rows.append([label, f"{a:.2f} ms", f"{b:.2f} ms", f"**{b / a:.3f}**"])
    tenants = tenant_count(ARGS.database)
    print_table(
        f"request cost, {tenants} tenants ÷ 1 tenant (median of {ARGS.rounds} rounds × {ARGS.requests})",
        ["request", "1 tenant", f"{tenants} tenants", "ratio"],
        rows,
    )
    spread_args = ["--name", "spread", "--requests", str(ARGS.requests), "--spread", str(ARGS.spread)]
    spread = result_of(worker("requests", ARGS.database, *spread_args, DEBUG="false"))
    single = many[-1]
    print_table(
        f"availability GET spread over {spread['tenants']} tenants, one process and connection",
        ["what", "median", "÷ same tenant", "backend catalog cache"],
        [
            [
                "same tenant repeatedly",
                f"{spread['same_tenant_ms']:.2f} ms",
                "1.000",
                f"{single['cache_bytes'] / 2**20:.1f} MiB (one tenant's run)",
            ],
            [
                f"first touch of each of {spread['tenants']} tenants",
                f"{spread['first_touch_ms']:.2f} ms",
                f"{spread['first_touch_ms'] / spread['same_tenant_ms']:.3f}",
                "",
            ],
            [
                "each tenant again (round robin)",
                f"{spread['spread_ms']:.2f} ms",
                f"{spread['spread_ms'] / spread['same_tenant_ms']:.3f}",
                f"{spread['cache_bytes'] / 2**20:.1f} MiB after all tenants",
            ],
        ],
    )


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        "?",
    )
    (version,) = admin_sql("SHOW server_version")[0]
    load = Path("/proc/loadavg").read_text().split()[0]
    return f"{os.cpu_count()} cores ({cpu}), PostgreSQL {version}, load average {load} at the start"


def main() -> int:
    skip = set(filter(None, ARGS.skip.split(",")))
    print(machine(), flush=True)
    for name in (ARGS.database, ONE_DATABASE):
        ensure_database(name)
    try:
        result_of(worker("setup", ONE_DATABASE))
        build(ARGS.database)
        (size,) = admin_sql("SELECT pg_database_size(%s)", ARGS.database)[0]
        print(f"{ARGS.database}: {size / 2**30:.2f} GiB", flush=True)
        if "provision" not in skip:
            rows: list[list[str]] = []
            for database in (ONE_DATABASE, ARGS.database):  # the path before the template, for comparison
                full = result_of(worker("build-template", database))["seconds"]
                rows.append([str(tenant_count(database)), "every migration, in-process", fmt_s(full), ""])
            measure_provisioning(ONE_DATABASE, "1", rows)
            measure_provisioning(ARGS.database, str(tenant_count(ARGS.database)), rows)
            print_table(
                "provisioning one tenant (3 each; limit 5 s)", ["tenants", "how", "median", "max"], rows
            )
        if "migrate" not in skip:
            measure_migrations(ARGS.database)
        if "requests" not in skip:
            measure_requests()
    finally:
        if not ARGS.keep:
            drop_database(ARGS.database)
            drop_database(ONE_DATABASE)
    return 0


if __name__ == "__main__":
    if ARGS.role == "main":
        sys.exit(main())
    import django

    django.setup()
    ROLES[ARGS.role]()
