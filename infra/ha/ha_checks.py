"""What the rehearsal measures (issue 11): the invariants in SQL, the figures from the load's record, the
archiver's failures on every node, and the mails the project wrote.

Every figure is a `Figure` with its limit; a scenario passes when all its figures do.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from ha_load import Attempt, Load
from ha_topology import DATABASE, HAPROXY_PORT, PG_PORTS

T = TypeVar("T")
SCHEMA = "kyoto"
RESIDENT_KINDS = ("api-login", "api-book", "web-login", "web-hold", "web-details", "web-confirm", "read")


@dataclass
class Figure:
    label: str
    value: str
    limit: str
    ok: bool


def primary_query(
    sql: str,
    params: tuple[Any, ...] = (),
    database: str = DATABASE,
    port: int = HAPROXY_PORT,
    attempts: int = 60,
) -> list[tuple[Any, ...]]:
    """Rows from the primary through HAProxy, asked again while a failover is in progress."""
    for number in range(attempts):
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=port,
                user="postgres",
                dbname=database,
                connect_timeout=3,
                target_session_attrs="read-write",
            ) as conn:
                cursor = conn.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        except psycopg.OperationalError:
            if number == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def invariants(load: Load, port: int = HAPROXY_PORT) -> list[Figure]:
    """Acknowledged bookings all there, no slot over its capacity, no card with two bookings."""
    with_lock = dict(load.acknowledged)
    rows = primary_query(
        f"SELECT c.reservation_number, b.id, b.status FROM {SCHEMA}.booking_booking b"  # noqa: S608 - constant
        f" JOIN {SCHEMA}.booking_card c ON c.id = b.card_id",
        port=port,
    )
    by_card: dict[str, list[tuple[int, str]]] = {}
    for number, booking_id, status in rows:
        by_card.setdefault(number, []).append((booking_id, status))
    lost = 0
    for card, booking_id in with_lock.items():
        confirmed = [b for b, status in by_card.get(card, []) if status == "confirmed"]
        if not confirmed or (booking_id is not None and booking_id not in confirmed):
            lost += 1
    duplicates = sum(1 for bookings in by_card.values() if len(bookings) > 1)
    over = primary_query(
        f"SELECT s.id FROM {SCHEMA}.booking_slot s WHERE s.taken > s.capacity OR"  # noqa: S608 - constant
        f" (SELECT count(*) FROM {SCHEMA}.booking_booking b"
        " WHERE b.slot_id = s.id AND b.status = 'confirmed') > s.capacity",
        port=port,
    )
    return [
        Figure("acknowledged bookings lost", f"{lost} of {len(with_lock)}", "0", lost == 0),
        Figure("overbooked slots", str(len(over)), "0", not over),
        Figure("duplicate bookings", str(duplicates), "0", duplicates == 0),
    ]


def window(load: Load, since: float, until: float) -> list[Attempt]:
    with load._lock:  # noqa: SLF001 - the load's own lock guards its record
        return [a for a in load.attempts if since <= a.started <= until or since <= a.ended <= until]


def write_gap(load: Load, since: float, until: float) -> tuple[float, float | None]:
    """The longest time without an acknowledged booking in [since, until], and when writes came back
    (the first acknowledgement after that gap, in seconds after `since`)."""
    acks = sorted(a.ended for a in window(load, since - 5, until) if a.outcome == "booked")
    acks = [t for t in acks if t >= since - 5]
    if not acks:
        return until - since, None
    gaps = [
        (later - earlier, later) for earlier, later in zip(acks, acks[1:], strict=False) if later >= since
    ]
    if acks[-1] < until - 5:
        gaps.append((until - acks[-1], until))
    if not gaps:
        return 0.0, 0.0
    gap, back = max(gaps)
    return gap, back - since


def resident_errors(load: Load, since: float, until: float) -> tuple[int, int, str]:
    """Resident requests answered with an error (5xx, a false refusal, no answer after the retries), the
    answers lost and sent again, and the first error's detail."""
    attempts = window(load, since, until)
    errors = [a for a in attempts if a.kind in RESIDENT_KINDS and a.outcome == "error"]
    lost = sum(1 for a in attempts if a.outcome == "lost")
    first = (
        f"{errors[0].kind} {errors[0].status} {' '.join(errors[0].detail.split())[:160]}" if errors else ""
    )
    return len(errors), lost, first


def counts(load: Load, since: float, until: float) -> Counter[str]:
    return Counter(f"{a.kind}:{a.outcome}" for a in window(load, since, until))


class ArchiverWatch:
    """pg_stat_archiver's failed_count on every node, every 2 s; a node's count restarts with it, so the
    highest count seen per node start is summed."""

    def __init__(self) -> None:
        self.highest: dict[tuple[str, str], int] = {}
        self.last_failed: str = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def sample(self) -> None:
        for node, port in PG_PORTS.items():
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    dbname="postgres",
                    connect_timeout=1,
                    options="-c statement_timeout=1000",
                ) as conn:
                    row = conn.execute(
                        "SELECT pg_postmaster_start_time()::text, failed_count, coalesce(last_failed_wal, '')"
                        " FROM pg_stat_archiver"
                    ).fetchone()
            except psycopg.Error:
                continue
            if row:
                key = (node, str(row[0]))
                self.highest[key] = max(self.highest.get(key, 0), int(row[1]))
                if row[1]:
                    self.last_failed = f"{node}: {row[2]}"

    @property
    def failures(self) -> int:
        return sum(self.highest.values())

    def _run(self) -> None:
        while not self._stop.wait(2):
            self.sample()


def mails_by_recipient(folder: Path) -> Counter[str]:
    """Messages the project wrote through Django's file-based backend, counted per recipient."""
    found: Counter[str] = Counter()
    for path in folder.glob("*.log"):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                message = email.message_from_bytes(chunk.strip(), policy=email.policy.default)
                for recipient in str(message.get("To", "")).split(","):
                    if recipient.strip():
                        found[recipient.strip()] += 1
    return found


def retry(what: Callable[[], T], attempts: int = 5) -> T:
    for number in range(attempts):
        try:
            return what()
        except Exception:
            if number == attempts - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def all_ok(figures: Iterable[Figure]) -> bool:
    return all(f.ok for f in figures)
