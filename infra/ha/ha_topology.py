"""The production topology on loopback (issue 11): etcd, three PostgreSQL 15 nodes under Patroni, HAProxy,
pgBackRest, Redis with a replica and three Sentinels, the project under gunicorn, a Celery worker and beat.

Every server listens on 127.0.0.1 in 15000-15999 and keeps its data under one temporary folder;
`Topology.stop_all` ends every process this module started (the rehearsal calls it from `finally`, which
its signal handlers reach too).
PostgreSQL refuses to run as root, so Patroni (and the PostgreSQL it starts) and pgBackRest run as `postgres`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SCOPE = "madoguchi"  # Patroni's cluster name, also the pgBackRest stanza
DATABASE = "madoguchi"
SENTINEL_MASTER = "madoguchi"
HOST = "kyoto.localhost"

ETCD_PORT, ETCD_PEER_PORT = 15379, 15380
PG_PORTS = {"pg1": 15432, "pg2": 15433, "pg3": 15434}
REST_PORTS = {"pg1": 15008, "pg2": 15009, "pg3": 15010}
HAPROXY_PORT = 15500
RESTORE_PORT = 15440
REDIS_PORTS = {"redis1": 15601, "redis2": 15602}
SENTINEL_PORTS = (15611, 15612, 15613)
REDIS_PROXY_PORT = 15650  # HAProxy in front of Redis, as the chart's redis-proxy
WEB_PORT = 15800

# Failure detection: the leader key lives 10 s (a dead leader is replaced within ttl + loop_wait); Patroni
# requires ttl >= loop_wait + 2 * retry_timeout.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 4


def log(message: str) -> None:
    print(f"[ha] {message}", flush=True)


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.3) -> Any:
    """Call `check` until it returns something true; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - a check that cannot answer yet is asked again
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" ({last_error!r})" if last_error else ""))


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rest(node: str, path: str = "/patroni", timeout: float = 1.0) -> tuple[int, dict[str, Any]]:
    """Patroni's REST API of `node`: status and JSON body (a 503 answers a body too)."""
    request = urllib.request.Request(f"http://127.0.0.1:{REST_PORTS[node]}{path}")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass
class Topology:
    root: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    postgres_uid: int = field(default_factory=lambda: pwd.getpwnam("postgres").pw_uid)
    postgres_gid: int = field(default_factory=lambda: pwd.getpwnam("postgres").pw_gid)
    stopping: threading.Event = field(default_factory=threading.Event)
    restarts: dict[str, int] = field(default_factory=dict)

    # --- processes -------------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        as_postgres: bool = False,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Proc:
        log_path = self.root / "logs" / f"{name}.log"
        if as_postgres:  # setpriv execs: the pid we keep is the server's own, so kill -9 reaches it
            argv = [
                "setpriv",
                f"--reuid={self.postgres_uid}",
                f"--regid={self.postgres_gid}",
                "--init-groups",
                *argv,
            ]
        with log_path.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our own command lines
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd or self.root,
                start_new_session=True,
            )
        self.procs[name] = Proc(name, process, log_path, argv, dict(env or {}), cwd)
        return self.procs[name]

    def supervise(self, names: tuple[str, ...]) -> None:
        """Start again any of `names` that exited, as Kubernetes restarts a crashed pod; counted in
        `restarts`. Runs in a daemon thread until `stop_all`."""

        def watch() -> None:
            while not self.stopping.wait(1):
                for name in names:
                    proc = self.procs.get(name)
                    if proc and proc.process.poll() is not None and not self.stopping.is_set():
                        log(f"{name} exited ({proc.process.returncode}); started again")
                        self.restarts[name] = self.restarts.get(name, 0) + 1
                        self.start(name, proc.argv, env=proc.env, cwd=proc.cwd)

        threading.Thread(target=watch, daemon=True).start()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(name)
        if proc and proc.process.poll() is None:
            os.kill(proc.process.pid, sig)

    def stop_all(self) -> None:
        """SIGTERM to every process group we started (web last-in first-out), SIGKILL what lingers."""
        self.stopping.set()
        for proc in reversed(list(self.procs.values())):
            if proc.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGCONT)  # a SIGSTOPped node must be able to stop
                    os.killpg(proc.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.process.pid, signal.SIGKILL)
                proc.process.wait()
        for node in PG_PORTS:  # a postmaster whose Patroni died by SIGKILL is no child of ours any more
            self.kill_postgres(node, signal.SIGKILL)
        self.stop_restore()

    # --- files -----------------------------------------------------------------------------------------

    def node_dir(self, node: str) -> Path:
        return self.root / node

    def data_dir(self, node: str) -> Path:
        return self.node_dir(node) / "data"

    def pgbackrest_conf(self, node: str) -> Path:
        return self.root / "pgbackrest" / f"{node}.conf"

    def chown_postgres(self, path: Path) -> None:
        os.chown(path, self.postgres_uid, self.postgres_gid)
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.postgres_uid, self.postgres_gid)

    def write_configs(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        backrest = self.root / "pgbackrest"
        for sub in ("repo", "log", "spool"):
            (backrest / sub).mkdir(parents=True, exist_ok=True)
        for node, port in PG_PORTS.items():
            self.node_dir(node).mkdir(mode=0o700, exist_ok=True)
            self.write_pgbackrest_conf(node, self.data_dir(node), port, self.node_dir(node))
            (self.node_dir(node) / "patroni.yml").write_text(json.dumps(self.patroni_config(node), indent=2))
        self.chown_postgres(backrest)
        for node in PG_PORTS:
            self.chown_postgres(self.node_dir(node))
        (self.root / "haproxy.cfg").write_text(self.haproxy_config())

    def write_pgbackrest_conf(self, name: str, data: Path, port: int, socket_dir: Path) -> Path:
        backrest = self.root / "pgbackrest"
        conf = backrest / f"{name}.conf"
        conf.write_text(
            "[global]\n"
            f"repo1-path={backrest / 'repo'}\n"
            "repo1-retention-full=2\n"
            f"log-path={backrest / 'log'}\n"
            f"lock-path={backrest / ('lock-' + name)}\n"
            f"spool-path={backrest / 'spool'}\n"
            "log-level-console=warn\nlog-level-file=info\nstart-fast=y\ncompress-type=lz4\n"
            f"[{SCOPE}]\n"
            f"pg1-path={data}\npg1-port={port}\npg1-socket-path={socket_dir}\npg1-user=postgres\n"
        )
        os.chown(conf, self.postgres_uid, self.postgres_gid)
        return conf

    def patroni_config(self, node: str) -> dict[str, Any]:
        """Patroni's YAML (JSON is YAML): synchronous_mode_strict, so a commit is acknowledged only once a
        standby has it, and only that standby may be promoted; archiving through pgBackRest on every node,
        so whichever node is primary archives its timeline."""
        archive = f"pgbackrest --config={self.pgbackrest_conf(node)} --stanza={SCOPE} archive-push %p"
        restore = f"pgbackrest --config={self.pgbackrest_conf(node)} --stanza={SCOPE} archive-get %f %p"
        return {
            "scope": SCOPE,
            "name": node,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{REST_PORTS[node]}",
                "connect_address": f"127.0.0.1:{REST_PORTS[node]}",
            },
            # etcd's v2 API, whose leader-key update is a compare-and-swap on the holder's name. Debian's
            # Patroni 3.0.2 with `etcd3` writes the key unconditionally once its lease has expired: a leader
            # that was SIGSTOPped took the key back from its successor on waking, and the successor's
            # acknowledged commits were rewound away (seen by this rehearsal's hung-leader scenario).
            "etcd": {"hosts": [f"127.0.0.1:{ETCD_PORT}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 16 * 1024 * 1024,
                    "synchronous_mode": True,
                    "synchronous_mode_strict": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_connections": 120,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "archive_mode": "on",
                            "archive_timeout": "30s",
                            # the restore drill compares each booking's commit time with the mark
                            "track_commit_timestamp": "on",
                            "shared_buffers": "64MB",
                            "wal_keep_size": "256MB",
                            # a standby whose primary went away tries the new one after 0.5 s, not 5 s: with
                            # synchronous_mode_strict no commit returns until a standby streams again
                            "wal_retrieve_retry_interval": "500ms",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{PG_PORTS[node]}",
                "connect_address": f"127.0.0.1:{PG_PORTS[node]}",
                "data_dir": str(self.data_dir(node)),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.node_dir(node) / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "rehearsal"},
                    "replication": {"username": "replicator", "password": "rehearsal"},
                    "rewind": {"username": "postgres", "password": "rehearsal"},
                },
                # node-local, so each node archives with its own pgBackRest configuration (pg1-path)
                "parameters": {
                    "unix_socket_directories": str(self.node_dir(node)),
                    "archive_command": archive,
                    "logging_collector": "off",
                    # who connected and for how long: the evidence when a session ends early in a failover
                    "log_connections": "on",
                    "log_disconnections": "on",
                },
                "recovery_conf": {"restore_command": restore},
                "create_replica_methods": ["basebackup"],
                "basebackup": [{"checkpoint": "fast"}],
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }

    def haproxy_config(self) -> str:
        servers = "\n".join(
            f"    server {node} 127.0.0.1:{port} check port {REST_PORTS[node]}"
            for node, port in PG_PORTS.items()
        )
        redis = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in REDIS_PORTS.items())
        return f"""global
    maxconn 1000
    log stderr format iso local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 2s
listen primary
    bind 127.0.0.1:{HAPROXY_PORT}
    # only the node whose Patroni says it is the primary (200 on /primary) gets connections; when a node
    # stops being it, its sessions are cut at once so no client keeps writing to a demoted or hung node
    option httpchk GET /primary
    http-check expect status 200
    # two good checks before a node gets connections: a node that has just been promoted answers a check
    # or two slowly, and a flap (up, down, up) would cut the sessions it had just been given
    default-server inter 1s fastinter 300ms downinter 300ms fall 3 rise 2 on-marked-down shutdown-sessions
{servers}
listen redis
    bind 127.0.0.1:{REDIS_PROXY_PORT}
    # as the chart's redis-proxy (helm/madoguchi/templates/redis-proxy.yaml): only the node that says it is
    # the master gets connections; Sentinel decides which one that is
    option tcp-check
    tcp-check connect
    tcp-check send "PING\\r\\n"
    tcp-check expect string +PONG
    tcp-check send "INFO replication\\r\\n"
    tcp-check expect string role:master
    tcp-check send "QUIT\\r\\n"
    tcp-check expect string +OK
    balance first
    default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
{redis}
"""

    # --- etcd, Patroni, HAProxy --------------------------------------------------------------------------

    def start_etcd(self) -> None:
        data = self.root / "etcd"
        self.start("etcd", [
            "etcd", "--name", "ha", "--data-dir", str(data),
            "--listen-client-urls", f"http://127.0.0.1:{ETCD_PORT}",
            "--advertise-client-urls", f"http://127.0.0.1:{ETCD_PORT}",
            "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER_PORT}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER_PORT}",
            "--initial-cluster", f"ha=http://127.0.0.1:{ETCD_PEER_PORT}",
            "--initial-cluster-state", "new",
            "--enable-v2=true",
        ])  # fmt: skip
        wait_until("etcd", lambda: port_open(ETCD_PORT), 20)

    def start_patroni(self, node: str) -> None:
        patroni = shutil.which("patroni") or "/usr/bin/patroni"
        self.start(
            node,
            [patroni, str(self.node_dir(node) / "patroni.yml")],
            as_postgres=True,
            cwd=self.node_dir(node),
        )

    def start_haproxy(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.start("haproxy", [haproxy, "-db", "-f", str(self.root / "haproxy.cfg")])
        wait_until("haproxy", lambda: port_open(HAPROXY_PORT), 10)

    def patronictl(self, *args: str, check: bool = True) -> str:
        completed = subprocess.run(  # noqa: S603
            ["patronictl", "-c", str(self.node_dir("pg1") / "patroni.yml"), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"patronictl {' '.join(args)}: {completed.stdout}{completed.stderr}")
        return completed.stdout + completed.stderr

    def members(self) -> list[dict[str, Any]]:
        for node in PG_PORTS:
            try:
                _status, body = rest(node, "/cluster")
                return list(body.get("members", []))
            except OSError:
                continue
        return []

    def leader(self) -> str | None:
        return next(
            (m["name"] for m in self.members() if m.get("role") == "leader" and m.get("state") == "running"),
            None,
        )

    def healthy(self) -> bool:
        """A running leader, a synchronous standby and a second streaming replica, all on one timeline."""
        members = self.members()
        roles = sorted(m.get("role", "") for m in members if m.get("state") in ("running", "streaming"))
        timelines = {m.get("timeline") for m in members}
        lags = [m.get("lag", 0) for m in members if m.get("role") != "leader"]
        return (
            roles == ["leader", "replica", "sync_standby"]
            and len(timelines) == 1
            and all(isinstance(lag, int) and lag < 1024 * 1024 for lag in lags)
        )

    def postmaster_pid(self, node: str) -> int | None:
        try:
            return int((self.data_dir(node) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def node_pids(self, node: str) -> list[int]:
        """Patroni's pid, the postmaster's and its children's: the whole node."""
        pids = [self.procs[node].process.pid] if node in self.procs else []
        master = self.postmaster_pid(node)
        if master and Path(f"/proc/{master}").exists():
            pids.append(master)
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        stat = (entry / "stat").read_text()
                    except OSError:
                        continue
                    if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(entry.name))
        return pids

    def signal_node(self, node: str, sig: int) -> None:
        for pid in self.node_pids(node):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill_postgres(self, node: str, sig: int) -> None:
        master = self.postmaster_pid(node)
        if master and Path(f"/proc/{master}").exists():
            for pid in self.node_pids(node)[1:]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)

    # --- pgBackRest ------------------------------------------------------------------------------------

    def pgbackrest(self, node: str, *args: str, check: bool = True, timeout: float = 180) -> str:
        completed = subprocess.run(  # noqa: S603
            [
                "setpriv",
                f"--reuid={self.postgres_uid}",
                f"--regid={self.postgres_gid}",
                "--init-groups",
                "pgbackrest",
                f"--config={self.pgbackrest_conf(node)}",
                f"--stanza={SCOPE}",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd=self.root,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"pgbackrest {' '.join(args)}: {completed.stdout}{completed.stderr}")
        return completed.stdout + completed.stderr

    def stop_restore(self) -> None:
        data = self.root / "restore" / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [
                    "setpriv",
                    f"--reuid={self.postgres_uid}",
                    f"--regid={self.postgres_gid}",
                    "--init-groups",
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
                timeout=60,
            )

    # --- Redis and Sentinel ----------------------------------------------------------------------------

    def start_redis(self) -> None:
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        for name, port in REDIS_PORTS.items():
            folder = self.root / name
            folder.mkdir(exist_ok=True)
            argv = [
                redis,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ]
            if name != "redis1":
                argv += ["--replicaof", "127.0.0.1", str(REDIS_PORTS["redis1"])]
            self.start(name, argv)
            wait_until(name, lambda port=port: port_open(port), 10)
        sentinel = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
        for number, port in enumerate(SENTINEL_PORTS, 1):
            conf = self.root / f"sentinel{number}.conf"
            conf.write_text(
                f"bind 127.0.0.1\nport {port}\ndir {self.root}\nprotected-mode no\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {REDIS_PORTS['redis1']} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
            )
            self.start(f"sentinel{number}", [sentinel, str(conf)])
            wait_until(f"sentinel{number}", lambda port=port: port_open(port), 10)

    def redis_master(self) -> tuple[str, int] | None:
        """Where the Sentinels say the master is (the first that answers)."""
        for port in SENTINEL_PORTS:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(f"SENTINEL get-master-addr-by-name {SENTINEL_MASTER}\r\n".encode())
                    reply = sock.recv(4096).decode()
            except OSError:
                continue
            parts = [line for line in reply.split("\r\n") if line and line[0] not in "*$"]
            if len(parts) == 2:
                return parts[0], int(parts[1])
        return None

    def redis_proxy_is_master(self) -> bool:
        """Whether HAProxy's Redis endpoint reaches a master (what the project connects to)."""
        with socket.create_connection(("127.0.0.1", REDIS_PROXY_PORT), timeout=1) as sock:
            sock.sendall(b"INFO replication\r\n")
            return b"role:master" in sock.recv(4096)
