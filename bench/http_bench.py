"""HTTP benchmark (issue 12): the project under gunicorn against the limits of the same machine, in one run.

    make bench-http              # or: python bench/http_bench.py [--keep] [--rounds 3] [--seconds 8] ...

In one sitting it:

1. makes its own database (default `madoguchi_http_bench`; a name without `bench` is refused), migrates it,
   provisions `kyoto` with its preset, issues cards through `do_import_cards` (with letters, so each has a
   password we know) and makes free slots;
2. starts a no-op Django view (`bench/noop_wsgi.py`) under gunicorn with sync workers = cores × 2, and the
   project under gunicorn with `infra/docker/gunicorn_conf.py`, DEBUG off and production settings (keys
   generated for the run), `MADOGUCHI_WEB_POOL=citizen`; gets a bearer token per card from
   `/api/v1/citizen/sessions/`;
3. measures in `--rounds` rounds (default 3), each limit right before what is compared with it: pgbench
   running the booking transaction (a conditional capacity UPDATE and an INSERT under a partial unique
   index, as `do_book` and the trigger do) with 16 clients, and pgbench calling the project's own booking
   function on cards and slots of its own, rolled back (`_pgbench_one_call`), then citizen booking POSTs
   with wrk (`bench/http_bench.lua`; an `Idempotency-Key` each, spread over the free slots, every
   `--race-every`'th slot (default 8) asked for once more than its capacity, the others as often as their
   capacity; each round its own share of the cards); the no-op view, then
   availability GETs (one place, 31 days); then the same project as the staff pool for the staff API's
   bookings list;
4. prints requests/s, p50, p99 and errors per scenario and round, P1 = bookings/s ÷ pgbench tps and
   P2 = availability/s ÷ no-op/s of each round and their medians (and, for information, bookings/s ÷ the
   tps of pgbench on the project's own booking call), then checks in SQL that no slot took more
   than its capacity and that `taken` = confirmed bookings + holds (exit status 1 otherwise);
5. stops every process it started and drops the database (unless `--keep`).

What matters is the ratios within one round, not absolute figures: this machine's speed moves by a fifth
from one minute to the next (docs/performance.md).
"""

# ruff: noqa: E402 - the environment must be set before Django is configured.

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
HOST = "kyoto.localhost"
SCHEMA = "kyoto"
SERVICE_CODE = "card_issuance"


# POSTs a second the default --cards allows: P1 = 0.15 at pgbench's ~6,500 tps is ~1,000 bookings a second.
POSTS_A_SECOND = 1500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="madoguchi_http_bench", help="must contain 'bench'")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument(
        "--cards",
        type=int,
        help=f"cards, so booking POSTs, at most, all rounds (default: rounds × seconds × {POSTS_A_SECOND})",
    )
    parser.add_argument("--seconds", type=positive, default=8, help="each wrk scenario, each round")
    parser.add_argument(
        "--rounds", type=positive, default=3, help="rounds of limit-then-project measurements"
    )
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--pgbench-clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--race-every",
        type=positive,
        default=8,
        help="every n-th slot is asked for once more than its capacity (1: every slot, as before 2026-12-07)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.cards is None:
        args.cards = args.rounds * args.seconds * POSTS_A_SECOND
    return args


def positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


ARGS = parse_args()
if "bench" not in ARGS.database:
    sys.exit(f"refusing to use database {ARGS.database!r}: use a throwaway *bench* database")
DATABASE_URL = f"{ARGS.server.rstrip('/')}/{ARGS.database}"
# One set of keys for the run: the setup below (DEBUG on) and the gunicorn processes (DEBUG off) must
# agree on the passwords' HMAC key and the operation log's.
RUN_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": ARGS.redis_url,
    "SECRET_KEY": secrets.token_urlsafe(48),
    "RESERVATION_PASSWORD_KEY": secrets.token_urlsafe(32),
    "OPLOG_KEY": secrets.token_urlsafe(32),
    "CACHE_KEY_PREFIX": f"http-bench-{secrets.token_hex(4)}",  # nothing cached by an earlier run is seen
    "STAFF_DEFAULT_NETWORKS": "127.0.0.0/8",
    "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
}
os.environ.update(RUN_ENV)
os.environ["DEBUG"] = "true"  # only this process: the migrations and fixtures, not what is measured


def ensure_database() -> None:
    with psycopg.connect(f"{ARGS.server.rstrip('/')}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (ARGS.database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(ARGS.database)))


def drop_database() -> None:
    with psycopg.connect(f"{ARGS.server.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(ARGS.database)))


ensure_database()

import django

django.setup()

from _booking_fixtures import Fixtures, InvariantBroken, audit_slots, raw_connection
from _common import print_table
from _pgbench_booking import Limit, pgbench_booking
from _pgbench_one_call import TENANT, one_call_targets, pgbench_one_call
from _processes import Gunicorn, http_request
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.audit import oplog
from booking.lifecycle.intake import CardRow, do_import_cards
from booking.models import Booking, Place, Service
from booking.models.staff import StaffRole
from tenants.models import Municipality

STAFF_USER = "bench-viewer"
STAFF_PASSWORD = "Kyoto-2026!ok"  # noqa: S105 - a user of the throwaway database
SETUP_ACTOR = oplog.Actor(None, "http-bench", "127.0.0.1")
# This run's cards: application IDs 99999 + run + number (23 digits). A kept database is used again by the
# next run, which issues new cards (those of the earlier run have passwords under its key).
CARD_PREFIX = f"99999{secrets.randbelow(10_000):04d}"


# --- setup ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One booking POST to come: whose card, which place and start."""

    reservation_number: str
    password: str
    location: int
    start: str


def provision() -> None:
    call_command("migrate_schemas", shared=True, verbosity=0)
    # kyoto, which the HTTP rounds use, and a municipality of pgbench's own booking calls (_pgbench_one_call)
    for schema, name, host in ((SCHEMA, "京都市", HOST), (TENANT, "ベンチ市", f"{TENANT}.localhost")):
        if not Municipality.objects.filter(schema_name=schema).exists():
            call_command(
                "provision_tenant", schema, name=name, domain=host, preset="kyoto", stdout=io.StringIO()
            )


def make_fixtures(cards: int, seed: int) -> tuple[list[Request], int, str, list[tuple[object, ...]]]:
    """Cards through the intake service, free slots, each asked for as often as its capacity (every
    --race-every'th once more); also the staff user. Returns the requests (in the order to send them), a
    place for the availability GETs and the day the staff list is asked for, and the rows of pgbench's own
    booking calls (`_pgbench_one_call`)."""
    with schema_context(SCHEMA):
        rows = [
            CardRow(
                line=i + 1,
                application_id=f"{CARD_PREFIX}{i:014d}",
                name="ベンチ 太郎",
                name_kana="ベンチ タロウ",
                birth_date=dt.date(1950, 4, 1),
                postal_code="604-8571",
                address="京都市中京区寺町通御池上る上本能寺前町488",
            )
            for i in range(cards)
        ]
        letters = do_import_cards(rows, actor="http-bench", note="HTTP benchmark", letters=True).letters
        service = Service.objects.get(code=SERVICE_CODE)
        places = list(Place.objects.order_by("pk"))
        fixtures = Fixtures(service, seed)
        # Enough slots that every card has a request (the preset's slots hold 3.1-3.3 people on average).
        # A slot's requests come one after another, so that they are in flight together (wrk's threads and
        # connections take consecutive lines). Every --race-every'th slot gets capacity + 1 and its last is
        # refused: the race for a slot's last places, checked at the end. The others get capacity, so that a
        # POST is a booking, as pgbench's transaction always is (until 2026-12-07 every slot was raced).
        average_capacity = 3
        average_asks = average_capacity + 1 / ARGS.race_every
        targets = fixtures.slots(places, max(1, math.ceil(cards / average_asks)), days=60)
        asks = [
            target
            for number, target in enumerate(targets)
            for _ in range(target.capacity + (1 if number % ARGS.race_every == 0 else 0))
        ]
        requests = [
            Request(letter.reservation_number, letter.password, target.place.pk, target.starts_at.isoformat())
            for letter, target in zip(letters, asks, strict=False)
        ]
        if not get_user_model().objects.filter(username=STAFF_USER).exists():
            accounts.do_create_staff(
                SETUP_ACTOR, STAFF_USER, StaffRole.VIEWER, STAFF_PASSWORD, must_change=False
            )
        busiest = max(places, key=lambda place: sum(1 for t in targets if t.place.pk == place.pk))
        # the staff list's ?date= is a Tokyo day: an early-morning slot is on the previous UTC date
        day = timezone.localdate(min(t.starts_at for t in targets))
    one_call_rows = one_call_targets(SERVICE_CODE, seed)
    return requests, busiest.pk, day.isoformat(), one_call_rows


# --- processes -----------------------------------------------------------------------------------------


def citizen_tokens(port: int, requests: Sequence[Request]) -> list[str]:
    """A token per card from the citizen API, a few at once (the per-address login throttle counts
    attempts in flight: 8 stays under it); a 429 is waited out."""

    def token(request: Request) -> str:
        for _ in range(20):
            status, data = http_request(
                port,
                "POST",
                "/api/v1/citizen/sessions/",
                HOST,
                {"reservation_number": request.reservation_number, "password": request.password},
            )
            if status == 201:
                return str(data["token"])
            if status != 429:
                raise SystemExit(f"citizen sign-in answered {status}: {data}")
            time.sleep(1)
        raise SystemExit("citizen sign-in kept answering 429")

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(token, requests))


# --- load ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    codes: dict[str, int]
    socket_errors: int
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *statuses: str) -> int:
        return sum(n for code, n in self.codes.items() if code in statuses)

    @property
    def errors(self) -> int:
        """Answers that are neither a success nor the expected refusal of a full slot, plus socket errors."""
        ok = sum(n for code, n in self.codes.items() if code.startswith("2"))
        return self.requests - ok - self.count("409") + self.socket_errors


@dataclass
class Round:
    """One round: pgbench, then the booking POSTs; the no-op view, then the availability GETs."""

    limit: Limit
    same_limit: Limit  # pgbench running the project's own booking call (_pgbench_one_call)
    booking: Result
    noop: Result
    availability: Result

    @property
    def bookings_per_second(self) -> float:
        # bookings are the 201 answers (a raced slot's last asker is refused, 409 slot_full, by design)
        return self.booking.count("201") / self.booking.seconds if self.booking.seconds else 0.0

    @property
    def p1(self) -> float:
        return self.bookings_per_second / self.limit[0]

    @property
    def p1_same(self) -> float:
        return self.bookings_per_second / self.same_limit[0]

    @property
    def p2(self) -> float:
        return self.availability.per_second / self.noop.per_second if self.noop.per_second else 0.0


def wrk(scenario: str, port: int, path: str, seconds: int, extra_env: dict[str, str]) -> Result:
    threads = max(1, os.cpu_count() or 1)
    env = {**os.environ, "BENCH_THREADS": str(threads), "BENCH_HOST": HOST, **extra_env}
    completed = subprocess.run(  # noqa: S603 - our own command line
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{ARGS.connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(BENCH / "http_bench.lua"),
            f"http://127.0.0.1:{port}{path}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    return Result(
        scenario=scenario,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        codes={str(k): int(v) for k, v in data["codes"].items()},
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        first_error=data["first_error"],
    )


# --- the run -------------------------------------------------------------------------------------------


def project_env(pool: str, work_dir: Path) -> dict[str, str]:
    (work_dir / "static").mkdir(exist_ok=True)
    return {
        **RUN_ENV,
        "DEBUG": "false",
        "MADOGUCHI_WEB_POOL": pool,
        "GUNICORN_WORKER_TMP_DIR": tempfile.gettempdir(),
        "STATIC_ROOT": str(work_dir / "static"),  # empty: the API serves no static files
        "LOG_LEVEL": "WARNING",
    }


def machine() -> list[tuple[str, str]]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    with psycopg.connect(DATABASE_URL) as conn:
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    return [("cores (nproc)", str(os.cpu_count())), ("CPU", cpu), ("PostgreSQL", version)]


def run(work_dir: Path, started: list[Gunicorn]) -> int:
    provision()
    requests, place_id, staff_day, one_call_rows = make_fixtures(ARGS.cards, ARGS.seed)
    connections.close_all()
    print(f"set up: {len(requests)} cards with free slots; place {place_id}; logs in {work_dir}", flush=True)

    cores = os.cpu_count() or 1
    noop = Gunicorn(
        "noop", ["--chdir", str(BENCH), "--workers", str(cores * 2), "noop_wsgi:application"], {}, work_dir
    )
    started.append(noop)
    conf = ["--config", str(REPO / "infra/docker/gunicorn_conf.py"), "madoguchi.wsgi:application"]
    citizen = Gunicorn("citizen", conf, project_env("citizen", work_dir), work_dir)
    started.append(citizen)
    noop.wait_ready("/", "localhost")
    citizen.wait_ready("/healthz", HOST)
    tokens = citizen_tokens(citizen.port, requests)
    # each round books its own share of the cards, in order (a slot's asks stay together but at a share's end)
    share = -(-len(requests) // ARGS.rounds)
    targets: list[tuple[Path, int]] = []
    for number in range(ARGS.rounds):
        part = slice(number * share, (number + 1) * share)
        target = work_dir / f"targets-{number + 1}.tsv"
        target.write_text(
            "".join(
                f"{t}\t{r.location}\t{r.start}\n" for t, r in zip(tokens[part], requests[part], strict=True)
            )
        )
        targets.append((target, len(tokens[part])))
    print(f"{len(tokens)} citizen tokens, {share} a round", flush=True)
    today = timezone.localdate()  # the availability API's days are Tokyo days, not the machine's
    availability_path = (
        f"/api/v1/availability/?location={place_id}&service={SERVICE_CODE}"
        f"&from={today.isoformat()}&to={(today + dt.timedelta(days=30)).isoformat()}"
    )
    wrk("warm-up", noop.port, "/", 2, {"BENCH_MODE": "get"})
    wrk("warm-up", citizen.port, availability_path, 2, {"BENCH_MODE": "get"})

    # The machine's speed moves by a fifth from minute to minute (a shared virtual machine): each limit is
    # measured right before what is compared with it, round after round, and the ratios are of each round.
    rounds: list[Round] = []
    with (
        pgbench_booking(DATABASE_URL, ARGS.pgbench_clients, work_dir) as pgbench,
        pgbench_one_call(DATABASE_URL, ARGS.pgbench_clients, work_dir, one_call_rows) as pgbench_same,
    ):
        for number in range(1, ARGS.rounds + 1):
            same_limit = pgbench_same(ARGS.pgbench_seconds, f"s{number}")
            limit = pgbench(ARGS.pgbench_seconds, f"r{number}")
            booking = wrk(
                f"booking POST, round {number}",
                citizen.port,
                "/api/v1/citizen/booking/",
                ARGS.seconds,
                {"BENCH_MODE": "book", "BENCH_TARGETS": str(targets[number - 1][0])},
            )
            noop_result = wrk(
                f"no-op Django view, round {number}", noop.port, "/", ARGS.seconds, {"BENCH_MODE": "get"}
            )
            availability = wrk(
                f"availability GET (31 days), round {number}",
                citizen.port,
                availability_path,
                ARGS.seconds,
                {"BENCH_MODE": "get"},
            )
            rounds.append(Round(limit, same_limit, booking, noop_result, availability))
            print(
                f"round {number}: P1 {rounds[-1].p1:.4f} (pgbench {limit[0]:,.0f} tps),"
                f" against the same call {rounds[-1].p1_same:.4f} ({same_limit[0]:,.0f} tps),"
                f" P2 {rounds[-1].p2:.4f}",
                flush=True,
            )
            if booking.requests > targets[number - 1][1]:
                print(
                    f"cards ran out in round {number}: {booking.requests} POSTs for"
                    f" {targets[number - 1][1]} cards;"
                    " raise --cards"
                )
    noop.stop()
    citizen.stop()

    staff = Gunicorn("staff", conf, project_env("staff", work_dir), work_dir)
    started.append(staff)
    staff.wait_ready("/healthz", HOST)
    status, data = http_request(
        staff.port,
        "POST",
        "/api/v1/staff/sessions/",
        HOST,
        {"username": STAFF_USER, "password": STAFF_PASSWORD},
    )
    if status != 201:
        raise SystemExit(f"staff sign-in answered {status}: {data}")
    staff_path = f"/api/v1/staff/bookings/?date={staff_day}"
    staff_result = wrk(
        "staff bookings list GET",
        staff.port,
        staff_path,
        ARGS.seconds,
        {"BENCH_MODE": "get", "BENCH_AUTH": data["token"]},
    )
    staff.stop()

    with schema_context(SCHEMA):
        made = Booking.objects.filter(
            status="confirmed", card__application_id__startswith=CARD_PREFIX
        ).count()
    connections.close_all()
    report(rounds, staff_result, made, started)
    with raw_connection() as conn:
        try:
            rows = audit_slots(conn)
        except InvariantBroken as broken:
            print(f"\nSLOT INVARIANT BROKEN: {broken}")
            return 1
    print(f"\n{len(rows)} slots checked: none over capacity, taken = confirmed bookings + holds in each")
    return 0


def report(rounds: list[Round], staff: Result, made: int, started: list[Gunicorn]) -> None:
    results = [r for one in rounds for r in (one.booking, one.noop, one.availability)] + [staff]
    print_table(
        f"Throughput and latency (wrk {ARGS.connections} connections, {ARGS.seconds} s each;"
        f" pgbench {ARGS.pgbench_clients} clients, {ARGS.pgbench_seconds} s; {len(rounds)} rounds)",
        ["scenario", "requests/s", "p50", "p99", "answers", "errors"],
        [
            *(
                [
                    f"pgbench: booking transaction, round {n}",
                    f"{one.limit[0]:,.0f}",
                    f"{one.limit[1]:.2f} ms",
                    f"{one.limit[2]:.2f} ms",
                    "",
                    "0",
                ]
                for n, one in enumerate(rounds, 1)
            ),
            *(
                [
                    f"pgbench: the project's booking call (rolled back), round {n}",
                    f"{one.same_limit[0]:,.0f}",
                    f"{one.same_limit[1]:.2f} ms",
                    f"{one.same_limit[2]:.2f} ms",
                    "",
                    "0",
                ]
                for n, one in enumerate(rounds, 1)
            ),
            *(
                [
                    r.scenario,
                    f"{r.per_second:,.1f}",
                    f"{r.p50_ms:,.1f} ms",
                    f"{r.p99_ms:,.1f} ms",
                    ", ".join(f"{code}: {n}" for code, n in sorted(r.codes.items())),
                    str(r.errors),
                ]
                for r in results
            ),
        ],
    )
    # The database may hold a few more bookings than the 201s: requests in flight when wrk stopped.
    answered = sum(one.booking.count("201") for one in rounds)
    print(f"\nbookings: {answered} answered 201 ({made} in the database)")
    for name, ratios, target in (
        ("P1 = bookings/s ÷ pgbench tps", [one.p1 for one in rounds], "≥ 0.15"),
        ("P2 = availability/s ÷ no-op/s", [one.p2 for one in rounds], "≥ 0.5"),
    ):
        each = ", ".join(f"{ratio:.4f}" for ratio in ratios)
        print(f"{name}: median {statistics.median(ratios):.4f} of rounds {each} (target {target})")
    # Not the P1: what the HTTP path keeps of the database's pace on the very same call, for the
    # decision docs/performance.md asks of the owner (bench/_pgbench_one_call.py).
    same = [one.p1_same for one in rounds]
    print(
        f"(for information) bookings/s ÷ pgbench tps of the project's own booking call: median"
        f" {statistics.median(same):.4f} of rounds {', '.join(f'{ratio:.4f}' for ratio in same)}"
    )
    worst = max(rounds, key=lambda one: one.booking.p99_ms)
    print(f"booking p99, worst round: {worst.booking.p99_ms:,.1f} ms (target < 250 ms)")
    print_table("Machine", ["", ""], machine())
    for r in results:
        if r.first_error:
            print(f"\n{r.scenario}: first 5xx body: {r.first_error}")
    if any(r.count(*(str(c) for c in range(500, 600))) for r in results):
        print("5xx answers: the tracebacks are in the gunicorn logs (--keep keeps them):")
        print("\n".join(f"  {g.log}" for g in started))


def main() -> int:
    started: list[Gunicorn] = []
    work_dir = Path(tempfile.mkdtemp(prefix="http-bench-"))
    try:
        return run(work_dir, started)
    finally:
        for process in started:
            process.stop()
        connections.close_all()
        if ARGS.keep:
            print(f"kept database {ARGS.database} and {work_dir}")
        else:
            drop_database()
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
