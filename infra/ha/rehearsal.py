"""The HA rehearsal (issue 11): `make ha-rehearsal`, or `python infra/ha/rehearsal.py [--keep-logs]`.

Builds the production topology on loopback from Debian's packages (infra/ha/ha_topology.py), puts the
project on it (gunicorn with infra/docker/gunicorn_conf.py, a Celery worker and beat, mails to files), then
runs each scenario under load through the real HTTP stack (infra/ha/ha_scenarios.py, ha_load.py) and prints
its figures. Exits 1 when any figure is off, 0 when all hold; everything it started is stopped at the end,
on failure and on Ctrl-C too. docs/availability.md explains the figures and has those of a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import psycopg
from ha_topology import (
    DATABASE,
    HAPROXY_PORT,
    HOST,
    PG_PORTS,
    REDIS_PORTS,
    REDIS_PROXY_PORT,
    REPO,
    VENV_BIN,
    WEB_PORT,
    Topology,
    log,
    port_open,
    wait_until,
)

PYTHON = str(VENV_BIN / "python")
DATED = re.compile(r"\d{4}-\d\d-\d\d \d\d:")  # a log record's first line (settings.LOGGING's "plain")
ERROR_FOR = re.compile(r"(?:Internal Server Error|Bad Request): (\S+)")  # django.request's record of one


def app_env(topology: Topology, keys: dict[str, str]) -> dict[str, str]:
    """The project's environment: production settings (DEBUG off) on the HA endpoints."""
    root = topology.root
    return {
        **keys,
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "DEBUG": "false",
        # HAProxy's primary endpoint; libpq keeps only a read-write session even if HAProxy is a beat late
        "DATABASE_URL": f"postgres://postgres:rehearsal@127.0.0.1:{HAPROXY_PORT}/{DATABASE}",
        # HAProxy's Redis endpoint, which follows the master Sentinel chose (the chart's redis-proxy)
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PROXY_PORT}/0",
        "STAFF_DEFAULT_NETWORKS": "127.0.0.0/8",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(root / "mail"),
        "STATIC_ROOT": str(root / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}",
        "GUNICORN_WORKER_TMP_DIR": str(root),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "8",
        "GUNICORN_LOG_LEVEL": "warning",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO / "platform"),
    }


def run_checked(argv: list[str], env: dict[str, str], what: str, timeout: float = 300) -> None:
    completed = subprocess.run(  # noqa: S603 - our own command lines
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")


def build_cluster(topology: Topology) -> None:
    topology.write_configs()
    topology.start_etcd()
    topology.start_patroni("pg1")
    wait_until("pg1 bootstrapped as leader", lambda: topology.leader() == "pg1", 90)
    topology.pgbackrest("pg1", "stanza-create")
    for node in ("pg2", "pg3"):
        topology.start_patroni(node)
    topology.start_haproxy()
    wait_until("three nodes streaming, one synchronous", topology.healthy, 120)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{HAPROXY_PORT}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    topology.pgbackrest(topology.leader() or "pg1", "check")
    log("PostgreSQL: " + ", ".join(f"{m['name']} {m['role']}" for m in topology.members()))


def start_app(topology: Topology, env: dict[str, str]) -> None:
    conf = str(REPO / "infra/docker/gunicorn_conf.py")
    topology.start(
        "web", [str(VENV_BIN / "gunicorn"), "--config", conf, "madoguchi.wsgi:application"], env=env, cwd=REPO
    )
    topology.start(
        "worker",
        [PYTHON, "-m", "celery", "-A", "madoguchi", "worker", "--loglevel", "WARNING", "--concurrency", "2"],
        env=env,
        cwd=REPO,
    )
    topology.start(
        "beat",
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "madoguchi",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(topology.root / "celerybeat-schedule"),
        ],
        env=env,
        cwd=REPO,
    )
    wait_until("the web tier", lambda: port_open(WEB_PORT) and _healthz() == 200, 90)
    # kombu 5.7 ends the worker ("Unrecoverable error: AttributeError … hostname") when the broker's
    # connection drops at a bad moment; in production Kubernetes starts the pod again, here the supervisor
    topology.supervise(("worker", "beat"))


def _healthz() -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=5)
    try:
        conn.request("GET", "/healthz", headers={"Host": HOST})
        return conn.getresponse().status
    finally:
        conn.close()


def _log_records(lines: list[str]) -> list[list[str]]:
    """web.log's records: a dated log line (with its traceback's lines), a JSON access line, or gunicorn's
    own (its log, and its access line when GUNICORN_ACCESS_LOG is set)."""
    records: list[list[str]] = []
    for line in lines:
        if not records or DATED.match(line) or line.startswith(("{", "[", "127.0.0.1")):
            records.append([line])
        else:
            records[-1].append(line)
    return records


def _seconds_apart(logged: str, ts: str) -> float:
    """Seconds between a log record's time ("2026-12-07 04:27:12") and an access line's ("…T04:27:12+09")."""
    try:
        first, second = dt.datetime.fromisoformat(logged), dt.datetime.fromisoformat(ts[:19])
    except ValueError:
        return float("inf")
    return abs((first - second).total_seconds())


def print_web_tracebacks(web_log: Path, most: int = 3) -> None:
    """The causes of the web tier's error answers (status 400 or 5xx in its access lines): for each, the
    nearest traceback before it logged for the same path, each distinct one (by its last line) once.

    Tracebacks are picked by the answers, not all shown (a first run the lost-connection middleware
    answers again logs none since madoguchi.answered_again, but other records may carry one). With no
    error answer (a run failed otherwise), the first distinct tracebacks are shown instead.
    """
    if not web_log.exists():
        return
    records = _log_records(web_log.read_text(errors="replace").splitlines())
    last_traceback: dict[str, tuple[str, list[str]]] = {}  # path -> (its time, the latest traceback for it)
    chosen: dict[str, tuple[list[str], list[str]]] = {}  # last line -> (traceback, its error answers)
    answers: list[str] = []
    for record in records:
        if any(line.startswith("Traceback") for line in record):
            named = ERROR_FOR.search(record[0])
            last_traceback[named.group(1) if named else ""] = (record[0][:19], record)
            if not answers and len(chosen) < most:  # kept in case no answer is an error
                chosen.setdefault(record[-1].strip(), (record, []))
            continue
        if not record[0].startswith("{"):
            continue
        try:
            entry = json.loads(record[0])
        except ValueError:
            continue
        status = int(entry.get("status") or 0)
        if status != 400 and status < 500:
            continue
        rid = f" rid {entry['rid']}" if entry.get("rid") else ""
        answer = f"{entry.get('ts')} {entry.get('method')} {entry.get('path')} {status}{rid}"
        if not answers:
            chosen.clear()  # from here on only the tracebacks of error answers count
        answers.append(answer)
        logged, traceback = last_traceback.pop(str(entry.get("path")), ("", []))
        # the answer's own traceback is logged just before its access line (an older one was answered again)
        if (
            traceback
            and _seconds_apart(logged, str(entry.get("ts"))) <= 2
            and (traceback[-1].strip() in chosen or len(chosen) < most)
        ):
            chosen.setdefault(traceback[-1].strip(), (traceback, []))[1].append(answer)
    if answers:
        log(f"web tier: {len(answers)} error answers:\n  " + "\n  ".join(answers[:10]))
    for traceback, answered in chosen.values():
        head = f"answered {len(answered)}x, first {answered[0]}" if answered else "no error answer matched"
        text = "\n".join(traceback)
        if len(text) > 4000:  # its record's first line (which request) and its last frames (what failed)
            text = f"{text[:1000]}\n  [… {len(text) - 4000} characters …]\n{text[-3000:]}"
        log(f"web tier traceback ({head}):\n{text}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cards", type=int, default=4800, help="cards issued, so bookings asked for, at most"
    )
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary folder and its logs")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit(
            "the rehearsal runs as root (it runs PostgreSQL as the postgres user): sudo make ha-rehearsal"
        )
    busy = [p for p in (*PG_PORTS.values(), HAPROXY_PORT, WEB_PORT, *REDIS_PORTS.values()) if port_open(p)]
    if busy:
        sys.exit(f"ports in use: {busy}; is another rehearsal running?")
    root = Path(tempfile.mkdtemp(prefix="madoguchi-ha-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its nodes' folders
    topology = Topology(root)
    started = time.monotonic()

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 1
    try:
        from ha_scenarios import run_scenarios

        keys = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "RESERVATION_PASSWORD_KEY": secrets.token_urlsafe(32),
            "OPLOG_KEY": secrets.token_urlsafe(32),
        }
        env = app_env(topology, keys)
        (root / "mail").mkdir()
        log(f"everything under {root}")
        collect = subprocess.Popen(  # noqa: S603 - collectstatic while the cluster bootstraps
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        build_cluster(topology)
        topology.start_redis()
        fixtures = root / "fixtures.json"
        run_checked(
            [PYTHON, str(Path(__file__).parent / "ha_fixtures.py"), str(fixtures), str(args.cards)],
            {**env, "DEBUG": "true"},
            "the fixtures",
        )
        if collect.wait() != 0:
            raise RuntimeError("collectstatic failed")
        start_app(topology, env)
        log(f"set up in {time.monotonic() - started:.0f} s")
        status = run_scenarios(topology, json.loads(fixtures.read_text()), args, env)
    except Exception as error:  # noqa: BLE001 - any failure is reported and ends the run non-zero
        log(f"FAILED: {type(error).__name__}: {error}")
        for proc in topology.procs.values():
            # a server that exited on its own (not one a scenario killed) tells why in its log
            if (
                proc.process.poll() is not None
                and proc.name not in PG_PORTS
                and proc.process.returncode != -9
            ):
                log(
                    f"{proc.name} exited ({proc.process.returncode}); its log's tail:\n"
                    + proc.log.read_text(errors="replace")[-1500:]
                )
        status = 1
    finally:
        topology.stop_all()
        left = [
            p for p in (*PG_PORTS.values(), HAPROXY_PORT, WEB_PORT, *REDIS_PORTS.values()) if port_open(p)
        ]
        if left:
            log(f"still listening after the stop: {left}")
            status = 1
        if status:
            print_web_tracebacks(root / "logs" / "web.log")  # CI keeps only what is printed
        if args.keep_logs or status:
            log(f"logs kept in {root}/logs")
        else:
            shutil.rmtree(root, ignore_errors=True)
        log(f"whole run {time.monotonic() - started:.0f} s; exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
