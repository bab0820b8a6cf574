"""The site with Redis unreachable (issue 11): residents book, staff sign in, throttles still refuse.

The real app (Django's test client, real PostgreSQL) with the cache and the broker pointed at a port where
nothing listens. Every request must stay fast: the bound (2 s) checks that no Redis timeout is waited for
per request, it is not a benchmark.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from django.test import Client
from kombu import pools as kombu_pools

import madoguchi.cache
from booking.access import throttle
from booking.engine.services import IssuedCard
from booking.models import Booking, Hold
from madoguchi.cache import LocalCounter
from tests import factories
from tests.citizen.test_citizen_site import log_in, text, walk_to_hold
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"
UNUSED_QUEUE = "outage-test-unused"  # no worker reads it: the published test tasks are never run
BOUND_SECONDS = 2.0


class TimedClient(Client):
    """A test client that fails any request slower than the bound."""

    def request(self, **request: Any) -> Any:
        started = time.monotonic()
        response = super().request(**request)
        elapsed = time.monotonic() - started
        assert elapsed < BOUND_SECONDS, f"{request.get('PATH_INFO')} took {elapsed:.2f} s"
        return response


def _forget_broker_pools(celery_app: Celery) -> None:
    """Drop the app's cached pools and kombu's registry: the next publish builds them for the current URL."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu_pools.reset()


@contextlib.contextmanager
def _redis_unreachable(settings: Any) -> Iterator[None]:
    from madoguchi.celery import app as celery_app

    # The project's Celery app reads its settings once: point it at the dead broker for this test only, and
    # put it back with fresh pools, or every later test would publish to a closed port. The app caches its
    # connection and producer pools (and kombu keeps them in a process-wide registry keyed by broker): a pool
    # made by an earlier test for the real broker must be let go with the registry, or kombu hands a closed
    # one back to the next publisher ("Acquire on closed pool").
    real_broker = celery_app.conf.broker_url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    settings.CELERY_BROKER_URL = DEAD_REDIS
    _forget_broker_pools(celery_app)
    celery_app.conf.broker_url = DEAD_REDIS
    throttle._local.clear()
    madoguchi.cache._down_until.clear()
    try:
        yield
    finally:
        celery_app.conf.broker_url = real_broker
        _forget_broker_pools(celery_app)
        throttle._local.clear()
        madoguchi.cache._down_until.clear()


@pytest.fixture
def redis_down(settings: Any) -> Iterator[None]:
    with _redis_unreachable(settings):
        yield


def test_publishing_works_again_after_an_outage_test(settings: Any) -> None:
    """A pool made for the real broker before an outage test must not come back closed after it."""
    from madoguchi.celery import app as celery_app

    def publish() -> None:
        celery_app.send_task("booking.send_booking_confirmation", args=[0, "booked"], queue=UNUSED_QUEUE)

    publish()
    with _redis_unreachable(settings), pytest.raises(Exception):  # noqa: B017, PT011 - kombu error
        publish()
    publish()


@pytest.fixture
def browser(kyoto: None, redis_down: None) -> Client:
    return TimedClient(HTTP_HOST=KYOTO_HOST)


def test_readiness_is_ok_without_redis_and_says_degraded(tenants: Any, redis_down: None) -> None:
    response = TimedClient(HTTP_HOST="10.0.0.1").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "degraded: redis unavailable"},
    }


def test_readiness_says_ok_with_redis(tenants: Any) -> None:
    response = Client(HTTP_HOST="10.0.0.1").get("/healthz")
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_a_resident_books_changes_and_cancels_without_redis(browser: Client) -> None:
    issued = factories.issue_card()
    assert 'href="/login/"' in text(browser.get("/"))
    assert log_in(browser, issued)["Location"] == "/mypage/"
    assert "現在、予約はありません" in text(browser.get("/mypage/"))
    first, second = factories.next_free_slot_list(2)

    assert walk_to_hold(browser, first.starts_at)["Location"] == "/details/"
    assert Hold.objects.filter(card=issued.card).exists()
    assert browser.post("/details/", {"phone": "", "email": "taro@example.jp"})["Location"] == "/confirm/"
    assert "この内容で予約を確定する" in text(browser.get("/confirm/"))
    assert "予約が完了しました" in text(browser.post("/confirm/", follow=True))
    booking = Booking.objects.get(card=issued.card, status="confirmed")
    assert booking.slot.starts_at == first.starts_at

    assert "予約を取り消す" in text(browser.get("/mypage/"))
    walk_to_hold(browser, second.starts_at)
    browser.post("/details/", {"phone": "", "email": ""})
    browser.post("/confirm/")
    assert Booking.objects.get(card=issued.card, status="confirmed").slot.starts_at == second.starts_at

    assert "予約を取り消しました" in text(browser.post("/cancel/", follow=True))
    assert not Booking.objects.filter(card=issued.card, status="confirmed").exists()


def test_resident_sign_in_throttle_still_refuses_without_redis(browser: Client) -> None:
    issued: IssuedCard = factories.issue_card()
    number = issued.card.reservation_number
    for _ in range(throttle.SLOW_AFTER):
        browser.post("/login/", {"reservation_number": number, "password": "NOPE"})
    # the right password now: refused all the same, the number is counted (in memory) and slowed
    refused = browser.post("/login/", {"reservation_number": number, "password": issued.password})
    assert refused.status_code != 302
    assert not browser.get("/mypage/").get("Location", "").endswith("/mypage/")
    assert browser.get("/mypage/")["Location"] == "/login/"


def test_staff_sign_in_and_bookings_list_without_redis(kyoto: None, redis_down: None) -> None:
    make_staff("clerk", "counter")
    client = TimedClient(HTTP_HOST=KYOTO_HOST)
    assert client.post("/staff/login/", {"username": "clerk", "password": PASSWORD}).status_code == 302
    assert client.get("/staff/bookings/").status_code == 200


def test_staff_spraying_is_still_slowed_without_redis(kyoto: None, redis_down: None) -> None:
    make_staff("clerk", "counter")
    client = TimedClient(HTTP_HOST=KYOTO_HOST)
    for n in range(throttle.CLIENT_SLOW_AFTER):
        guess = client.post("/staff/login/", {"username": f"guess{n}", "password": "Spring2026!"})
        assert guess.status_code == 400
    slowed = client.post("/staff/login/", {"username": "clerk", "password": PASSWORD})
    assert slowed.status_code == 400 and "しばらく受け付けを停止しています" in slowed.content.decode()


def test_the_throttle_counts_in_memory_without_redis_and_in_redis_with_it(kyoto: None, settings: Any) -> None:
    keys = throttle.keys_for("198.51.100.9", "123412341234")
    throttle.claim(keys)
    assert set(throttle._states(keys)) == set(keys)  # counted in Redis
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    throttle._local.clear()
    madoguchi.cache._down_until.clear()
    try:
        assert throttle._states(keys) == {}  # memory has no count yet: Redis's are out of reach
        for _ in range(throttle.LOCK_AFTER):
            throttle.claim(keys)
        verdict = throttle.verdict(keys)
        assert not verdict.allowed and verdict.locked
        throttle.release(keys)  # a success: the number starts again, the address gets one back
        counts = {key: count for key, (count, _) in throttle._states(keys).items()}
        assert counts == {throttle._key("client", "198.51.100.9"): throttle.LOCK_AFTER - 1}
    finally:
        throttle._local.clear()
        madoguchi.cache._down_until.clear()


def test_cache_reads_miss_and_writes_drop_quickly_without_redis(redis_down: None) -> None:
    from django.core.cache import cache

    started = time.monotonic()
    cache.set("k", "v")
    assert cache.get("k", "missing") == "missing"
    assert cache.get_many(["k"]) == {}
    assert cache.add("k", 1) is False
    with pytest.raises(ConnectionError):  # a counter must never pretend: its callers fall back on purpose
        cache.incr("k")
    assert time.monotonic() - started < BOUND_SECONDS


def test_publishing_a_task_fails_fast_without_redis(settings: Any) -> None:
    app = Celery("outage-test", set_as_current=False)  # current_app stays the project's for later tests
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = DEAD_REDIS
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017, PT011 - kombu's OperationalError, whatever its wrapping
        app.send_task("booking.send_booking_confirmation", args=[1, "booked"])
    assert time.monotonic() - started < BOUND_SECONDS


def test_local_counter_expires_and_stays_bounded() -> None:
    counter = LocalCounter(max_keys=3)
    assert counter.claim("a", 100.0, ttl=60) == (1, None)
    assert counter.claim("a", 101.0, ttl=60) == (2, 100.0)
    for name in "bcd":
        counter.claim(name, 102.0, ttl=60)
    assert counter.state("a") == (2, 101.0)  # a key counted twice outlives a flood of keys seen once
    assert counter.state("b") is None  # the oldest of those went first
    for name in "bcd":
        counter.claim(name, 103.0, ttl=60)
        counter.claim(name, 104.0, ttl=60)
    assert len(counter._entries) == 3  # still bounded when every key has counted more than once
    counter.claim("gone", 103.0, ttl=-1)
    assert counter.state("gone") is None
