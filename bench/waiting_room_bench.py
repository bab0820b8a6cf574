"""Waiting-room load test (issue 12, item 3): a crowd at 10× a municipality's admission rate, via gunicorn.

    make bench-waiting-room         # or: python bench/waiting_room_bench.py [--rate 30] [--seconds 60] ...

In one sitting it:

1. makes its own database (default `madoguchi_waiting_room_bench`; a name without `bench` is refused),
   migrates it, provisions `kyoto` and `mihon`, a staff viewer in Kyoto, and switches Kyoto's waiting room
   on (its `WaitingRoom` row: `--rate` new residents a minute, `--active` at once);
2. starts the project under gunicorn with `infra/docker/gunicorn_conf.py`, DEBUG off and production
   settings, one pool serving everyone (`MADOGUCHI_WEB_POOL` unset: the worst case, residents and operators
   on the same processes);
3. idle: measures Mihon's top page (another tenant) and the staff API's bookings list (operators) with a
   steady light probe;
4. crowd: `--multiple` × the rate arrive at Kyoto, one new resident every 60 / (rate × multiple) s, each
   with its own cookies; a waiting resident asks again when the page refreshes itself (about every 30 s),
   but a third of them reload every 2 s, trying to push ahead; an admitted one makes `--inside` more
   requests (the top page and the citizen API's places) and leaves; the same probes run meanwhile;
5. prints the Spearman rank correlation of arrival and admission (as the residents saw it, and the
   server's own order of admission, read from Redis), the errors among admitted residents and among
   waiting ones (a waiting resident's answer is the queue page: anything else is an error), and each probe's
   p50/p99 idle and in the crowd with their ratio (the issue's bound: 1.5);
6. stops gunicorn and drops the database (unless `--keep`).
"""

# ruff: noqa: E402 - the environment must be set before Django is configured.

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
KYOTO, MIHON = "kyoto.localhost", "mihon.localhost"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="madoguchi_waiting_room_bench", help="must contain 'bench'")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--rate", type=int, default=30, help="Kyoto's new residents a minute")
    parser.add_argument("--active", type=int, default=1000, help="Kyoto's residents at once")
    parser.add_argument("--multiple", type=int, default=10, help="arrivals = multiple × rate")
    parser.add_argument("--seconds", type=int, default=60, help="how long the crowd arrives")
    parser.add_argument("--idle-seconds", type=int, default=30)
    parser.add_argument("--inside", type=int, default=3, help="requests an admitted resident makes")
    parser.add_argument("--probe-per-second", type=float, default=5.0)
    parser.add_argument("--retry-after", type=float, default=30.0, help="a patient resident's wait")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


ARGS = parse_args()
if "bench" not in ARGS.database:
    sys.exit(f"refusing to use database {ARGS.database!r}: use a throwaway *bench* database")
DATABASE_URL = f"{ARGS.server.rstrip('/')}/{ARGS.database}"
RUN_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": ARGS.redis_url,
    "SECRET_KEY": secrets.token_urlsafe(48),
    "RESERVATION_PASSWORD_KEY": secrets.token_urlsafe(32),
    "OPLOG_KEY": secrets.token_urlsafe(32),
    "CACHE_KEY_PREFIX": f"wr-bench-{secrets.token_hex(4)}",
    "STAFF_DEFAULT_NETWORKS": "127.0.0.0/8",
    "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
}
os.environ.update(RUN_ENV)
os.environ["DEBUG"] = "true"  # only this process: the migrations and fixtures, not what is measured

with psycopg.connect(f"{ARGS.server.rstrip('/')}/postgres", autocommit=True) as _conn:
    if not _conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (ARGS.database,)).fetchone():
        _conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(ARGS.database)))

import django

django.setup()

from _common import percentile, print_table
from _processes import Gunicorn
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import call_command
from django.db import connections
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.audit import oplog
from booking.models.staff import StaffRole
from console.models import WaitingRoom
from console.waiting_room import redis_line
from tenants.models import Municipality

STAFF_USER, STAFF_PASSWORD = "bench-viewer", "Kyoto-2026!ok"  # noqa: S105 - the throwaway database's


def setup() -> None:
    call_command("migrate_schemas", shared=True, verbosity=0)
    for schema, host, name in (("kyoto", KYOTO, "京都市"), ("mihon", MIHON, "見本市")):
        if not Municipality.objects.filter(schema_name=schema).exists():
            call_command(
                "provision_tenant", schema, name=name, domain=host, preset="blank", stdout=io.StringIO()
            )
    with schema_context("kyoto"):
        if not get_user_model().objects.filter(username=STAFF_USER).exists():
            actor = oplog.Actor(None, "waiting-room-bench", "127.0.0.1")
            accounts.do_create_staff(actor, STAFF_USER, StaffRole.VIEWER, STAFF_PASSWORD, must_change=False)
    # Written directly, not by do_set_waiting_room: a 1-minute idle time turns the line over within the run,
    # and the service refuses an idle time not longer than the municipality's hold (10 minutes), as it should
    # for a real site (docs/operations.md §2.7).
    WaitingRoom.objects.update_or_create(
        tenant=Municipality.objects.get(schema_name="kyoto"),
        defaults={
            "enabled": True,
            "active_limit": ARGS.active,
            "per_minute": ARGS.rate,
            "idle_minutes": 1,
            "updated_by": "waiting-room-bench",
        },
    )
    connections.close_all()


# --- processes and requests ----------------------------------------------------------------------------


class ProjectServer(Gunicorn):
    """The project under gunicorn as production runs it, serving every pool (residents, staff), DEBUG off."""

    def __init__(self, work_dir: Path) -> None:
        (work_dir / "static").mkdir(exist_ok=True)
        env = {
            **RUN_ENV,
            "DEBUG": "false",
            "GUNICORN_WORKER_TMP_DIR": tempfile.gettempdir(),
            "STATIC_ROOT": str(work_dir / "static"),
            "LOG_LEVEL": "WARNING",
            "MADOGUCHI_WEB_POOL": "",  # every pool: staff and operators are measured beside residents
        }
        # the pages name their stylesheet through the manifest, as in the image: collect it first
        subprocess.run(  # noqa: S603 - our own command line
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=REPO,
            env={**os.environ, **env},
            check=True,
        )
        conf = ["--config", str(REPO / "infra/docker/gunicorn_conf.py"), "madoguchi.wsgi:application"]
        super().__init__("gunicorn", conf, env, work_dir)
        try:
            self.wait_ready("/healthz", KYOTO)
        except BaseException:  # wait_ready exits with SystemExit; the caller never gets this object to stop
            self.stop()
            raise

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn's master and workers (from /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.process.pid in (pid, ppid):
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks


@dataclass
class Answer:
    status: int
    queued: bool
    cookies: dict[str, str]
    body: bytes = b""


def get(port: int, path: str, host: str, cookies: dict[str, str] | None = None, **headers: str) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = {"Host": host, "X-Forwarded-Proto": "https", **headers}
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request("GET", path, headers=sent)
        response = conn.getresponse()
        body = response.read()
        jar: dict[str, str] = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                jar[name] = morsel.value
        queued = (
            "mg_wr_ticket" in jar and bool(jar["mg_wr_ticket"]) and response.getheader("Retry-After") == "30"
        )
        return Answer(response.status, queued, jar, body)
    finally:
        conn.close()


# --- the crowd -----------------------------------------------------------------------------------------


@dataclass
class Resident:
    number: int
    arrived: float = 0.0
    admitted: float | None = None
    server_id: str = ""  # the ticket or pass id the server gave (its admission order is in Redis)
    cookies: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    waiting_errors: list[str] = field(default_factory=list)


def _server_id(cookies: dict[str, str], name: str) -> str:
    # signed "kyoto:<id>[:<seq>]:<timestamp?>:<signature>": the id is the second field
    parts = cookies.get(name, "").split(":")
    return parts[1] if len(parts) > 2 else ""


def live(port: int, resident: Resident, rng: random.Random, stop_at: float) -> None:
    resident.arrived = time.monotonic()
    impatient = rng.random() < 1 / 3
    while time.monotonic() < stop_at:
        try:
            answer = get(port, "/", KYOTO, resident.cookies)
        except OSError as error:
            resident.waiting_errors.append(type(error).__name__)
            time.sleep(1)
            continue
        resident.cookies.update({k: v for k, v in answer.cookies.items() if v})
        if answer.queued:
            if answer.status != 200:
                resident.waiting_errors.append(str(answer.status))
            resident.server_id = resident.server_id or _server_id(resident.cookies, "mg_wr_ticket")
            # as the page says (Retry-After, its Refresh), or an impatient reload every 2 s
            time.sleep(2 if impatient else rng.uniform(0.8, 1.2) * ARGS.retry_after)
            continue
        if answer.status != 200:
            resident.errors.append(str(answer.status))
        resident.admitted = time.monotonic()
        resident.server_id = resident.server_id or _server_id(resident.cookies, "mg_wr_pass")
        for i in range(ARGS.inside):
            path = "/api/v1/locations/" if i % 2 == 0 else "/"
            inside = get(port, path, KYOTO, resident.cookies, Accept="application/json")
            if inside.queued or inside.status >= 400:
                resident.errors.append(f"{path}: {inside.status}{' queued' if inside.queued else ''}")
        return


class Probe(threading.Thread):
    """A steady trickle of one request, timing each answer."""

    def __init__(self, name: str, call: Callable[[], Answer]) -> None:
        super().__init__(daemon=True)
        self.label, self.call = name, call
        self.samples: dict[str, list[float]] = {"idle": [], "crowd": []}
        self.errors: dict[str, int] = {"idle": 0, "crowd": 0}
        self.phase = "idle"
        self.running = True
        self.first_error = ""

    def run(self) -> None:
        while self.running:
            started = time.perf_counter()
            try:
                answer = self.call()
                ok = answer.status == 200 and not answer.queued
                if not ok and not self.first_error:
                    self.first_error = f"{answer.status}: {answer.body[:300]!r}"
            except OSError as error:
                ok = False
                self.first_error = self.first_error or repr(error)
            phase = self.phase
            self.samples[phase].append((time.perf_counter() - started) * 1000)
            self.errors[phase] += 0 if ok else 1
            time.sleep(max(0.0, 1 / ARGS.probe_per_second - (time.perf_counter() - started)))


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    def ranks(values: Sequence[float]) -> list[int]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        result = [0] * len(values)
        for rank, i in enumerate(order):
            result[i] = rank
        return result

    n = len(xs)
    if n < 2:
        return float("nan")
    rx, ry = ranks(xs), ranks(ys)
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True)) / (n * (n * n - 1))


def staff_token(port: int) -> str:
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": STAFF_USER, "password": STAFF_PASSWORD})
    conn.request(
        "POST",
        "/api/v1/staff/sessions/",
        body=body,
        headers={"Host": KYOTO, "Content-Type": "application/json", "X-Forwarded-Proto": "https"},
    )
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 201:
        raise SystemExit(f"staff sign-in answered {response.status}: {data}")
    return str(data["token"])


def run(work_dir: Path) -> int:
    setup()
    server = ProjectServer(work_dir)
    try:
        token = staff_token(server.port)
        probes = [
            Probe("another tenant (Mihon's top page)", lambda: get(server.port, "/", MIHON)),
            Probe(
                "operators (staff API bookings list)",
                lambda: get(server.port, "/api/v1/staff/bookings/", KYOTO, Authorization=f"Bearer {token}"),
            ),
        ]
        for probe in probes:
            for _ in range(10):  # warm-up: each worker's first answers load templates and connect
                probe.call()
            probe.start()
        print(f"idle: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        time.sleep(ARGS.idle_seconds)
        for probe in probes:
            probe.phase = "crowd"
        cpu = (server.cpu_seconds(), time.process_time(), time.monotonic())
        arrivals = ARGS.rate * ARGS.multiple * ARGS.seconds // 60
        gap = 60 / (ARGS.rate * ARGS.multiple)
        rng = random.Random(ARGS.seed)
        residents = [Resident(i) for i in range(arrivals)]
        stop_at = time.monotonic() + ARGS.seconds + 30  # after the last arrival, 30 s more of the line
        print(
            f"crowd: {arrivals} residents, one every {gap:.2f} s, at Kyoto admitting {ARGS.rate}/min",
            flush=True,
        )
        with ThreadPoolExecutor(max_workers=arrivals) as pool:
            for resident in residents:
                pool.submit(live, server.port, resident, random.Random(rng.random()), stop_at)
                time.sleep(gap)
        for probe in probes:
            probe.running = False
        wall = time.monotonic() - cpu[2]
        print(
            f"\nCPU in the crowd ({wall:.0f} s, {os.cpu_count()} cores = {(os.cpu_count() or 1) * wall:.0f}"
            f" CPU-s): gunicorn {server.cpu_seconds() - cpu[0]:.0f} CPU-s, this client ({arrivals} threads) "
            f"{time.process_time() - cpu[1]:.0f} CPU-s"
        )
        return report(residents, probes, admitted_order())
    finally:
        server.stop()
        connections.close_all()


def admitted_order() -> dict[str, float]:
    """The server's own admissions (member → when), from Kyoto's line in Redis."""
    cache = caches["default"]
    client = cache.raw_client()  # type: ignore[attr-defined]
    admits = redis_line._keys("kyoto")[4]
    return {m.decode(): score for m, score in client.zrange(admits, 0, -1, withscores=True)}


def report(residents: list[Resident], probes: list[Probe], server_admits: dict[str, float]) -> int:
    admitted = [r for r in residents if r.admitted is not None]
    seen = spearman([r.arrived for r in admitted], [r.admitted or 0.0 for r in admitted])
    by_server = [r for r in admitted if r.server_id in server_admits]
    server = spearman([r.arrived for r in by_server], [server_admits[r.server_id] for r in by_server])
    inside_errors = sum(len(r.errors) for r in admitted)
    waiting_errors = sum(len(r.waiting_errors) for r in residents)
    print_table(
        f"Kyoto: {len(residents)} arrivals at {ARGS.multiple}× its {ARGS.rate}/min",
        ["", ""],
        [
            ["admitted", str(len(admitted))],
            ["still waiting at the end", str(len(residents) - len(admitted))],
            ["Spearman ρ arrival vs admission, as residents saw it", f"{seen:.4f}"],
            [f"Spearman ρ arrival vs the server's admission order ({len(by_server)})", f"{server:.4f}"],
            ["errors among admitted residents", str(inside_errors)],
            ["errors among waiting residents (anything but the queue page)", str(waiting_errors)],
        ],
    )
    kinds = Counter(error for r in residents for error in (*r.errors, *r.waiting_errors))
    if kinds:
        print("\nerrors by kind: " + ", ".join(f"{kind} × {n}" for kind, n in kinds.most_common(8)))
    rows, worst = [], 0.0
    for probe in probes:
        idle, crowd = probe.samples["idle"], probe.samples["crowd"]
        ratio = percentile(crowd, 99) / percentile(idle, 99)
        worst = max(worst, ratio)
        rows.append(
            [
                probe.label,
                f"{percentile(idle, 50):.1f} / {percentile(idle, 99):.1f} ms ({len(idle)})",
                f"{percentile(crowd, 50):.1f} / {percentile(crowd, 99):.1f} ms ({len(crowd)})",
                f"{ratio:.2f}",
                f"{probe.errors['idle']} / {probe.errors['crowd']}",
            ]
        )
    for probe in probes:
        if probe.first_error:
            print(f"{probe.label}: first error {probe.first_error}")
    print_table(
        "Others while Kyoto's crowd waits (p50 / p99)",
        ["probe", "idle", "crowd", "p99 crowd ÷ idle", "errors idle / crowd"],
        rows,
    )
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), "?")
    print(f"\nmachine: {os.cpu_count()} cores, {cpu}")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # Fairness is the server's order: what a resident sees also waits for their own next refresh.
    ok = inside_errors == 0 and waiting_errors == 0 and worst <= 1.5 and server >= 0.99
    print("\nwithin the issue's bounds" if ok else "\nOUTSIDE the issue's bounds (see above)")
    return 0 if ok else 1


def main() -> int:
    work_dir = Path(tempfile.mkdtemp(prefix="wr-bench-"))
    try:
        return run(work_dir)
    finally:
        if ARGS.keep:
            print(f"kept database {ARGS.database} and {work_dir}")
        else:
            with psycopg.connect(f"{ARGS.server.rstrip('/')}/postgres", autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(ARGS.database))
                )
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
