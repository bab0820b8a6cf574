"""Availability served from a cache that a committed write cannot leave behind (issue 12).

Every tenant has two generation numbers in Redis: `config` (opening patterns, closed days, booking settings,
places, services) and `room` (slots, holds, bookings). A cached answer is stored under the generations read
*before* it was computed, so any write committed after that makes it unreachable:

- Invalidation cannot be forgotten: `watch_writes`, installed on every database connection when it is made
  (`install`, from booking.apps), spots each INSERT/UPDATE/DELETE/TRUNCATE on those tables whatever wrote it
  (the ORM, raw SQL, a migration, a Celery job) and moves the tenant's generation when the transaction
  commits (at once in autocommit). The slot counter's own UPDATE runs in a trigger, unseen, but the booking
  or hold row that fires it is seen.
- A connection whose transaction holds such a write that is not committed yet reads live: its own writes are
  not in anyone's cache (and a test's transaction, never committed, reads live after its first write).
- Time: an answer is kept until its first slot would leave the window (its start or its deadline), the next
  midnight in Tokyo (the window's days move) and at most `TTL_SECONDS`. Holds that expire meanwhile only add
  room: a kept answer may show less room than there is, never more.
- Redis away (or a generation move owed to it): the answer is computed live, at the cost of the queries.
  A move that could not be made is retried before this process uses the cache again; another process may
  serve an answer stored before the outage for at most `TTL_SECONDS` after Redis is back.

In each process a small memo keeps the answers and each place's setup (rules, slot template, closed days) by
generation, so a hit costs no round trip (the generations are held in memory and kept current by Redis
pub/sub, `madoguchi.watched_hashes`) and a miss one query (the slot counters).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from django.utils import timezone

from booking.engine import queries
from booking.lib.dates import LATEST_DAY, TOKYO
from booking.models import Place, Service
from booking.rules import windows
from madoguchi.cache import shared_redis
from madoguchi.watched_hashes import WatchedHashes

logger = logging.getLogger(__name__)

TTL_SECONDS = 30.0
# A booking is checked against a kept setup read at most this long ago: a configuration move lost in a
# failover (the COMMIT's answer lost, a move owed by a process that ended) is missed no longer by bookings.
BOOKING_SETUP_SECONDS = 5.0
MEMO_SIZE = 2048  # answers and setups kept per process; the memo starts afresh when full

CONFIG, ROOM = "config", "room"
_ROOM_TABLES = {"booking_slot", "booking_hold", "booking_booking"}
# A write to any of these changes what free_slots answers (the tables it and its setup read).
_WRITE = re.compile(
    r"\b(?:insert\s+into|update|delete\s+from|truncate(?:\s+table)?)\s+(?:only\s+)?(?:\"?\w+\"?\.)?\"?"
    r"(booking_(?:slot|hold|booking|openingpattern|closedday|bookingsettings|place|service))\"?(?!\w)",
)
_WRITE_WORDS = ("insert", "update", "delete", "truncate")


# --- noticing writes -------------------------------------------------------------------------------------


class _Bump:
    """The on-commit move of one tenant's generation (kept recognisable to dedupe and to spot own writes)."""

    def __init__(self, schema: str, kind: str) -> None:
        self.schema = schema
        self.kind = kind

    def __call__(self) -> None:
        bump(self.schema, self.kind)


def watch_writes(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """An execute wrapper on every connection: a watched write moves its tenant's generation on commit."""
    try:
        return execute(sql, params, many, context)
    finally:
        # Also after a failed statement: in a transaction its bump is dropped with the rollback, and in
        # autocommit a statement cut off with its connection may have been carried out.
        table = watched_table(sql if isinstance(sql, str) else str(sql))
        if table:
            _note_write(context["connection"], ROOM if table in _ROOM_TABLES else CONFIG)


def watched_table(sql: str) -> str | None:
    """The watched table a statement writes to, if any. Plain substring tests first: the regular expression
    costs some 25 µs on a long SELECT, and every statement of every request comes through here."""
    text = sql.lower()
    if not any(word in text for word in _WRITE_WORDS):
        return None
    match = _WRITE.search(text)
    return match.group(1) if match else None


def _note_write(conn: Any, kind: str) -> None:
    schema = getattr(conn, "schema_name", None)
    if not schema or schema == "public":
        return
    if conn.in_atomic_block:
        for _sids, func, _robust in conn.run_on_commit:
            if (
                isinstance(func, _Bump)
                and func.schema == schema
                and (func.kind == kind or func.kind == CONFIG)
            ):
                return  # one move per transaction (a config move also hides every stored answer)
    if not conn.in_atomic_block and not conn.get_autocommit():
        # Transactions managed by hand (no atomic block, autocommit off): the commit cannot be seen from
        # here, so move now; answers read before that commit live at most TTL_SECONDS.
        bump(schema, kind)
        return
    conn.on_commit(_Bump(schema, kind), robust=True)  # runs at once outside a transaction


def note_room_write() -> None:
    """A write to the slots, holds or bookings this module cannot see in its SQL (a database function's,
    booking.engine.one_call): moves the tenant's `room` generation as a seen write does."""
    _note_write(default_connection, ROOM)


def _own_uncommitted_write(conn: Any, schema: str) -> bool:
    return conn.in_atomic_block and any(
        isinstance(func, _Bump) and func.schema == schema for _sids, func, _robust in conn.run_on_commit
    )


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    # First in the list: execute_wrapper() context managers append theirs and pop the last one on exit.
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, watch_writes)


def install() -> None:
    """Watch every connection this process makes (called once from booking.apps)."""
    connection_created.connect(_on_connection_created, dispatch_uid="booking.availability_cache")


# --- generations in Redis ----------------------------------------------------------------------------------

_owed: set[tuple[str, str, str]] = set()  # (key prefix, schema, kind) moves Redis missed
_owed_lock = threading.Lock()


def _failed(error: BaseException) -> None:
    note_failure = getattr(caches["default"], "note_failure", None)  # FailSoftRedisCache: the breaker
    if note_failure is not None:
        note_failure(error)


# every move is published here (one channel for all tenants and key prefixes: messages name the whole key)
_WATCHED = WatchedHashes("madoguchi:availability-generations")


def _gen_key(prefix: str, schema: str, kind: str) -> str:
    """A tenant's generation of one kind: a Redis hash of its own (field `n`), so that a booking, which moves
    `room`, does not make a process read `config` again (the booking itself reads only `config`)."""
    return f"{prefix}:availability-gen:{schema}:{kind}"  # not the name of the plain counters used before


def _move(client: Any, prefix: str, schema: str, kind: str) -> None:
    _WATCHED.move(client, _gen_key(prefix, schema, kind))


def _read(client: Any, prefix: str, schema: str, kinds: tuple[str, ...]) -> list[int | None]:
    """The tenant's generations of these kinds, in that order (None: gone again at once)."""
    return _WATCHED.numbers(client, [_gen_key(prefix, schema, kind) for kind in kinds])


def bump(schema: str, kind: str) -> None:
    """Move a tenant's generation (a config move also moves the setups)."""
    if getattr(caches["default"], "raw_client", None) is None:
        return  # no shared cache: nothing was ever stored
    found = shared_redis()
    prefix = caches["default"].key_prefix
    if found is None:
        with _owed_lock:
            _owed.add((prefix, schema, kind))
        return
    cache, client = found
    try:
        _move(client, prefix, schema, kind)
    except Exception as error:  # noqa: BLE001 - Redis away: owed, and this process reads live until paid
        cache.note_failure(error)
        with _owed_lock:
            _owed.add((prefix, schema, kind))


def _pay_owed(client: Any) -> bool:
    with _owed_lock:
        owed = list(_owed)
    for prefix, schema, kind in owed:
        _move(client, prefix, schema, kind)
        with _owed_lock:
            _owed.discard((prefix, schema, kind))
    return True


@dataclass(frozen=True)
class Generations:
    prefix: str
    schema: str
    config: int
    room: int | None  # None: not read (a booking needs only `config`)


def generations(*, room: bool = True) -> tuple[Generations, Any] | None:
    """The current tenant's generations (and the Redis client), or None: compute live.

    Read through `madoguchi.watched_hashes`: while nobody writes, the numbers come from this process's
    memory with no round trip; a move by any process is published with it and taken in before the numbers
    are served again."""
    schema = getattr(default_connection, "schema_name", None)
    if not schema or schema == "public" or _own_uncommitted_write(default_connection, schema):
        return None
    found = shared_redis()
    if found is None:
        return None
    cache, client = found
    try:
        if _owed:
            _pay_owed(client)
        numbers = _read(client, cache.key_prefix, schema, (CONFIG, ROOM) if room else (CONFIG,))
    except Exception as error:  # noqa: BLE001
        cache.note_failure(error)
        return None
    config, *rest = numbers
    if config is None or None in rest:
        return None  # gone again at once (evicted): live this time
    return Generations(cache.key_prefix, schema, config, rest[0] if rest else None), client


# --- the memo and the answers ------------------------------------------------------------------------------

_memo: dict[tuple[Any, ...], Any] = {}


def _remember(key: tuple[Any, ...], value: Any) -> None:
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()  # entries of old generations are never read again: dropping all is the cheap way out
    _memo[key] = value


class Unknown(LookupError):
    """No such place (field "location") or service (field "service")."""

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(field, value)
        self.field = field
        self.value = value


def read_setup(place_id: int, service_code: str, today: dt.date) -> queries.AvailabilitySetup:
    """A place and service's setup from the database (closed days from `today` on)."""
    place = Place.objects.filter(pk=place_id).first()
    if place is None:
        raise Unknown("location", place_id)
    service = Service.objects.filter(code=service_code).first()
    if service is None:
        raise Unknown("service", service_code)
    patterns, patterns_print = queries.patterns_with_print(place, service)
    return queries.AvailabilitySetup(
        place=place,
        service=service,
        rules=queries.booking_rules(),
        template=queries.slot_template(patterns),
        closed=queries.closed_days_for(place, today - dt.timedelta(days=1), LATEST_DAY),
        patterns_print=patterns_print,
    )


def setup_for(
    place_id: int, service_code: str, gens: Generations | None, max_age: float = TTL_SECONDS
) -> queries.AvailabilitySetup:
    """The place's setup, kept by configuration generation and for at most `max_age` seconds: a generation
    move can be lost (the COMMIT's answer lost in a failover drops Django's on-commit calls; a move owed to
    Redis by a process that ends before paying it), and then the read-time bounds how long it is missed."""
    today = timezone.localdate()
    if gens is None:
        return read_setup(place_id, service_code, today)
    key = ("setup", gens.prefix, gens.schema, gens.config, place_id, service_code)
    found = _memo.get(key)
    read_at = timezone.now().timestamp()
    # (day read, when read, setup): closed days count from the day it was read
    if found is None or found[0] != today or read_at - found[1] >= max_age:
        found = (today, read_at, read_setup(place_id, service_code, today))
        _remember(key, found)
    return found[2]


def kept_setup(place_id: int, service_code: str) -> queries.AvailabilitySetup | None:
    """The setup the availability answers are computed from (place, service, rules...), as kept under the
    current configuration generation, for a booking to be checked against without reading them again; None
    when no generation can be read (Redis away): the caller reads its own way then. Raises Unknown."""
    found = generations(room=False)
    if found is None:
        return None
    return setup_for(place_id, service_code, found[0], max_age=BOOKING_SETUP_SECONDS)


def valid_until(slots: list[queries.FreeSlot], rules: Any, now: dt.datetime) -> dt.datetime:
    """When an answer must be computed again: its first slot leaving the window, midnight or the TTL.
    Slots are in start order and a later day's deadline is never earlier, so the first slot says it."""
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    until = min(
        now + dt.timedelta(seconds=TTL_SECONDS), dt.datetime.combine(tomorrow, dt.time.min, tzinfo=TOKYO)
    )
    if slots:
        first = slots[0].starts_at
        until = min(until, first, windows.deadline_for(first, rules))
    return until


def free_slots_body(
    place_id: int,
    service_code: str,
    first: dt.date,
    last: dt.date,
    render: Callable[[list[queries.FreeSlot]], bytes],
) -> bytes:
    """The citizen API's availability answer (as `render` writes it), from the cache when it is current.

    Raises Unknown for a place or service that does not exist (only ever found on a miss)."""
    now = timezone.now()
    found = generations()  # read before anything is computed: a write committed after it moves them on
    if found is None:
        setup = setup_for(place_id, service_code, None)
        return render(queries.free_slots_of(setup, first, last, now))
    gens, client = found
    key = (
        f"{gens.prefix}:availability:{gens.schema}:{gens.config}:{gens.room}"
        f":{place_id}:{service_code}:{first}:{last}"
    )
    memo_key = ("answer", key)
    kept = _memo.get(memo_key)
    if kept is not None and kept[0] > now.timestamp():
        return kept[1]
    try:
        stored: bytes | None = client.get(key)
    except Exception as error:  # noqa: BLE001
        _failed(error)
        stored = None
    if stored is not None:
        until_text, _, body = stored.partition(b"\n")
        until_ts = float(until_text)
        if until_ts > now.timestamp():
            _remember(memo_key, (until_ts, body))
            return body
    setup = setup_for(place_id, service_code, gens)
    slots = queries.free_slots_of(setup, first, last, now)
    body = render(slots)
    until_ts = valid_until(slots, setup.rules, now).timestamp()
    _remember(memo_key, (until_ts, body))
    try:
        client.set(
            key, f"{until_ts!r}\n".encode() + body, px=max(1, int((until_ts - now.timestamp()) * 1000))
        )
    except Exception as error:  # noqa: BLE001
        _failed(error)
    return body
