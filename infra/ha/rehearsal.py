"""The HA rehearsal (issue 11): `make ha-rehearsal`, or `python infra/ha/rehearsal.py [--keep-logs]`.

Builds the production topology on loopback from Debian's packages (infra/ha/ha_topology.py), puts the
project on it (gunicorn with infra/docker/gunicorn_conf.py, a Celery worker and beat, mails to files), then
runs each scenario under load through the real HTTP stack (infra/ha/ha_scenarios.py, ha_load.py) and prints
its figures. Exits 1 when any figure is off, 0 when all hold; everything it started is stopped at the end,
on failure and on Ctrl-C too. docs/availability.md explains the figures and has those of a run.
"""

from __future__ import annotations

import argparse
import json
import os
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


def print_web_tracebacks(web_log: Path, most: int = 3) -> None:
    """The web tier's first tracebacks (an error answer's cause), each with its chained causes."""
    if not web_log.exists():
        return
    lines = web_log.read_text(errors="replace").splitlines()
    shown = 0
    for number, line in enumerate(lines):
        if line.startswith("Traceback") and shown < most:
            # the traceback (its chained causes too) runs until the next log record: a JSON access line,
            # (gunicorn's access line, when GUNICORN_ACCESS_LOG is set) or a dated log line
            end = next(
                (i for i in range(number + 1, len(lines)) if lines[i].startswith(("{", "127.0.0.1", "20"))),
                len(lines),
            )
            context = [ln for ln in lines[max(0, number - 3) : number] if "WARNING" in ln or "ERROR" in ln]
            log("web tier traceback:\n" + "\n".join([*context, *lines[number:end]])[-4000:])
            shown += 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cards", type=int, default=2400, help="cards issued, so bookings asked for, at most"
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
