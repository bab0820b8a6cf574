"""Operators stay up when citizens flood in (madoguchi.bulkhead), proved over real sockets.

A real gunicorn (gthread, one worker, 6 threads) runs on a free 127.0.0.1 port against the test database.
The citizen side is saturated the way a surge really piles up: one slot's row is locked by another
connection, so every booking for it waits in PostgreSQL, and more bookings come in than the citizen lane
holds. While they hang, a staff API request must still be answered at once, and further citizens must get a
quick "busy" rather than a hang. The same pile-up without the bulkhead shows what it prevents: every thread
waits in the database and the staff request waits with them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import RequestFactory
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.audit import oplog
from booking.citizen.api.serializers import iso
from booking.models import Booking, OperationLogEntry, Slot, StaffSecurity
from madoguchi.bulkhead import CitizenLane, Lane, lane_of
from tests import factories
from tests.conftest import KYOTO_HOST
from tests.processes import database_url

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]
Committed = Callable[[Callable[[], Any]], Any]

REPO = Path(__file__).resolve().parents[2]
THREADS = 6
CITIZEN_LIMIT = 3  # CITIZEN_MAX_CONCURRENT of the bulkhead run
CITIZEN_WAITING = THREADS - 1 - CITIZEN_LIMIT  # the default settings.py derives from GUNICORN_THREADS
QUEUE_SECONDS = 1.0  # CITIZEN_QUEUE_SECONDS, shorter than the default 2 s to keep the module quick
PILE_UP = 10  # citizen bookings for the locked slot: more than the lane and more than the threads
EXTRA_CITIZENS = 3
STAFF_USER, STAFF_PASSWORD = "op1", "Str0ng!Pass"
PROMPT_SECONDS = 2.0  # a staff answer this fast is "at once" (it includes the Argon2 password check)
STARVED_SECONDS = 4.0  # without the bulkhead, the staff request is still waiting after this long
MAX_LOCK_SECONDS = 40.0  # the row lock is released after this whatever happens
MEASURED: dict[str, float] = {}  # reported at the end of the module (pytest -s)


# --- unit level: lanes and the lane's places ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "lane"),
    [
        ("/staff/", Lane.STAFF),
        ("/staff", Lane.STAFF),
        ("/staff/caller/book/", Lane.STAFF),
        ("/api/v1/staff/bookings/", Lane.STAFF),
        ("/healthz", Lane.FREE),
        ("/static/madoguchi/site.css", Lane.FREE),
        ("/", Lane.CITIZEN),
        ("/api/v1/citizen/booking/", Lane.CITIZEN),
        ("/staffroom/", Lane.CITIZEN),
        ("/api/v1/availability/", Lane.CITIZEN),
    ],
)
def test_requests_are_put_in_lanes_by_path(path: str, lane: Lane) -> None:
    assert lane_of(RequestFactory().get(path)) is lane


def test_the_vendor_console_is_staff() -> None:
    request = RequestFactory().get("/")
    request.tenant = type("Public", (), {"schema_name": settings.PUBLIC_SCHEMA_NAME})()  # type: ignore[attr-defined]
    assert lane_of(request) is Lane.STAFF


def test_the_lane_caps_waiters_so_a_thread_stays_free() -> None:
    lane = CitizenLane(running=1, waiting=1, wait_seconds=5)
    assert lane.enter()  # the running place
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(lane.enter()))
    waiter.start()
    deadline = time.monotonic() + 5
    while lane._waiters == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert not lane.enter()  # the queue is full: refused at once, not after 5 s
    assert time.monotonic() - started < 0.5
    lane.leave()  # the waiter gets the place
    waiter.join(timeout=5)
    assert outcome == [True]
    lane.leave()
    with pytest.raises(ValueError):
        lane.leave()  # bounded: a release without an entry is a bug


# --- a real server ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def call(port: int, method: str, path: str, body: Any = None, token: str = "", timeout: float = 30) -> Answer:
    """One request on a connection of its own (Host kyoto.localhost), timed from send to last byte."""
    headers = {"Host": KYOTO_HOST}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        client.request(method, path, body=data, headers=headers)
        response = client.getresponse()
        payload = response.read()
        return Answer(response.status, payload, dict(response.getheaders()), time.monotonic() - started)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def gunicorn(tmp_path: Path, citizen_limit: int) -> Iterator[Server]:
    """gunicorn --worker-class gthread --threads 6 --workers 1 on 127.0.0.1, stopped whatever happens."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CITIZEN_", "GUNICORN"))}
    env.update(
        DATABASE_URL=database_url(),
        CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}",  # its own login counters in the real Redis
        MADOGUCHI_WEB_POOL="staff",  # the staff pool: citizen requests are served there too, limited
        GUNICORN_THREADS=str(THREADS),
        CITIZEN_MAX_CONCURRENT=str(citizen_limit),
        CITIZEN_QUEUE_SECONDS=str(QUEUE_SECONDS),
    )
    log = tmp_path / f"gunicorn-{citizen_limit}.log"
    for _attempt in range(3):  # the free port may be taken between probing and binding
        port = free_port()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(THREADS),
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "90",
                    "--graceful-timeout",
                    "3",
                    "--no-control-socket",
                    "madoguchi.wsgi:application",
                ],
                cwd=REPO,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        server = Server(port, log)
        try:
            if _wait_until_ready(process, port):
                yield server
                return
        finally:
            _stop(process)
    raise AssertionError(f"gunicorn did not start:\n{server.output()[-4000:]}")


def _wait_until_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            if call(port, "GET", "/healthz", timeout=5).status == 200:
                return True
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- committed data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    slot_id: int
    capacity: int
    booking_body: dict[str, Any]
    citizens: list[tuple[str, str]]  # reservation number, password
    oplog_before: int
    had_security: bool


def make_scene(committed: Committed, citizens: int) -> Scene:
    """A slot row, cards and the staff user, committed (the server's connections must see them)."""

    def build() -> Scene:
        free = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        oplog_before = OperationLogEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        had_security = StaffSecurity.objects.exists()
        slot = Slot.objects.create(
            place=place,
            service=service,
            starts_at=free.starts_at,
            ends_at=free.ends_at,
            capacity=free.capacity,
        )
        issued = [factories.issue_card() for _ in range(citizens)]
        accounts.do_create_staff(
            oplog.Actor(None, "test", "127.0.0.1"), STAFF_USER, "operator", STAFF_PASSWORD, must_change=False
        )
        return Scene(
            slot_id=slot.pk,
            capacity=slot.capacity,
            booking_body={"location": place.pk, "service": service.code, "start": iso(free.starts_at)},
            citizens=[(card.card.reservation_number, card.password) for card in issued],
            oplog_before=oplog_before,
            had_security=had_security,
        )

    return committed(build)


def remove_staff(committed: Committed, scene: Scene | None) -> None:
    """What committed_kyoto does not remove: the staff user, its tokens, and the log entries of this test.

    The log is append-only; its own purge switch lets these entries go, so the next test's chain starts
    where it would have without this module.
    """
    oplog_before = scene.oplog_before if scene else None

    def remove() -> None:
        with transaction.atomic():
            if oplog_before is not None:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL madoguchi.oplog_purge = 'on'")
                    cursor.execute("DELETE FROM booking_operationlogentry WHERE seq > %s", [oplog_before])
                    cursor.execute("SET LOCAL madoguchi.oplog_purge = 'off'")
            get_user_model().objects.filter(username=STAFF_USER).delete()
            if scene is not None and not scene.had_security:
                StaffSecurity.objects.all().delete()

    committed(remove)


def lock_waiters(committed: Committed) -> int:
    """Backends of the test database waiting for a lock right now (fresh statistics: a new connection)."""

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    return int(committed(count))


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


class SlotLock:
    """`SELECT … FOR UPDATE` of one slot inside an open transaction, on a connection of its own, in a thread.

    Every booking of that slot then waits in PostgreSQL (the capacity trigger updates the row) until release.
    """

    def __init__(self, slot_id: int) -> None:
        self.slot_id = slot_id
        self.locked = threading.Event()
        self.released = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._hold, name="slot-lock", daemon=True)

    def _hold(self) -> None:
        try:
            with schema_context("kyoto"), transaction.atomic():
                Slot.objects.select_for_update().get(pk=self.slot_id)
                self.locked.set()
                self.released.wait(timeout=MAX_LOCK_SECONDS)
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            self.error = error
        finally:
            self.locked.set()
            connections.close_all()

    def __enter__(self) -> SlotLock:
        self.thread.start()
        assert self.locked.wait(timeout=15) and self.error is None, self.error
        return self

    def release(self) -> None:
        self.released.set()
        self.thread.join(timeout=15)

    def __exit__(self, *exc: object) -> None:
        self.release()


def citizen_tokens(port: int, citizens: list[tuple[str, str]]) -> list[str]:
    tokens = []
    for number, password in citizens:
        answer = call(
            port, "POST", "/api/v1/citizen/sessions/", {"reservation_number": number, "password": password}
        )
        assert answer.status == 201, answer.body[:300]
        tokens.append(str(answer.json()["token"]))
    return tokens


def staff_round_trip(port: int, timeout: float = 30) -> tuple[Answer, Answer]:
    """What an operator's screen does first: sign in, then list the bookings."""
    session = call(
        port,
        "POST",
        "/api/v1/staff/sessions/",
        {"username": STAFF_USER, "password": STAFF_PASSWORD},
        timeout=timeout,
    )
    assert session.status == 201, session.body[:300]
    listing = call(
        port, "GET", "/api/v1/staff/bookings/", token=str(session.json()["token"]), timeout=timeout
    )
    return session, listing


def book_all(
    pool: ThreadPoolExecutor, port: int, tokens: list[str], body: dict[str, Any]
) -> list[Future[Answer]]:
    return [pool.submit(call, port, "POST", "/api/v1/citizen/booking/", body, token) for token in tokens]


def results(futures: list[Future[Answer]], seconds: float) -> list[Answer]:
    deadline = time.monotonic() + seconds
    return [future.result(timeout=max(0.1, deadline - time.monotonic())) for future in futures]


def slot_state(committed: Committed, slot_id: int) -> tuple[int, int, int]:
    def read() -> tuple[int, int, int]:
        slot = Slot.objects.get(pk=slot_id)
        confirmed = Booking.objects.filter(slot=slot, status=Booking.Status.CONFIRMED).count()
        return slot.taken, slot.capacity, confirmed

    taken, capacity, confirmed = committed(read)
    return int(taken), int(capacity), int(confirmed)


# --- the surge ----------------------------------------------------------------------------------------------


def test_staff_are_answered_at_once_while_citizen_bookings_pile_up(
    committed_kyoto: Committed, tmp_path: Path
) -> None:
    scene: Scene | None = None
    try:
        scene = make_scene(committed_kyoto, PILE_UP + EXTRA_CITIZENS)
        with gunicorn(tmp_path, CITIZEN_LIMIT) as server, ThreadPoolExecutor(max_workers=PILE_UP + 4) as pool:
            tokens = citizen_tokens(server.port, scene.citizens)
            pile_tokens, extra_tokens = tokens[:PILE_UP], tokens[PILE_UP:]
            with SlotLock(scene.slot_id) as lock:
                piled = book_all(pool, server.port, pile_tokens, scene.booking_body)
                # Exactly CITIZEN_LIMIT bookings get into the database, where they wait for the lock.
                wait_for(
                    lambda: lock_waiters(committed_kyoto) >= CITIZEN_LIMIT, 15, "bookings waiting in the DB"
                )

                # (a) While they hang, an operator signs in and lists the bookings, at once.
                session, listing = staff_round_trip(server.port)
                assert listing.status == 200, listing.body[:300]
                assert "results" in listing.json()
                MEASURED["staff sign-in during the surge (bulkhead)"] = session.seconds
                MEASURED["staff bookings list during the surge (bulkhead)"] = listing.seconds
                assert session.seconds < PROMPT_SECONDS and listing.seconds < PROMPT_SECONDS

                # (b) More citizens get a quick, clear "busy" instead of hanging: API and page.
                extra = [
                    pool.submit(call, server.port, "POST", "/api/v1/citizen/booking/", scene.booking_body, t)
                    for t in extra_tokens
                ]
                page = call(server.port, "GET", "/")
                for answer in results(extra, 15):
                    assert answer.status == 503 and answer.json()["code"] == "busy", answer.body[:300]
                    assert "混み合っています" in answer.json()["message"]
                    assert answer.headers.get("Retry-After", "").isdigit()
                    assert answer.seconds < QUEUE_SECONDS + 1.5
                MEASURED["slowest extra citizen 503"] = max(a.seconds for a in results(extra, 1))
                assert page.status == 503 and page.seconds < QUEUE_SECONDS + 1.5
                assert page.headers.get("Content-Type", "").startswith("text/html")
                assert page.headers.get("Retry-After", "").isdigit()
                text = page.body.decode()
                assert text.index("ただいま大変混み合っています") < text.index("Please try again")
                assert "Content-Security-Policy" in page.headers

                # The pile-up's own over-limit bookings are refused within the short queue; the admitted ones
                # still hang, and they are the only ones that reached the database.
                refused = PILE_UP - CITIZEN_LIMIT
                wait_for(lambda: sum(f.done() for f in piled) >= refused, QUEUE_SECONDS + 5, "refusals")
                MEASURED["slowest refusal in the pile-up"] = max(
                    f.result().seconds for f in piled if f.done()
                )
                assert sum(f.done() for f in piled) == refused
                assert lock_waiters(committed_kyoto) == CITIZEN_LIMIT
                lock.release()

            answers = results(piled, 30)
        statuses = Counter(answer.status for answer in answers)
        assert set(statuses) <= {201, 409, 503}, [
            a.body[:200] for a in answers if a.status not in (201, 409, 503)
        ]
        assert statuses[503] == PILE_UP - CITIZEN_LIMIT  # refused at once, or after the short queue
        assert statuses[201] + statuses[409] == CITIZEN_LIMIT
        assert all(a.json()["code"] == "busy" for a in answers if a.status == 503)
        taken, capacity, confirmed = slot_state(committed_kyoto, scene.slot_id)
        assert taken == confirmed == statuses[201] <= capacity
        assert "madoguchi.bulkhead" in server.output() and "citizen lane full" in server.output()
        assert "Traceback" not in server.output(), server.output()[-4000:]
    finally:
        remove_staff(committed_kyoto, scene)


def test_without_the_bulkhead_the_staff_request_waits_with_the_citizens(
    committed_kyoto: Committed, tmp_path: Path
) -> None:
    scene: Scene | None = None
    try:
        scene = make_scene(committed_kyoto, PILE_UP)
        with gunicorn(tmp_path, 100) as server, ThreadPoolExecutor(max_workers=PILE_UP + 2) as pool:
            tokens = citizen_tokens(server.port, scene.citizens)
            with SlotLock(scene.slot_id) as lock:
                piled = book_all(pool, server.port, tokens, scene.booking_body)
                # Every one of the server's threads now waits in the database.
                wait_for(
                    lambda: lock_waiters(committed_kyoto) >= THREADS, 15, "all threads waiting in the DB"
                )

                started = time.monotonic()
                staff = pool.submit(staff_round_trip, server.port, 60)
                with pytest.raises(FutureTimeout):
                    staff.result(timeout=STARVED_SECONDS)  # starved: no thread is free for it
                lock.release()
                session, listing = staff.result(timeout=30)
                MEASURED["staff sign-in + list, no bulkhead (lock held 4 s)"] = time.monotonic() - started
            assert listing.status == 200
            assert session.seconds >= STARVED_SECONDS  # it was answered only once the citizens' lock went
            answers = results(piled, 30)
        statuses = Counter(answer.status for answer in answers)
        assert set(statuses) <= {201, 409}  # no refusals without a limit, and no errors either
        taken, capacity, confirmed = slot_state(committed_kyoto, scene.slot_id)
        assert statuses[201] == min(PILE_UP, capacity) and taken == confirmed == statuses[201] <= capacity
    finally:
        remove_staff(committed_kyoto, scene)


@pytest.fixture(scope="module", autouse=True)
def _report_times() -> Iterator[None]:
    yield
    for what, seconds in MEASURED.items():
        print(f"surge isolation: {what}: {seconds:.3f} s")  # shown with pytest -s
