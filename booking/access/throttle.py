"""Slowing and then refusing repeated failed logins, per client address and per reservation number (BK-04).

Counts live in Redis (the cache's server and key prefix, so per tenant). After SLOW_AFTER failures within
the window each further attempt must wait longer (1, 2, 4 … up to 60 seconds after the last failure); after
LOCK_AFTER failures the key is refused for LOCK_SECONDS. A client address gets more room than a number: many
residents can share one address (a carrier's NAT, a library), while one number belongs to one person.

An attempt is counted *before* its password is checked, with one atomic Redis transaction (`INCR`), and a
success gives its count back (`release`). Counting after the check (read, add one, write) lost updates
under a burst and let every request of the burst past the lock (finding 5 of issue 13: 17 passwords
checked instead of 10, a stored count of 4 after 8 failures); counted first, the n-th concurrent attempt
knows it is the n-th and is refused unchecked when n is over the limit.

When Redis does not answer (issue 11), counting goes on in this process's memory (`madoguchi.cache.
LocalCounter`) rather than stopping: failing open would let a password be guessed at full speed for as long
as Redis is away. Memory is per process, so an outage gives a guesser at most the number of web processes
times each limit (and staff accounts keep their own lockout in PostgreSQL); counting in PostgreSQL instead
would put a write on every resident's sign-in and a table of its own for an outage that lasts minutes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches

from madoguchi.cache import LocalCounter

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
SLOW_AFTER = 3  # per reservation number
LOCK_AFTER = 10
CLIENT_SLOW_AFTER = 10  # per client address
CLIENT_LOCK_AFTER = 50
LOCK_SECONDS = 15 * 60
MAX_DELAY_SECONDS = 60
_TTL = max(WINDOW_SECONDS, LOCK_SECONDS)
_local = LocalCounter()  # the counts while Redis is away


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds
    locked: bool = False


def _key(kind: str, value: str) -> str:
    # The value is what a client typed (a reservation number, an address): hashed, so a key is short and
    # plain whatever arrives (no unbounded or control-character keys in Redis).
    return _prefix(kind) + hashlib.sha256(value.encode()).hexdigest()[:32]


def _prefix(kind: str) -> str:
    return f"login-failures:{kind}:"


def keys_for(client: str, reservation_number: str) -> list[str]:
    keys = [_key("client", client or "unknown")]
    if reservation_number:
        keys.append(_key("number", reservation_number))
    return keys


def _limits(key: str) -> tuple[int, int]:
    if key.startswith(_prefix("client")):
        return CLIENT_SLOW_AFTER, CLIENT_LOCK_AFTER
    return SLOW_AFTER, LOCK_AFTER


def _redis() -> Any:
    """The cache's own Redis client: Django's cache API has no atomic increment that also sets an expiry
    (its `incr` reads before it writes), and counts must not be lost between processes."""
    cache = caches["default"]
    raw_client = getattr(cache, "raw_client", None)  # madoguchi.cache: refuses at once while Redis is away
    return raw_client() if raw_client else cache._cache.get_client(write=True)  # type: ignore[attr-defined]


def _redis_failed(error: Exception, what: str) -> None:
    note_failure = getattr(caches["default"], "note_failure", None)
    if note_failure is not None:
        note_failure(error)
    logger.warning("login throttle: redis unavailable, %s in this process's memory", what)


def _names(key: str) -> tuple[str, str]:
    """The Redis names of a key's count and of its last attempt's time, with the cache's tenant prefix."""
    cache = caches["default"]
    return cache.make_and_validate_key(key), cache.make_and_validate_key(f"{key}:last")


def _states(keys: list[str]) -> dict[str, tuple[int, float]]:
    """The counts; when Redis does not answer, none (logins go on unthrottled rather than not at all)."""
    try:
        names = [name for key in keys for name in _names(key)]
        values = _redis().mget(names)
    except Exception as error:  # noqa: BLE001 - any cache failure: the booking service must not stop with it
        _redis_failed(error, "reading counts")
        local = {key: _local.state(_names(key)[0]) for key in keys}
        return {key: state for key, state in local.items() if state is not None and state[0] > 0}
    states = {}
    for index, key in enumerate(keys):
        count, last = values[2 * index], values[2 * index + 1]
        if count is not None and int(count) > 0:
            states[key] = (int(count), float(last) if last is not None else 0.0)
    return states


def _wait(key: str, count: int, last: float, now: float) -> Verdict:
    """Whether one more attempt may be checked now, `count` failures being counted on `key`."""
    slow_after, lock_after = _limits(key)
    if count >= lock_after:
        wait = int(last + LOCK_SECONDS - now) + 1
        return Verdict(allowed=False, retry_after=wait, locked=True) if wait > 0 else Verdict(True)
    if count >= slow_after:
        wait = int(last + min(2 ** (count - slow_after), MAX_DELAY_SECONDS) - now) + 1
        return Verdict(allowed=False, retry_after=wait) if wait > 0 else Verdict(True)
    return Verdict(allowed=True)


def _worst(verdicts: list[Verdict]) -> Verdict:
    refused = [v for v in verdicts if not v.allowed]
    if not refused:
        return Verdict(allowed=True)
    return max(refused, key=lambda v: (v.locked, v.retry_after))


def verdict(keys: list[str], now: float | None = None) -> Verdict:
    """Whether an attempt may be made at all (a read: nothing is counted)."""
    now = time.time() if now is None else now
    return _worst([_wait(key, count, last, now) for key, (count, last) in _states(keys).items()])


def claim(keys: list[str], now: float | None = None) -> Verdict:
    """Count this attempt on every key, atomically, before its password is checked; refused when, counted
    in its place among concurrent attempts, it is over a key's limit (its password must then go unchecked).
    A refused attempt stays counted: only a burst gets here, and it should lock sooner, not later."""
    now = time.time() if now is None else now
    try:
        pipe = _redis().pipeline(transaction=True)  # MULTI … EXEC: one step for every other client
        for key in keys:
            count_name, last_name = _names(key)
            pipe.incr(count_name)
            pipe.expire(count_name, _TTL)
            pipe.getset(last_name, repr(now))
            pipe.expire(last_name, _TTL)
        results = pipe.execute()
    except Exception as error:  # noqa: BLE001
        _redis_failed(error, "counting")
        results = []
        for key in keys:
            count, previous = _local.claim(_names(key)[0], now, _TTL)
            results += [count, None, previous, None]
    verdicts = []
    for index, key in enumerate(keys):
        count, previous = int(results[4 * index]), results[4 * index + 2]
        if count > 1 and previous is not None:
            verdicts.append(_wait(key, count - 1, float(previous), now))
    return _worst(verdicts)


def record_failure(keys: list[str], now: float | None = None) -> None:
    """Count a failure that was not claimed first (one atomic increment per key)."""
    claim(keys, now)


def release(keys: list[str]) -> None:
    """The claimed attempt succeeded: a reservation number starts again from nothing; a client address
    gets its one attempt back (its neighbours' failures stay counted)."""
    try:
        pipe = _redis().pipeline(transaction=True)
        for key in keys:
            count_name, last_name = _names(key)
            if key.startswith(_prefix("client")):
                pipe.decr(count_name)
                pipe.expire(count_name, _TTL)  # never a key without an end, even if it expired meanwhile
            else:
                pipe.delete(count_name, last_name)
        pipe.execute()
    except Exception as error:  # noqa: BLE001
        _redis_failed(error, "releasing")
        for key in keys:
            name = _names(key)[0]
            if key.startswith(_prefix("client")):
                _local.give_back(name)
            else:
                _local.forget(name)
