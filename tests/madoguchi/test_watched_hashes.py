"""madoguchi.watched_hashes (issue 12): numbers held in memory, yet a change made anywhere is seen by the
very next read; held values are trusted only so long; a lost subscription forgets everything."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from django.core.cache import caches

from madoguchi import watched_hashes
from madoguchi.watched_hashes import WatchedHashes


@pytest.fixture
def client() -> Any:
    return caches["default"].raw_client()  # type: ignore[attr-defined]


@pytest.fixture
def key(client: Any) -> Iterator[str]:
    name = f"test:watched:{secrets.token_hex(6)}"
    client.hset(name, mapping={"a": 1, "b": 10})
    yield name
    client.delete(name)


@pytest.fixture
def channel() -> str:
    return f"test:watched:{secrets.token_hex(6)}"


def delivered(client: Any) -> None:
    """Until what a change published has reached the subscribers' sockets. Redis answers the writer first
    and writes the subscribers just after, in the same pass (the module says so): a later round trip is
    answered after that pass. Without it a read racing the answer by microseconds was, rarely, too early."""
    client.ping()


def test_a_held_value_is_served_from_memory(client: Any, key: str, channel: str) -> None:
    reader = WatchedHashes(channel)
    assert reader.read(client, key, ("a", "b")) == (b"1", b"10")
    client.hset(key, "a", 2)  # changed behind the watch's back (not through incr): not seen, so not read
    assert reader.read(client, key, ("a", "b")) == (b"1", b"10")
    reader.forget()


def test_a_change_by_another_process_is_seen_by_the_next_read(client: Any, key: str, channel: str) -> None:
    reader, writer = WatchedHashes(channel), WatchedHashes(channel)  # two processes' watches
    assert reader.read(client, key, ("a", "b")) == (b"1", b"10")
    assert writer.incr(client, key, "b") == 11
    delivered(client)
    assert reader.read(client, key, ("a", "b")) == (b"1", b"11")
    writer.set(client, key, "a", 7)
    delivered(client)
    assert reader.read(client, key, ("a",)) == (b"7",)
    reader.forget()
    writer.forget()


def test_held_values_are_read_again_after_the_trust_time(
    client: Any, key: str, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = WatchedHashes(channel)
    reader.read(client, key, ("a",))
    client.hset(key, "a", 5)  # a change whose message was lost
    monkeypatch.setattr(watched_hashes, "TRUST_SECONDS", 0.0)
    assert reader.read(client, key, ("a",)) == (b"5",)
    reader.forget()


def test_a_lost_subscription_forgets_what_it_held(client: Any, key: str, channel: str) -> None:
    reader = WatchedHashes(channel)
    reader.read(client, key, ("a",))
    client.hset(key, "a", 9)  # not told...
    # ...and Redis cuts the subscription (a failover, a proxy's idle timeout): this one only, other tests
    # may be subscribed
    host, port = reader._pubsub.connection._sock.getsockname()[:2]
    client.client_kill_filter(addr=f"{host}:{port}")
    # not an error (Redis answers): the next read forgets what was held and reads afresh
    assert reader.read(client, key, ("a",)) == (b"9",)
    client.hset(key, "a", 10)
    assert reader.read(client, key, ("a",)) == (b"10",)  # nothing held without a subscription
    reader.forget()


def test_no_subscription_means_reading_redis_each_time(
    client: Any, key: str, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = WatchedHashes(channel)

    def refused(_client: Any) -> None:
        raise ConnectionError("no pub/sub here")

    monkeypatch.setattr(reader, "_subscribe", refused)
    assert reader.read(client, key, ("a",)) == (b"1",)
    client.hset(key, "a", 4)
    assert reader.read(client, key, ("a",)) == (b"4",)


def test_the_writer_forgets_at_once_without_waiting_for_its_own_message(
    client: Any, key: str, channel: str
) -> None:
    reader = WatchedHashes(channel)
    assert reader.read(client, key, ("b",)) == (b"10",)
    reader.channel = f"{channel}:elsewhere"  # its message goes where its subscription does not listen
    assert reader.incr(client, key, "b") == 11
    assert reader.read(client, key, ("b",)) == (b"11",)
    reader.forget()


def test_missing_fields_are_not_held(client: Any, key: str, channel: str) -> None:
    reader = WatchedHashes(channel)
    assert reader.read(client, key, ("a", "nothing")) == (b"1", None)
    client.hset(key, "nothing", 3)  # not told: read anyway, since a missing field is never held
    assert reader.read(client, key, ("a", "nothing")) == (b"1", b"3")
    reader.forget()


def test_messages_that_came_together_are_all_taken_in(client: Any, channel: str) -> None:
    """The socket is looked at without the lock, and "nothing there" is trusted: so a read must take in every
    message that came, not only the first, or a later read would miss what is left in redis-py's buffer."""
    keys = [f"test:watched:{secrets.token_hex(6)}" for _ in range(3)]
    for name in keys:
        client.hset(name, "n", 1)
    reader, writer = WatchedHashes(channel), WatchedHashes(channel)
    try:
        assert [reader.read(client, name, ("n",)) for name in keys] == [(b"1",)] * 3
        for name in keys:
            writer.incr(client, name, "n")  # three messages on the reader's socket before it reads again
        delivered(client)
        assert [reader.read(client, name, ("n",)) for name in keys] == [(b"2",)] * 3
    finally:
        reader.forget()
        writer.forget()
        client.delete(*keys)


def test_threads_reading_at_once_each_see_a_change_made_before_their_read(
    client: Any, key: str, channel: str
) -> None:
    """A process's request threads read together (the lock is not held while the socket is looked at):
    none of them is served a number older than a change whose message came before its read began."""
    reader, writer = WatchedHashes(channel), WatchedHashes(channel)
    try:
        with ThreadPoolExecutor(4) as pool:
            for _ in range(40):
                moved = writer.incr(client, key, "b")
                delivered(client)
                seen = list(pool.map(lambda _n: reader.read(client, key, ("b",))[0], range(8)))
                assert seen == [str(moved).encode()] * 8
    finally:
        reader.forget()
        writer.forget()


def test_a_message_behind_a_health_check_reply_is_taken_in(client: Any, key: str, channel: str) -> None:
    """With `health_check_interval` set (it can be given in REDIS_URL), redis-py's PubSub sends PINGs whose
    PONGs arrive among the messages and for which get_message answers None: the read goes on past them, or
    the message behind would stay in redis-py's buffer, unseen by every later look at the socket."""
    reader, writer = WatchedHashes(channel), WatchedHashes(channel)
    try:
        assert reader.read(client, key, ("b",)) == (b"10",)
        pubsub = reader._pubsub
        # what PubSub.check_health() sends
        pubsub.connection.send_command("PING", pubsub.HEALTH_CHECK_MESSAGE, check_health=False)
        pubsub.health_check_response_counter += 1
        moved = writer.incr(client, key, "b")  # on the reader's socket: the PONG, then the message
        delivered(client)
        assert reader.read(client, key, ("b",)) == (str(moved).encode(),)
        assert reader.read(client, key, ("b",)) == (str(moved).encode(),)
    finally:
        reader.forget()
        writer.forget()


def test_a_subscription_socket_numbered_past_1024_is_looked_at_too(
    client: Any, key: str, channel: str
) -> None:
    """A worker with many connections open may get a socket numbered past select()'s limit of 1024: the
    look without the lock still works there (poll), and a change is still seen by the next read."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("the process may not open 1,100 files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    fillers: list[int] = []
    own: Any = None
    reader, writer = WatchedHashes(channel), WatchedHashes(channel)
    try:
        while len(fillers) < 1030 and (not fillers or fillers[-1] < 1030):
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        # a client of its own: its connections are opened now, past the files above
        own = redis.Redis(
            connection_pool=redis.ConnectionPool(
                connection_class=client.connection_pool.connection_class,
                **client.connection_pool.connection_kwargs,
            )
        )
        assert reader.read(own, key, ("b",)) == (b"10",)
        assert reader._pubsub.connection._sock.fileno() > 1024
        assert reader._look_for_news() is not None
        moved = writer.incr(client, key, "b")
        delivered(client)
        assert reader.read(own, key, ("b",)) == (str(moved).encode(),)
    finally:
        reader.forget()
        writer.forget()
        if own is not None:
            own.connection_pool.disconnect()
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
