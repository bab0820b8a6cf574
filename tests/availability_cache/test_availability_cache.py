"""The availability API's cache (issue 12): a committed write is seen by the very next request, time takes
slots away, Redis away costs nothing but speed, tenants never share answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.engine import availability_cache
from booking.engine.services import do_book, do_cancel, do_hold
from booking.lib.dates import TOKYO
from booking.models import BookingSettings, ClosedDay, Place
from booking.rules import windows
from tenants.db import tenant_connection
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Clock

Committed = Callable[[Callable[[], Any]], Any]


def availability(
    day_from: dt.date, day_to: dt.date, place_id: int | None = None, host: str = KYOTO_HOST
) -> Any:
    if place_id is None:
        with schema_context("kyoto"):
            place_id = factories.place().pk
    response = Client(HTTP_HOST=host).get(
        "/api/v1/availability/",
        {"location": str(place_id), "service": "card_issuance", "from": str(day_from), "to": str(day_to)},
    )
    tenant_connection().set_schema_to_public()
    return response


def remaining(day: dt.date) -> dict[dt.datetime, int]:
    response = availability(day, day)
    assert response.status_code == 200, response.content
    return {dt.datetime.fromisoformat(slot["start"]): slot["remaining"] for slot in response.json()}


def generations() -> tuple[int, int]:
    """Kyoto's generations as Redis holds them."""
    cache = caches["default"]
    client = cache.raw_client()  # type: ignore[attr-defined]
    config, room = (
        client.hget(availability_cache._gen_key(cache.key_prefix, "kyoto", kind), "n")
        for kind in ("config", "room")
    )
    return int(config), int(room)


@pytest.fixture
def free(committed_kyoto: Committed) -> Any:
    return committed_kyoto(factories.next_free_slot)


def test_an_answer_is_served_again_until_a_booking_commits(free: Any, committed_kyoto: Committed) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    before = remaining(day)
    assert before[free.starts_at] == free.capacity
    first = availability(day, day).content
    assert availability(day, day).content == first  # the same bytes, from the cache
    card = committed_kyoto(lambda: factories.issue_cards(1)[0])
    committed_kyoto(lambda: do_book(card, factories.place(), factories.card_issuance(), free.starts_at))
    assert remaining(day)[free.starts_at] == free.capacity - 1  # the very next request
    committed_kyoto(lambda: do_cancel(card))
    assert remaining(day)[free.starts_at] == free.capacity


def test_a_hold_takes_room_at_once(free: Any, committed_kyoto: Committed) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    assert remaining(day)[free.starts_at] == free.capacity
    card = committed_kyoto(lambda: factories.issue_cards(1)[0])
    committed_kyoto(lambda: do_hold(card, factories.place(), factories.card_issuance(), free.starts_at))
    assert remaining(day)[free.starts_at] == free.capacity - 1


def test_a_closed_day_and_a_settings_change_are_seen_at_once(free: Any, committed_kyoto: Committed) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    assert remaining(day)
    config, room = generations()
    committed_kyoto(lambda: ClosedDay.objects.create(date=day, reason="test"))
    assert generations()[0] != config
    assert remaining(day) == {}
    committed_kyoto(lambda: ClosedDay.objects.filter(date=day).delete())
    assert remaining(day)
    # the window ends before that day now (the rolling horizon)
    ahead = (day - timezone.localdate()).days
    committed_kyoto(
        lambda: BookingSettings.objects.filter(singleton=True).update(
            booking_horizon_days=ahead - 1, bookable_until=None
        )
    )
    assert remaining(day) == {}


def test_a_slot_leaves_the_answer_at_its_deadline(free: Any, clock: Clock) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    assert free.starts_at in remaining(day)
    with schema_context("kyoto"):
        deadline = windows.deadline_for(free.starts_at, BookingSettings.objects.get(singleton=True))
    clock.now = deadline - dt.timedelta(seconds=1)
    assert free.starts_at in remaining(day)
    clock.now = deadline
    assert remaining(day) == {}  # the kept answer ended there; no write was needed


def test_redis_away_answers_live_and_right(free: Any, committed_kyoto: Committed, settings: Any) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    assert remaining(day)[free.starts_at] == free.capacity  # kept in Redis
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",  # nobody listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    card = committed_kyoto(lambda: factories.issue_cards(1)[0])
    committed_kyoto(lambda: do_book(card, factories.place(), factories.card_issuance(), free.starts_at))
    assert remaining(day)[free.starts_at] == free.capacity - 1


def test_a_move_redis_missed_is_owed_and_paid(free: Any) -> None:
    with schema_context("kyoto"):
        before = availability_cache.generations()
        assert before is not None and before[0].room is not None
        availability_cache._owed.add((before[0].prefix, "kyoto", "room"))
        after = availability_cache.generations()
    assert after is not None and after[0].room == before[0].room + 1 and not availability_cache._owed


def test_tenants_never_share_answers(free: Any) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    with schema_context("kyoto"):
        place_id = factories.place().pk
    assert availability(day, day, place_id).status_code == 200
    # Mihon has no place with that id: its own (empty) tables answer, not Kyoto's cached slots
    response = availability(day, day, place_id, host=MIHON_HOST)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "location" in response.json()["fields"]


def test_unknown_service_is_refused(free: Any) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    with schema_context("kyoto"):
        place_id = factories.place().pk
    response = Client(HTTP_HOST=KYOTO_HOST).get(
        "/api/v1/availability/",
        {"location": str(place_id), "service": "no_such", "from": str(day), "to": str(day)},
    )
    assert response.status_code == 400 and "service" in response.json()["fields"]


def test_a_rolled_back_write_moves_nothing_and_an_uncommitted_one_reads_live(
    free: Any, committed_kyoto: Committed
) -> None:
    day = free.starts_at.astimezone(TOKYO).date()
    assert remaining(day)
    before = generations()

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            ClosedDay.objects.create(date=day, reason="rolled back")
            raise RuntimeError

    committed_kyoto(rolled_back)
    assert generations() == before
    assert remaining(day)
    # This test's own transaction is never committed: after its write, its reads skip the cache.
    with schema_context("kyoto"):
        ClosedDay.objects.create(date=day, reason="not committed")
    assert generations() == before
    assert remaining(day) == {}


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ('INSERT INTO "booking_booking" ("card_id") VALUES (%s)', "room"),
        ("update booking_slot set taken = taken + 1 where id = %s", "room"),
        ('DELETE FROM "kyoto"."booking_hold" WHERE expires_at <= %s', "room"),
        ('UPDATE "booking_bookingsettings" SET "hold_minutes" = 5', "config"),
        ("WITH gone AS (DELETE FROM booking_closedday RETURNING id) SELECT 1", "config"),
        ('INSERT INTO "booking_bookingevent" ("kind") VALUES (%s)', None),
        ('SELECT * FROM "booking_slot" WHERE id = %s FOR UPDATE', None),
        ('UPDATE "booking_card" SET "state" = %s', None),
    ],
)
def test_the_watched_writes(sql: str, kind: str | None) -> None:
    table = availability_cache.watched_table(sql)
    found = None if table is None else "room" if table in availability_cache._ROOM_TABLES else "config"
    assert found == kind


def test_every_connection_is_watched(tenants: Any, db: None) -> None:
    connection.ensure_connection()
    assert availability_cache.watch_writes in connection.execute_wrappers


def test_the_answer_is_what_free_slots_says(free: Any) -> None:
    from booking.citizen.api.serializers import SlotOut
    from booking.engine import queries

    today = timezone.localdate()
    answer = availability(today, today + dt.timedelta(days=30))
    with schema_context("kyoto"):
        place = Place.objects.get(code="center-3f")
        slots = queries.free_slots(place, factories.card_issuance(), today, today + dt.timedelta(days=30))
    assert answer.json() == [SlotOut.of(slot) for slot in slots]
    # byte for byte what DRF's renderer writes, as before the answers were written from kept pieces
    from rest_framework.renderers import JSONRenderer

    assert slots and answer.content == JSONRenderer().render([SlotOut.of(slot) for slot in slots])
    assert SlotOut.render([]) == JSONRenderer().render([])


def test_a_configuration_change_whose_move_was_lost_is_seen_within_the_ttl(
    free: Any, committed_kyoto: Committed, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT's answer lost in a failover drops Django's on-commit calls (or a move owed to Redis leaves
    with its process): the kept setup is read again after TTL_SECONDS all the same."""
    day = free.starts_at.astimezone(TOKYO).date()
    assert remaining(day)  # the setup is kept under the current configuration generation
    with monkeypatch.context() as lost:  # (monkeypatch.undo() would stop the clock fixture's patch too)
        lost.setattr(availability_cache, "bump", lambda schema, kind: None)
        committed_kyoto(lambda: ClosedDay.objects.create(date=day, reason="臨時休業"))
    clock.advance(seconds=availability_cache.TTL_SECONDS + 1)
    assert remaining(day) == {}


@pytest.mark.parametrize(
    ("params", "read_plainly"),
    [
        ({"location": "1", "service": "card_issuance"}, True),
        ({"location": "12", "service": "card_issuance", "from": "2027-01-05", "to": "2027-02-04"}, True),
        ({"location": "1", "service": "card_issuance", "to": "2027-01-05"}, True),
        ({"location": "0", "service": "card_issuance"}, False),
        ({"location": " 1", "service": "card_issuance"}, False),
        ({"location": "1", "service": "氏名"}, False),
        ({"location": "1", "service": "card_issuance", "from": "20270105"}, False),
        ({"location": "1", "service": "card_issuance", "from": "2027-02-05", "to": "2027-01-05"}, False),
        ({"location": "1", "service": "card_issuance", "from": "2027-01-01", "to": "2027-06-01"}, False),
        ({"location": "1"}, False),
    ],
)
def test_the_plain_query_reading_accepts_only_what_drf_accepts_alike(
    params: dict[str, str], read_plainly: bool
) -> None:
    """The fast reading of the usual query (serializers.plain_availability_query) reads the usual queries,
    never lets through what the DRF serializer refuses, and reads what it accepts to the same values."""
    from django.http import QueryDict

    from booking.citizen.api.serializers import AvailabilityQuery, plain_availability_query

    query = QueryDict(mutable=True)
    query.update(params)
    plain = plain_availability_query(query)
    assert (plain is not None) == read_plainly
    if plain is not None:
        checked = AvailabilityQuery(data=query)
        assert checked.is_valid(), checked.errors
        assert plain == {"from_": None, "to": None, **checked.validated_data}
