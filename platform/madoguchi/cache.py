"""The cache when Redis is away (issue 11): reads miss, writes are dropped, and nobody waits for it.

Nothing a resident's booking or a staff sign-in needs lives only in Redis (sessions, holds, bookings and
accounts' lockouts are in PostgreSQL), so a Redis outage must cost a page nothing but a few milliseconds:

- `FailSoftRedisCache` is Django's Redis cache whose reads and writes log and answer a miss instead of
  raising. Counters (`incr`/`decr`) still raise: a count that silently did not happen is a security bug,
  so their callers fall back to `LocalCounter` on purpose.
- A per-process breaker: after a connection failure the server is left alone for `PAUSE_SECONDS`, so a
  request makes no connection attempt at all and a blackholed host costs no connect timeout per call.
- `LocalCounter`: a per-process, in-memory stand-in for the sign-in throttles' Redis counts while Redis
  is away (see `booking.access.throttle`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 5.0  # after a failure, how long Redis is left alone (readiness probes try again after it)

_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


class CacheUnavailable(ConnectionError):
    """Redis failed a moment ago; not tried again yet."""


def _location_key(location: Any) -> str:
    return str(location)


def is_paused(location: Any) -> bool:
    return _down_until.get(_location_key(location), 0.0) > time.monotonic()


def note_failure(location: Any, error: BaseException) -> None:
    """Leave this Redis alone for a while (logged once per pause, not once per request)."""
    key = _location_key(location)
    with _down_lock:
        first = _down_until.get(key, 0.0) <= time.monotonic()
        _down_until[key] = time.monotonic() + PAUSE_SECONDS
    if first:
        logger.error("redis unavailable (%s): cache degraded for %ss", type(error).__name__, PAUSE_SECONDS)


def note_success(location: Any) -> None:
    _down_until.pop(_location_key(location), None)


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, whose `redis.Redis` objects are made once per connection pool.

    Django makes a new `redis.Redis` for every cache call, and each one builds its table of ~170 response
    callbacks: about a third of a millisecond of CPU per call, paid on every request that reads the cache
    (issue 12: the cheap request path). A `redis.Redis` is safe to share between threads (its connection pool
    hands each command its own connection), so one per pool serves them all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own (private) parts of RedisCacheClient, which its type stubs do not list
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._clients.get(index)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(index)
                if client is None:
                    pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
                    client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
                    self._clients[index] = client
        return client


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache, failing soft: see the module's docstring."""

    def __init__(self, server: Any, params: Any) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    @property
    def _location(self) -> str:
        return str(getattr(self, "_servers", ""))  # the breaker's key: Django's RedisCache keeps its servers

    def _guarded(self, default: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        if is_paused(self._location):
            return default
        try:
            return call(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any Redis failure is a miss, never a failed page
            note_failure(self._location, error)
            return default

    def raw_client(self) -> Any:
        """The Redis client for atomic pipelines (the throttles); raises CacheUnavailable while paused."""
        if is_paused(self._location):
            raise CacheUnavailable("redis paused after a failure")
        return self._cache.get_client(write=True)

    def note_failure(self, error: BaseException) -> None:
        note_failure(self._location, error)

    def ping(self) -> bool:
        """Whether Redis answers now (the readiness check); tries even while paused, and ends a pause."""
        try:
            ok = bool(self._cache.get_client(write=True).ping())
        except Exception as error:  # noqa: BLE001
            note_failure(self._location, error)
            return False
        note_success(self._location)
        return ok

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(default, super().get, key, default, version)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return self._guarded({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: Any = None) -> Any:
        return self._guarded(False, super().has_key, key, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:  # noqa: A003
        self._guarded(None, super().set, key, value, timeout, version)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._guarded(False, super().add, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._guarded(False, super().touch, key, timeout, version)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._guarded(list(data), super().set_many, data, timeout, version)

    def delete(self, key: Any, version: Any = None) -> Any:
        return self._guarded(False, super().delete, key, version)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guarded(None, super().delete_many, keys, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        return self._counted(super().incr, key, delta, version)

    def decr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        return self._counted(super().decr, key, delta, version)

    def _counted(self, call: Any, *args: Any) -> Any:
        if is_paused(self._location):
            raise CacheUnavailable("redis paused after a failure")
        try:
            return call(*args)
        except ValueError:  # no such key: Redis answered
            raise
        except Exception as error:
            note_failure(self._location, error)
            raise


def shared_redis() -> tuple[Any, Any] | None:
    """The default cache and its Redis client, for numbers shared between processes (the watched
    generations); None when the default cache has no Redis client of ours (tests with another cache) or is
    paused after a failure: the caller reads its database instead."""
    from django.core.cache import caches  # settings import this module: the cache is looked up when asked

    cache = caches["default"]
    raw_client = getattr(cache, "raw_client", None)
    if raw_client is None:
        return None
    try:
        return cache, raw_client()
    except Exception:  # noqa: BLE001 - paused after a failure (the breaker), or Redis away
        return None


class LocalCounter:
    """Counts with an expiry, in this process's memory: the throttles' stand-in while Redis is away.

    Per process, so during an outage an attacker spread over P processes gets at most P times a limit;
    bounded in size (the oldest entries go first) so a flood of distinct keys cannot exhaust memory.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, float, float]] = {}  # name -> (count, last, expires)
        self._max_keys = max_keys

    def claim(self, name: str, now: float, ttl: float) -> tuple[int, float | None]:
        """Count one more: the new count and the previous attempt's time (None: the first)."""
        with self._lock:
            count, last, _expires = self._live(name, time.monotonic()) or (0, None, 0.0)
            self._entries.pop(name, None)  # re-inserted last: the dict's order is the age order
            self._entries[name] = (count + 1, now, time.monotonic() + ttl)
            self._trim()
            return count + 1, last

    def state(self, name: str) -> tuple[int, float] | None:
        with self._lock:
            live = self._live(name, time.monotonic())
            return (live[0], live[1] or 0.0) if live else None

    def give_back(self, name: str) -> None:
        with self._lock:
            live = self._live(name, time.monotonic())
            if live and live[0] > 0:
                self._entries[name] = (live[0] - 1, live[1] or 0.0, live[2])

    def forget(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _live(self, name: str, mono: float) -> tuple[int, float | None, float] | None:
        entry = self._entries.get(name)
        if entry is None or entry[2] <= mono:
            self._entries.pop(name, None)
            return None
        return entry

    def _trim(self) -> None:
        # A flood of fresh keys must not push out the count of a key under attack: the oldest entry seen
        # only once goes first (among the oldest few), and only then the oldest of all.
        while len(self._entries) > self._max_keys:
            victim = next(
                (
                    name
                    for name, _ in zip(self._entries, range(1000), strict=False)
                    if self._entries[name][0] <= 1
                ),
                next(iter(self._entries)),
            )
            self._entries.pop(victim)
