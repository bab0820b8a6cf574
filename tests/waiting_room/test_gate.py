"""The gate on a municipality's site (console.waiting_room.gate): the queue page and JSON, order and place
across refreshes, staff and operators never queue, per-municipality isolation, Redis down, events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

import madoguchi.cache
from console.models import QueueEvent
from console.waiting_room import redis_line as queue
from console.waiting_room import rules
from tests.conftest import KYOTO_HOST, MIHON_HOST, Clock
from tests.staff_helpers import make_staff, sign_in
from tests.waiting_room.conftest import queued, visitor

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


def test_with_the_room_off_nobody_queues_and_redis_is_not_asked(tenants: Any) -> None:
    clients = [visitor() for _ in range(3)]
    for client in clients:
        response = client.get("/")
        assert response.status_code == 200 and not queued(response)
        assert "mg_wr_pass" not in response.cookies


def test_beyond_the_limit_a_newcomer_gets_the_queue_page_with_place_and_wait(open_room: Any) -> None:
    open_room(active=1, per_minute=10, idle_minutes=1)
    inside = visitor()
    first = inside.get("/")
    assert first.status_code == 200 and "mg_wr_pass" in first.cookies
    waiting = visitor()
    page = waiting.get("/book/")
    assert queued(page) and page.status_code == 200
    body = page.content.decode()
    assert "ただいま順番にご案内しています" in body
    assert 'role="status"' in body and "あなたの順番は 1 番目です。" in body
    assert "約 1 分" in body  # 1 in line, the one inside gone within a minute
    assert page.headers["Refresh"] == str(queue.REFRESH_SECONDS)
    assert page.headers["Cache-Control"] == "no-store"
    assert '<html lang="ja">' in body
    # the one inside goes on, again and again, without queueing
    for _ in range(3):
        again = inside.get("/")
        assert again.status_code == 200 and not queued(again)


def test_a_place_is_kept_across_refreshes_and_a_later_arrival_refreshing_faster_does_not_pass(
    open_room: Any, clock: Clock
) -> None:
    open_room(active=1, per_minute=100, idle_minutes=1)
    visitor().get("/")
    early, late = visitor(), visitor()
    assert "1 番目" in early.get("/").content.decode()
    assert "2 番目" in late.get("/").content.decode()
    for _ in range(5):
        assert "2 番目" in late.get("/").content.decode()
        assert "1 番目" in early.get("/").content.decode()
    clock.advance(seconds=61)  # the one inside goes idle
    for _ in range(5):
        response = late.get("/")
        assert queued(response) and "1 番目" in response.content.decode()  # the turn went to `early`
    admitted = early.get("/")
    assert admitted.status_code == 200 and not queued(admitted) and "mg_wr_pass" in admitted.cookies
    assert admitted.cookies["mg_wr_ticket"].value == ""  # the ticket is spent


def test_the_api_answers_json_with_place_wait_and_retry_after(open_room: Any) -> None:
    open_room(active=100, per_minute=1)
    visitor().get("/")
    api = Client(HTTP_HOST=KYOTO_HOST)
    response = api.get("/api/v1/locations/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(queue.REFRESH_SECONDS)
    body = response.json()
    assert body["code"] == "waiting_room"
    assert body["position"] == 1 and body["queue_length"] == 1
    assert body["estimated_wait_seconds"] == 60  # 1 in line at 1 a minute
    assert body["retry_after"] == queue.REFRESH_SECONDS
    assert "1番目" in body["message"]
    # the client keeps its place with the cookie it was given
    assert api.get("/api/v1/locations/").json()["position"] == 1


def test_a_form_sent_while_waiting_is_not_processed(open_room: Any) -> None:
    open_room(active=1)
    visitor().get("/")
    response = visitor().post("/login/", {"reservation_number": "123456789012", "password": "x"})
    assert response.status_code == 503 and queued(response)


def test_the_queue_page_in_english(open_room: Any) -> None:
    open_room(active=1, per_minute=2, idle_minutes=1)
    visitor().get("/")
    english = Client(HTTP_HOST=KYOTO_HOST)
    english.cookies["django_language"] = "en"
    visitor().get("/")  # one more ahead
    body = english.get("/").content.decode()
    assert '<html lang="en">' in body
    assert "You are number 2 in line." in body
    assert "about 2 minutes" in body
    assert "順番" not in body


def test_the_auto_refresh_can_be_turned_off_and_the_place_is_kept(open_room: Any) -> None:
    open_room(active=1)
    visitor().get("/")
    waiting = visitor()
    page = waiting.get("/book/")
    assert "Refresh" in page.headers
    switch = waiting.get("/waiting-room/auto-refresh/", {"off": "1", "next": "/book/"})
    assert switch.status_code == 302 and switch["Location"] == "/book/"
    page = waiting.get("/book/")
    assert "Refresh" not in page.headers and "1 番目" in page.content.decode()
    assert "自動更新を再開する" in page.content.decode()
    # never an open redirect
    assert (
        waiting.get("/waiting-room/auto-refresh/", {"on": "1", "next": "//evil.example/"})["Location"] == "/"
    )
    # nor a link off the site on the page of a path that reads as another host ("//evil.example/")
    page = waiting.request(PATH_INFO="//evil.example/", REQUEST_METHOD="GET", QUERY_STRING="")
    assert queued(page) and "evil.example" not in page.content.decode()


def test_the_language_switch_and_accessibility_statement_never_queue(open_room: Any) -> None:
    open_room(active=1)
    visitor().get("/")
    waiting = visitor()
    assert queued(waiting.get("/"))
    assert waiting.get("/accessibility/").status_code == 200
    switched = waiting.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.status_code == 302  # the queue page set the CSRF cookie its form needs


def test_staff_paths_and_signed_in_staff_never_queue(open_room: Any, kyoto: None) -> None:
    open_room(active=1)
    visitor().get("/")
    assert queued(visitor().get("/"))
    login = visitor().get("/staff/login/")
    assert login.status_code == 200 and not queued(login)
    make_staff("wr-operator", "operator")
    staff = sign_in("wr-operator")
    for path in ("/staff/", "/staff/callcenter/", "/staff/caller/book/", "/"):
        response = staff.get(path)
        assert not queued(response), path
        assert response.status_code in (200, 302), path


def test_one_municipality_s_crowd_never_queues_another_s_residents(open_room: Any) -> None:
    open_room(active=1)
    visitor().get("/")
    kyoto_waiting = visitor()
    assert queued(kyoto_waiting.get("/"))
    mihon = Client(HTTP_HOST=MIHON_HOST)
    for _ in range(5):
        response = mihon.get("/")
        assert response.status_code == 200 and not queued(response)
    # Kyoto's ticket shown to Mihon means nothing there, and Mihon's room off means no cookie at all
    mihon.cookies["mg_wr_ticket"] = kyoto_waiting.cookies["mg_wr_ticket"].value
    assert not queued(mihon.get("/"))


def test_the_same_ticket_on_another_municipality_s_room_is_a_newcomer_there(
    open_room: Any, tenants: Any
) -> None:
    open_room(active=1)
    open_room(active=1, tenant=tenants.mihon)
    visitor().get("/")
    Client(HTTP_HOST=MIHON_HOST).get("/")
    kyoto_waiting = visitor()
    kyoto_waiting.get("/")
    kyoto_waiting.get("/")
    mihon = Client(HTTP_HOST=MIHON_HOST)
    mihon.cookies["mg_wr_ticket"] = kyoto_waiting.cookies["mg_wr_ticket"].value
    response = mihon.get("/")
    assert queued(response) and "1 番目" in response.content.decode()
    assert response.cookies["mg_wr_ticket"].value != kyoto_waiting.cookies["mg_wr_ticket"].value


@pytest.fixture
def redis_down(settings: Any) -> Any:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    madoguchi.cache._down_until.clear()
    yield
    madoguchi.cache._down_until.clear()


def test_with_redis_down_the_gate_opens_to_the_bulkhead(open_room: Any, redis_down: None) -> None:
    open_room(active=1)
    for _ in range(5):
        response = visitor().get("/")
        assert response.status_code == 200 and not queued(response)
        assert "mg_wr_pass" not in response.cookies


def test_a_scheduled_event_switches_the_room_on_with_its_limits_and_off_at_its_end(
    tenants: Any, clock: Clock
) -> None:
    start = clock.now + dt.timedelta(minutes=30)
    QueueEvent.objects.create(
        tenant=tenants.kyoto,
        name="通知書の発送日",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        active_limit=1,
        per_minute=5,
    )
    rules.forget()
    assert all(not queued(visitor().get("/")) for _ in range(3))  # before: the room is off
    clock.advance(minutes=30)
    rules.forget()
    assert not queued(visitor().get("/"))
    assert queued(visitor().get("/"))  # the event's limit of 1
    clock.advance(hours=2)
    rules.forget()
    assert all(not queued(visitor().get("/")) for _ in range(3))  # after: off again


def test_with_redis_down_one_failure_pauses_redis_and_the_pause_is_not_prolonged(
    open_room: Any, redis_down: None
) -> None:
    """The first request finds Redis away and starts the cache's pause; the requests during it try nothing
    (no connect timeout each) and do not push the pause's end further, so Redis is tried again after it."""
    open_room(active=1)
    visitor().get("/")
    paused = dict(madoguchi.cache._down_until)
    assert paused, "the failure was not noted"
    for _ in range(5):
        assert visitor().get("/").status_code == 200
    assert madoguchi.cache._down_until == paused


def test_a_suspended_municipality_s_page_is_not_queued_for(open_room: Any, tenants: Any) -> None:
    from django.utils import timezone

    from tenants.models import Municipality
    from tenants.routing import forget_routes

    open_room(active=1)
    visitor().get("/")
    Municipality.objects.filter(pk=tenants.kyoto.pk).update(suspended_at=timezone.now())
    forget_routes()  # what tenants.lifecycle.do_suspend announces to the host routing
    response = visitor().get("/")
    assert response.status_code == 503 and not queued(response)
    assert "利用停止中" in response.content.decode()
