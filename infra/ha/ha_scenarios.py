"""The rehearsal's scenarios (issue 11), run one after another under one continuous load:

1. leader-crash: kill -9 of the leader's Patroni, postmaster and backends (a node lost at once);
2. switchover: `patronictl switchover` to the synchronous standby (planned maintenance);
3. hung-leader: the leader's Patroni and PostgreSQL SIGSTOPped (a frozen machine), later SIGCONTed;
4. reinit-switch: `patronictl reinit` of a replica, then a switchover to the rebuilt node; archiving goes on
   (pgBackRest `check`, archive-get of the new timeline's WAL);
5. redis-master: kill -9 of the Redis master; Sentinel promotes the replica;
6. restore-drill: a point-in-time restore with pgBackRest to a marked second, into its own data folder and
   port, compared with the live bookings' commit times.

After each: the invariants (ha_checks.invariants) and the scenario's own figures. After all: the mails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from ha_checks import (
    ArchiverWatch,
    Figure,
    all_ok,
    counts,
    invariants,
    mails_by_recipient,
    primary_query,
    resident_errors,
    write_gap,
)
from ha_load import Load
from ha_topology import (
    PG_BIN,
    REDIS_PORTS,
    REPO,
    RESTORE_PORT,
    SCOPE,
    VENV_BIN,
    WEB_PORT,
    Topology,
    log,
    wait_until,
)

SCHEMA = "kyoto"
CRASH_GAP_LIMIT, SWITCH_GAP_LIMIT = 25.0, 5.0
# what `pgbackrest check` says (at detail level) of the segment it switched away from and saw archived
CHECK_ARCHIVED = re.compile(r"WAL segment ([0-9A-F]{24}) successfully archived")


class Run:
    def __init__(self, topology: Topology, load: Load, watch: ArchiverWatch) -> None:
        self.topology = topology
        self.load = load
        self.watch = watch
        self.results: list[tuple[str, list[Figure]]] = []

    def settle(self, seconds: float = 4) -> None:
        """Steady load before an event, so a gap is measured against a running stream of bookings."""
        time.sleep(seconds)

    def healthy(self, timeout: float = 120) -> None:
        wait_until(
            "the cluster healthy again (leader, sync standby, replica)", self.topology.healthy, timeout
        )

    def new_leader(self, old: str, timeout: float = 60) -> str:
        return str(
            wait_until(
                f"a leader other than {old}",
                lambda: (lead := self.topology.leader()) != old and lead,
                timeout,
            )
        )

    def report(self, name: str, since: float, figures: list[Figure]) -> None:
        until = time.time()
        errors, lost, first = resident_errors(self.load, since, until)
        tally = counts(self.load, since, until)
        figures = [
            *figures,
            Figure("resident requests answered with an error", str(errors), "0", errors == 0),
            *invariants(self.load),
            Figure(
                "archive failures (pg_stat_archiver, all nodes, so far)",
                str(self.watch.failures),
                "0",
                self.watch.failures == 0,
            ),
        ]
        self.results.append((name, figures))
        print(f"\n== {name} ({until - since:.0f} s) ==", flush=True)
        for f in figures:
            limit = f" (limit {f.limit})" if f.limit else ""
            print(f"  {'ok  ' if f.ok else 'FAIL'} {f.label}: {f.value}{limit}", flush=True)
        booked = tally.get("api-book:booked", 0) + tally.get("web-confirm:booked", 0)
        print(
            f"  load: {booked} bookings acknowledged, {tally.get('api-book:refused', 0)} refused (slot full),"
            f" {lost} answers lost and sent again; attempts {sum(tally.values())}",
            flush=True,
        )
        if first:
            print(f"  first error: {first}", flush=True)


# --- scenarios -------------------------------------------------------------------------------------------


def leader_crash(run: Run) -> None:
    topology = run.topology
    old = topology.leader() or "pg1"
    run.settle()
    since = time.time()
    log(f"kill -9 of the leader {old} (Patroni, postmaster, backends)")
    topology.signal_node(old, signal.SIGKILL)
    new = run.new_leader(old)
    wait_until(
        "a booking acknowledged after the failover",
        lambda: any(a.outcome == "booked" and a.started > since for a in run.load.attempts),
        40,
    )
    time.sleep(3)
    gap, back = write_gap(run.load, since, time.time())
    log(f"{new} leads; {old} restarted and rejoins (pg_rewind)")
    topology.start_patroni(old)
    run.healthy()
    run.report(
        "leader crash (kill -9)",
        since,
        [
            Figure("write gap", f"{gap:.1f} s", f"≤ {CRASH_GAP_LIMIT:.0f} s", gap <= CRASH_GAP_LIMIT),
            Figure(
                "writes back after",
                "never" if back is None else f"{back:.1f} s",
                f"≤ {CRASH_GAP_LIMIT:.0f} s",
                back is not None and back <= CRASH_GAP_LIMIT,
            ),
        ],
    )


def _sync_standby(topology: Topology) -> str:
    return next(m["name"] for m in topology.members() if m.get("role") == "sync_standby")


def switchover(run: Run) -> None:
    topology = run.topology
    old, candidate = topology.leader() or "", _sync_standby(topology)
    run.settle()
    since = time.time()
    log(f"patronictl switchover {old} -> {candidate}")
    topology.patronictl("switchover", SCOPE, "--leader", old, "--candidate", candidate, "--force")
    wait_until(f"{candidate} leading", lambda: topology.leader() == candidate, 60)
    run.settle(4)
    gap, _back = write_gap(run.load, since, time.time())
    run.healthy()
    run.report(
        "planned switchover",
        since,
        [
            Figure("write gap", f"{gap:.1f} s", f"≤ {SWITCH_GAP_LIMIT:.0f} s", gap <= SWITCH_GAP_LIMIT),
        ],
    )


def hung_leader(run: Run) -> None:
    topology = run.topology
    old = topology.leader() or ""
    run.settle()
    since = time.time()
    log(f"SIGSTOP of the leader {old} (Patroni and every PostgreSQL process)")
    topology.signal_node(old, signal.SIGSTOP)
    try:
        new = run.new_leader(old)
        wait_until(
            "a booking acknowledged after the failover",
            lambda: any(a.outcome == "booked" and a.started > since for a in run.load.attempts),
            40,
        )
        run.settle(3)
    finally:
        topology.signal_node(old, signal.SIGCONT)
    until = time.time()
    gap, back = write_gap(run.load, since, until)
    reads = [a for a in run.load.attempts if a.kind in ("read", "staff") and since <= a.started <= until]
    answered = [a for a in reads if a.outcome == "ok"]
    slowest = max((a.ended - a.started for a in answered), default=0.0)
    log(f"{new} leads; {old} continued, demotes itself and rejoins")
    run.healthy()
    run.report(
        "hung leader (SIGSTOP)",
        since,
        [
            Figure(
                "staff and read pages answered while the leader hung",
                f"{len(answered)} of {len(reads)}",
                "all",
                bool(reads) and len(answered) == len(reads),
            ),
            Figure("slowest of those answers", f"{slowest:.1f} s", "≤ 30 s", slowest <= 30),
            Figure(
                "writes back after",
                "never" if back is None else f"{back:.1f} s",
                "≤ 30 s",
                back is not None and back <= 30,
            ),
            Figure("write gap", f"{gap:.1f} s", "≤ 30 s", gap <= 30),
        ],
    )


def reinit_switch(run: Run) -> None:
    topology = run.topology
    leader = topology.leader() or ""
    rebuilt = next(m["name"] for m in topology.members() if m.get("role") == "replica")
    since = time.time()
    log(f"patronictl reinit {rebuilt} (a new copy from the leader {leader})")
    topology.patronictl("reinit", SCOPE, rebuilt, "--force", "--wait")
    run.healthy()
    # In synchronous mode only the synchronous standby may take over: two synchronous standbys for the
    # switch, so the rebuilt node qualifies, then one again.
    topology.patronictl("edit-config", SCOPE, "--force", "-s", "synchronous_node_count=2")
    wait_until(
        f"{rebuilt} synchronous",
        lambda: any(m["name"] == rebuilt and m.get("role") == "sync_standby" for m in topology.members()),
        60,
    )
    run.settle(2)
    switch_at = time.time()
    log(f"patronictl switchover {leader} -> {rebuilt}")
    topology.patronictl("switchover", SCOPE, "--leader", leader, "--candidate", rebuilt, "--force")
    wait_until(f"{rebuilt} leading", lambda: topology.leader() == rebuilt, 60)
    topology.patronictl("edit-config", SCOPE, "--force", "-s", "synchronous_node_count=1")
    run.settle(3)
    gap, _back = write_gap(run.load, switch_at, time.time())
    run.healthy()
    # Archiving goes on from the rebuilt node: `check` switches WAL and waits until the segment it closed is
    # in the archive; that segment is then fetched back. (It was the one before the current one, found by a
    # query after `check`: wrong when archive_timeout switched again in between, or when the current segment
    # is the new timeline's first, whose predecessor is the old timeline's. CI failed on both.)
    timeline = int(next(m["timeline"] for m in topology.members() if m["name"] == rebuilt))
    said = topology.pgbackrest(rebuilt, "check", "--log-level-console=detail")
    archived = CHECK_ARCHIVED.search(said)
    segment = archived.group(1) if archived else "(none named by check)"
    fetched = topology.node_dir(rebuilt) / "archive-get-check"  # a folder the postgres user may write
    if archived:
        topology.pgbackrest(rebuilt, "archive-get", segment, str(fetched), check=False)
    got = (
        archived is not None
        and segment.startswith(f"{timeline:08X}")
        and fetched.exists()
        and fetched.stat().st_size == 16 * 1024 * 1024
    )
    run.report(
        "rebuilt replica, then switched to",
        since,
        [
            Figure(
                "switchover to the rebuilt node: write gap",
                f"{gap:.1f} s",
                f"≤ {SWITCH_GAP_LIMIT:.0f} s",
                gap <= SWITCH_GAP_LIMIT,
            ),
            Figure(
                f"new timeline {timeline}: pgbackrest check, archive-get of {segment}",
                "ok" if got else "missing",
                "ok",
                got,
            ),
        ],
    )


def redis_master(run: Run) -> None:
    topology = run.topology
    master = topology.redis_master()
    name = next(n for n, port in REDIS_PORTS.items() if master and port == master[1])
    run.settle()
    since = time.time()
    log(f"kill -9 of the Redis master {name} ({master})")
    topology.kill(name)
    promoted = wait_until("Sentinel's new master", lambda: (m := topology.redis_master()) != master and m, 30)
    wait_until("the Redis endpoint (HAProxy) at the new master", topology.redis_proxy_is_master, 30)
    back = time.time() - since
    run.settle(12)
    tally = counts(run.load, since, time.time())
    booked = tally.get("api-book:booked", 0) + tally.get("web-confirm:booked", 0)
    run.report(
        "Redis master killed",
        since,
        [
            Figure("Sentinel promoted", f"{promoted[0]}:{promoted[1]}", "a replica", bool(promoted)),
            Figure("Redis reachable again through HAProxy after", f"{back:.1f} s", "≤ 30 s", back <= 30),
            Figure("bookings acknowledged meanwhile", str(booked), "> 0", booked > 0),
            Figure(
                "Celery worker and beat restarts so far (as Kubernetes would)",
                str(sum(topology.restarts.values())),
                "",
                True,
            ),
        ],
    )


def restore_drill(run: Run) -> None:
    """Mark a second, go on booking, stop, damage, restore to the mark elsewhere, compare."""
    topology = run.topology
    mark = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    since = time.time()
    while dt.datetime.now(dt.UTC) < mark + dt.timedelta(seconds=4):
        time.sleep(0.2)
    run.load.stop()
    check_mails(run)
    # The live bookings and when each committed (track_commit_timestamp), before the damage.
    live = primary_query(
        f"SELECT id, pg_xact_commit_timestamp(xmin) FROM {SCHEMA}.booking_booking"  # noqa: S608 - constant
    )
    before = {row[0] for row in live if row[1] is not None and row[1] <= mark}
    after = {row[0] for row in live if row[1] is None or row[1] > mark}
    log(f"mark {mark.isoformat()}: {len(before)} bookings committed by then, {len(after)} after; damaging")
    primary_query(f"TRUNCATE {SCHEMA}.booking_booking CASCADE")  # the operator's mistake
    topology.pgbackrest(topology.leader() or "pg1", "check")  # the damage's WAL is archived too
    data = topology.root / "restore" / "data"
    data.mkdir(parents=True, mode=0o700)
    topology.chown_postgres(topology.root / "restore")
    topology.write_pgbackrest_conf("restore", data, RESTORE_PORT, topology.root / "restore")
    started = time.monotonic()
    topology.pgbackrest(
        "restore",
        "restore",
        "--type=time",
        f"--target={mark.strftime('%Y-%m-%d %H:%M:%S+00')}",  # pgBackRest's format, UTC
        "--target-action=promote",
        "--target-timeline=latest",
        timeout=300,
    )
    socket_dir = topology.root / "restore"
    options = (
        f"-c port={RESTORE_PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir}"
        f" -c archive_mode=off -c synchronous_standby_names='' -c hba_file={data}/pg_hba.conf"
        f" -c ident_file={data}/pg_ident.conf -c cluster_name=restore-drill"
    )
    subprocess.run(  # noqa: S603
        [
            "setpriv",
            f"--reuid={topology.postgres_uid}",
            f"--regid={topology.postgres_gid}",
            "--init-groups",
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(topology.root / "restore" / "postgres.log"),  # a file the postgres user may write
            "-o",
            options,
            "-w",
            "-t",
            "300",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=320,
    )
    wait_until(
        "the restored copy promoted",
        lambda: primary_query("SELECT NOT pg_is_in_recovery()", port=RESTORE_PORT, attempts=1)[0][0],
        300,
    )
    query = f"SELECT id FROM {SCHEMA}.booking_booking"  # noqa: S608 - a constant
    restored = {row[0] for row in primary_query(query, port=RESTORE_PORT)}
    took = time.monotonic() - started
    topology.stop_restore()
    missing, extra = before - restored, restored - before
    run.results.append(
        (
            "restore drill",
            figures := [
                Figure(
                    "bookings committed by the mark, restored",
                    f"{len(before) - len(missing)} of {len(before)}",
                    "all",
                    not missing and bool(before),
                ),
                Figure(
                    "bookings committed after the mark, restored",
                    str(len(extra & after) + len(extra - after)),
                    "0",
                    not extra,
                ),
                Figure("restore took", f"{took:.0f} s", "", True),
                Figure(
                    "archive failures (pg_stat_archiver, all nodes, whole run)",
                    str(run.watch.failures),
                    "0",
                    run.watch.failures == 0,
                ),
            ],
        )
    )
    print(f"\n== restore drill (mark {mark.isoformat()}, {time.time() - since:.0f} s) ==", flush=True)
    for f in figures:
        print(
            f"  {'ok  ' if f.ok else 'FAIL'} {f.label}: {f.value}"
            + (f" (limit {f.limit})" if f.limit else "")
        )


def check_mails(run: Run) -> None:
    """Every booking made through the forms with a mail address: its confirmation written exactly once.
    The relay is kicked after each booking, and beat relays every minute what a lost kick left."""
    expected = dict(run.load.emails)
    folder = run.topology.root / "mail"

    def delivered() -> bool:
        found = mails_by_recipient(folder)
        return all(found.get(address, 0) >= 1 for address in expected.values())

    started = time.monotonic()
    with contextlib.suppress(TimeoutError):  # what is missing then is counted below
        wait_until("every confirmation mail", delivered, 150, interval=2)
    time.sleep(2)
    found = mails_by_recipient(folder)
    missing = sum(1 for address in expected.values() if found.get(address, 0) == 0)
    twice = sum(1 for n in found.values() if n > 1)
    figures = [
        Figure("web bookings with a mail address", str(len(expected)), "> 0", bool(expected)),
        Figure("confirmation mails missing", str(missing), "0", missing == 0),
        Figure("mails sent more than once", str(twice), "0", twice == 0),
        Figure("waited for the last mail", f"{time.monotonic() - started:.0f} s", "", True),
    ]
    run.results.append(("confirmation mails (whole run)", figures))
    print("\n== confirmation mails (whole run) ==", flush=True)
    for f in figures:
        print(
            f"  {'ok  ' if f.ok else 'FAIL'} {f.label}: {f.value}"
            + (f" (limit {f.limit})" if f.limit else "")
        )


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "leader-crash": leader_crash,
    "switchover": switchover,
    "hung-leader": hung_leader,
    "reinit-switch": reinit_switch,
    "redis-master": redis_master,
    "restore-drill": restore_drill,
}


def run_scenarios(
    topology: Topology, fixtures: dict[str, Any], args: argparse.Namespace, env: dict[str, str]
) -> int:
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(SCENARIOS)
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    # The base backup the restore drill starts from: before any scenario, so the drill also replays the WAL
    # of every timeline the failovers made.
    topology.pgbackrest(topology.leader() or "pg1", "--type=full", "backup", timeout=300)
    primary_query("SELECT pg_stat_reset_shared('archiver')")
    watch = ArchiverWatch()
    watch.start()
    load = Load(fixtures, topology.root / "attempts.jsonl")
    run = Run(topology, load, watch)
    load.start()
    try:
        for name in chosen:
            SCENARIOS[name](run)
            if load.ran_out:
                raise RuntimeError("the cards ran out: raise --cards")
        if "restore-drill" not in chosen:
            load.stop()
            check_mails(run)
    finally:
        load.stop()
        watch.sample()
        watch.stop()
    run.results.append(("external prober (BK-08)", probe(env)))
    failed = [(name, f) for name, figures in run.results for f in figures if not f.ok]
    print(f"\n{'ALL FIGURES HOLD' if not failed else 'FIGURES OFF:'}", flush=True)
    for name, f in failed:
        print(f"  {name}: {f.label} = {f.value} (limit {f.limit})")
    return 0 if all(all_ok(figures) for _name, figures in run.results) else 1


def probe(env: dict[str, str]) -> list[Figure]:
    """The external prober (`manage.py probe --once`, BK-08) against this web tier once, after the scenarios:
    every municipality's top page, availability and probe-card sign-in must pass on the cluster as it is
    left (a new primary, a rebuilt replica, a promoted Redis)."""
    completed = subprocess.run(  # noqa: S603 - our own command line
        [
            str(VENV_BIN / "python"),
            "manage.py",
            "probe",
            "--once",
            "--base-url",
            f"http://127.0.0.1:{WEB_PORT}",
            "--forwarded-proto",  # no TLS gateway in front: say what it would, as the load driver does
            "https",
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    output = (completed.stdout + completed.stderr).strip()
    print(
        f"\nprober (manage.py probe --once), exit {completed.returncode}:\n  "
        + "\n  ".join(output.splitlines()[-15:]),
        flush=True,
    )
    summary = re.search(r"probed (\d+) municipalities, (\d+) failed", output)
    probed, failed = (int(summary[1]), int(summary[2])) if summary else (0, -1)
    return [
        Figure("prober exit status", str(completed.returncode), "0", completed.returncode == 0),
        Figure("municipalities probed", str(probed), "> 0", probed > 0),
        Figure("municipalities failing the probe", str(failed), "0", failed == 0),
    ]
