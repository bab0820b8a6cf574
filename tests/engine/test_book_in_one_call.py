"""A resident's keyed booking made in one database call (issue 12: booking.engine.one_call, migration 0023)
writes what the usual path (`idempotent()` + `services.do_book`) writes, column by column, refuses what it
refuses with the same answer, leaves to it what it cannot judge, and keeps capacity under a race.

Every scenario runs through `committed_kyoto`, on a connection that commits as gunicorn's would: the one-call
path is taken only when the availability cache keeps the place's setup, which a test's own uncommitted
writes would turn off."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.access import bearer
from booking.citizen.api import views
from booking.citizen.login import do_create_citizen_token
from booking.engine import availability_cache, idempotency, one_call, services
from booking.lib.dates import TOKYO
from booking.models import Booking, Card, CitizenToken, IdempotentRequest, Slot
from booking.provisioning import probe_card
from booking.rules.card_states import CardState
from tests import factories
from tests.concurrency import race
from tests.conftest import KYOTO_HOST
from tests.lost_connections import cut_once, die, second_connection

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

Committed = Callable[[Callable[[], Any]], Any]
BOOKING = "/api/v1/citizen/booking/"
SERVICE = "card_issuance"
THE_CALL = "booking_book_in_one_call"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?|Z)?")
# Headers that differ between any two answers (or say nothing of the path that made them).
_VOLATILE_HEADERS = {"date", "content-length"}


# --- helpers -------------------------------------------------------------------------------------------


def body_for(start: dt.datetime) -> dict[str, Any]:
    return {"location": factories.place().pk, "service": SERVICE, "start": start.isoformat()}


def post(token: str, body: Any, key: str | None = None) -> Any:
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return Client(HTTP_HOST=KYOTO_HOST).post(
        BOOKING, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **extra
    )


def token_of(card: Card) -> str:
    return do_create_citizen_token(card)[0]


@contextmanager
def usual_path_only() -> Iterator[None]:
    """The same request answered by DRF's path (`idempotent()` + `services.do_book`), as before issue 12."""
    with mock.patch.object(
        views.CitizenBookingView, "booking_in_one_call", staticmethod(lambda request: None)
    ):
        yield


@contextmanager
def queries() -> Iterator[CaptureQueriesContext]:
    with CaptureQueriesContext(connection) as captured:
        yield captured


def calls_of_the_function(captured: CaptureQueriesContext) -> int:
    return sum(THE_CALL in query["sql"] for query in captured.captured_queries)


def python_booking_inserts(captured: CaptureQueriesContext) -> int:
    return sum(
        re.search(r'insert\s+into\s+"?booking_booking"?\s', query["sql"], re.IGNORECASE) is not None
        for query in captured.captured_queries
    )


def rows(table: str, where: str, *params: Any) -> list[dict[str, Any]]:
    """Every column of the rows, as PostgreSQL has them (a column added later is compared too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t) FROM {table} t WHERE {where} ORDER BY t.id",  # noqa: S608 (test's own SQL)
            params,
        )
        return [found for (found,) in cursor.fetchall()]


def row(table: str, pk: int) -> dict[str, Any]:
    (found,) = rows(table, "t.id = %s", pk)
    return found


def comparable(values: dict[str, Any], *, keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Ids and foreign ids reduced to whether they are set, timestamps to whether they are set."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in keep:
            out[name] = value
        elif name == "id" or name.endswith("_id"):
            out[name] = "<id>" if value is not None else None
        elif isinstance(value, str) and _TIMESTAMP.fullmatch(value):
            out[name] = "<time>"
        else:
            out[name] = value
    return out


def table_counts() -> dict[str, int]:
    """Rows in every table of the tenant's schema: what a booking adds anywhere, outbox and log included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        tables = [name for (name,) in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (names read from the catalog)
            counts[table] = cursor.fetchone()[0]
    return counts


def added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in after if after[table] != before[table]}


def headers_of(response: Any) -> dict[str, str]:
    return {
        name.lower(): value
        for name, value in response.headers.items()
        if name.lower() not in _VOLATILE_HEADERS
    }


def refusal(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def keyed_rows(card: Card) -> list[IdempotentRequest]:
    return list(IdempotentRequest.objects.filter(scope=f"card:{card.pk}"))


def forget_keys() -> None:
    IdempotentRequest.objects.all().delete()  # committed_kyoto's clean-up does not know the keys' table


# --- 1. parity, row by row -----------------------------------------------------------------------------


def test_one_call_writes_and_answers_what_the_usual_path_does(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            first, second = factories.next_free_slot_list(2)
            fast_card, usual_card = factories.issue_cards(2)
            fast_token, usual_token = token_of(fast_card), token_of(usual_card)
            assert availability_cache.kept_setup(factories.place().pk, SERVICE) is not None
            fast_body, usual_body = body_for(first.starts_at), body_for(second.starts_at)
            cards_before = {card.pk: row("booking_card", card.pk) for card in (fast_card, usual_card)}

            counts = table_counts()
            with queries() as fast_queries:
                fast = post(fast_token, fast_body, key="parity-fast")
            fast_added = added(counts, table_counts())
            counts = table_counts()
            with usual_path_only(), queries() as usual_queries:
                usual = post(usual_token, usual_body, key="parity-usual")
            usual_added = added(counts, table_counts())

            assert fast.status_code == usual.status_code == 201, (fast.content, usual.content)
            # the one-call path was taken: one call, no booking written from Python; the usual one the reverse
            assert calls_of_the_function(fast_queries) == 1 and python_booking_inserts(fast_queries) == 0
            assert calls_of_the_function(usual_queries) == 0 and python_booking_inserts(usual_queries) == 1
            assert fast_added == usual_added and fast_added["booking_booking"] == 1, (fast_added, usual_added)

            # the HTTP answers: headers, key order, bytes (id and times aside)
            assert headers_of(fast) == headers_of(usual)
            fast_answer, usual_answer = fast.json(), usual.json()
            assert (
                list(fast_answer)
                == list(usual_answer)
                == ["id", "location", "service", "start", "end", "status"]
            )
            assert (
                moment(fast_answer["start"]) == first.starts_at
                and moment(fast_answer["end"]) == first.ends_at
            )

            def neutral(response: Any) -> bytes:
                answer = response.json()
                content = response.content.replace(f'"id":{answer["id"]},'.encode(), b'"id":0,')
                for field in ("start", "end"):
                    content = content.replace(answer[field].encode(), field.upper().encode())
                return content

            assert neutral(fast) == neutral(usual)

            fast_id, usual_id = fast_answer["id"], usual_answer["id"]
            for path_id, card in ((fast_id, fast_card), (usual_id, usual_card)):
                booking = row("booking_booking", path_id)
                assert booking["card_id"] == card.pk
            assert comparable(row("booking_booking", fast_id)) == comparable(row("booking_booking", usual_id))

            fast_slot = Booking.objects.get(pk=fast_id).slot_id
            usual_slot = Booking.objects.get(pk=usual_id).slot_id
            assert comparable(row("booking_slot", fast_slot), keep=frozenset({"place_id", "service_id"})) == (
                comparable(row("booking_slot", usual_slot), keep=frozenset({"place_id", "service_id"}))
            )

            fast_events = rows("booking_bookingevent", "t.booking_id = %s", fast_id)
            usual_events = rows("booking_bookingevent", "t.booking_id = %s", usual_id)
            assert [comparable(e) for e in fast_events] == [comparable(e) for e in usual_events]
            assert [e["to_slot_id"] for e in fast_events] == [fast_slot]

            # the card: the same columns changed to the same values; its move at the booking's time
            for card, events in ((fast_card, fast_events), (usual_card, usual_events)):
                after = row("booking_card", card.pk)
                changed = {k: v for k, v in after.items() if v != cards_before[card.pk][k]}
                assert set(changed) == {"state", "state_changed_at"}, changed
                assert changed["state"] == CardState.BOOKED and after["at_place_id"] is None
                assert moment(changed["state_changed_at"]) == moment(events[0]["at"])
            fast_card_events = rows("booking_cardevent", "t.card_id = %s", fast_card.pk)
            usual_card_events = rows("booking_cardevent", "t.card_id = %s", usual_card.pk)
            assert [comparable(e) for e in fast_card_events] == [comparable(e) for e in usual_card_events]
            assert moment(fast_card_events[-1]["at"]) == moment(fast_events[0]["at"])

            # the key's row: the answer sent, under the request's fingerprint
            for card, key, body, answer in (
                (fast_card, "parity-fast", fast_body, fast_answer),
                (usual_card, "parity-usual", usual_body, usual_answer),
            ):
                (kept,) = rows(
                    "booking_idempotentrequest", "t.scope = %s AND t.key = %s", f"card:{card.pk}", key
                )
                assert kept["fingerprint"] == idempotency.fingerprint(
                    "POST", BOOKING, json.dumps(body).encode()
                )
                assert (kept["status_code"], kept["body"], kept["redirect_to"]) == (201, answer, "")
            fast_kept = rows("booking_idempotentrequest", "t.key = %s", "parity-fast")[0]
            usual_kept = rows("booking_idempotentrequest", "t.key = %s", "parity-usual")[0]
            different = {"key", "fingerprint", "scope", "body"}
            assert comparable({k: v for k, v in fast_kept.items() if k not in different}) == comparable(
                {k: v for k, v in usual_kept.items() if k not in different}
            )
        finally:
            forget_keys()

    committed_kyoto(scenario)


# --- 2. refusals -----------------------------------------------------------------------------------------


def refused_alike(card: Card, start: dt.datetime, expected: tuple[int, str]) -> None:
    """The one-call path and the usual path answer this card's booking alike, and nothing is written."""
    token = token_of(card)
    body = body_for(start)
    card_before = row("booking_card", card.pk)
    counts = table_counts()
    with queries() as fast_queries:
        fast = post(token, body, key="refused-fast")
    assert calls_of_the_function(fast_queries) == 1  # refused by the function itself
    assert python_booking_inserts(fast_queries) == 0
    assert added(counts, table_counts()) == {}
    assert row("booking_card", card.pk) == card_before and keyed_rows(card) == []
    with usual_path_only():
        usual = post(token, body, key="refused-usual")
    assert refusal(fast) == refusal(usual)
    assert refusal(fast)[:2] == expected
    assert headers_of(fast) == headers_of(usual)
    assert added(counts, table_counts()) == {}
    assert row("booking_card", card.pk) == card_before and keyed_rows(card) == []


def test_a_full_slot_is_refused_alike(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            free = factories.next_free_slot()
            place, service = factories.place(), factories.card_issuance()
            for other in factories.issue_cards(free.capacity):
                services.do_book(other, place, service, free.starts_at)
            refused_alike(factories.issue_card().card, free.starts_at, (409, "slot_full"))
            assert Slot.objects.get(place=place, starts_at=free.starts_at).taken == free.capacity
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_a_card_already_booked_is_refused_alike(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            first, second = factories.next_free_slot_list(2)
            card = factories.issue_card().card
            services.do_book(card, factories.place(), factories.card_issuance(), first.starts_at)
            refused_alike(card, second.starts_at, (409, "already_booked"))
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_a_card_not_bookable_is_refused_alike(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            card = factories.issue_card(state=CardState.SET_UP).card
            refused_alike(card, factories.next_free_slot().starts_at, (409, "card_not_bookable"))
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_the_probe_card_is_refused_alike(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        had_one = Card.with_probe.filter(probe=True).exists()
        try:
            number, _password = probe_card()
            card = Card.with_probe.get(reservation_number=number)
            refused_alike(card, factories.next_free_slot().starts_at, (400, "probe_card"))
        finally:
            forget_keys()
            if not had_one:
                Card.with_probe.filter(probe=True).delete()

    committed_kyoto(scenario)


# --- 3. what the usual path answers ------------------------------------------------------------------------


def test_patterns_changed_since_the_setup_was_kept_are_left_to_the_usual_path(
    committed_kyoto: Committed,
) -> None:
    def scenario() -> None:
        free = factories.next_free_slot()
        place, service = factories.place(), factories.card_issuance()
        card = factories.issue_card().card
        token = token_of(card)
        kept = availability_cache.kept_setup(place.pk, SERVICE)
        assert kept is not None and kept.patterns_print is not None
        where = "place_id = %s AND service_id = %s"
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE kyoto.booking_openingpattern SET capacity = capacity + 1 WHERE {where}",  # noqa: S608
                [place.pk, service.pk],
            )
        try:
            with queries() as captured:
                response = post(token, body_for(free.starts_at), key="patterns-moved")
            assert response.status_code == 201, response.content
            # the function was asked and said "fallback"; the usual path booked, with the patterns as they are
            assert calls_of_the_function(captured) == 1 and python_booking_inserts(captured) == 1
            slot = Slot.objects.get(place=place, starts_at=free.starts_at)
            assert slot.capacity == free.capacity + 1 and slot.taken == 1
            assert Booking.objects.get(pk=response.json()["id"]).card_id == card.pk
            (kept_answer,) = keyed_rows(card)
            assert (kept_answer.status_code, kept_answer.body) == (201, response.json())
        finally:
            with connection.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE kyoto.booking_openingpattern SET capacity = capacity - 1 WHERE {where}",  # noqa: S608
                    [place.pk, service.pk],
                )
            forget_keys()

    committed_kyoto(scenario)


def test_a_day_closed_since_the_setup_was_kept_is_left_to_the_usual_path(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        free = factories.next_free_slot()
        place = factories.place()
        card = factories.issue_card().card
        token = token_of(card)
        assert availability_cache.kept_setup(place.pk, SERVICE) is not None
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO kyoto.booking_closedday (date, place_id, reason) VALUES (%s, %s, 'test')",
                [free.starts_at.astimezone(TOKYO).date(), place.pk],
            )
        try:
            card_before = row("booking_card", card.pk)
            with queries() as captured:
                fast = post(token, body_for(free.starts_at), key="closed-fast")
            assert calls_of_the_function(captured) == 1
            with usual_path_only():
                usual = post(token, body_for(free.starts_at), key="closed-usual")
            assert refusal(fast) == refusal(usual) and refusal(fast)[:2] == (400, "invalid")
            assert keyed_rows(card) == [] and not Booking.objects.filter(card=card).exists()
            assert row("booking_card", card.pk) == card_before
            assert not Slot.objects.filter(place=place, starts_at=free.starts_at).exists()
        finally:
            with connection.connection.cursor() as cursor:
                cursor.execute("DELETE FROM kyoto.booking_closedday WHERE reason = 'test'")
            forget_keys()

    committed_kyoto(scenario)


def test_an_unknown_or_expired_token_gets_the_401_it_got_before(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        start = factories.next_free_slot().starts_at
        card = factories.issue_card().card
        expired = token_of(card)
        CitizenToken.objects.filter(card=card).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        for token in ("no-such-token", expired):
            with queries() as captured:
                keyed = post(token, body_for(start), key="who-1")
            assert calls_of_the_function(captured) == 1  # the function's lookup found no card
            plain = post(token, body_for(start))  # no key: DRF's path only
            assert keyed.status_code == plain.status_code == 401
            assert keyed.json() == plain.json() and keyed.json()["code"] == "not_authenticated"
            assert headers_of(keyed) == headers_of(plain)
        # this card's rows only: another test's committed rows are not this test's to judge
        assert not Booking.objects.filter(card=card).exists() and not keyed_rows(card)
        assert not IdempotentRequest.objects.filter(key="who-1").exists()

    committed_kyoto(scenario)


@pytest.mark.parametrize(
    ("accept", "plain"),
    [
        ("", True),
        ("*/*", True),
        ("application/json", True),
        ("application/json, */*", True),
        ("text/html", False),
        ("application/json; indent=4", False),  # DRF indents its answer
        ("text/html, application/json", False),
    ],
)
def test_only_what_drf_answers_with_plain_json_is_answered_outside_it(accept: str, plain: bool) -> None:
    assert views.answers_json(accept) is plain


def test_a_request_drf_answers_otherwise_takes_the_usual_path(committed_kyoto: Committed) -> None:
    """An Accept DRF refuses (406) and a body DRF's parser refuses (a UTF-8 BOM: 400) are answered as before,
    never booked by the one-call path: a repeat of the key must get the first answer."""

    def scenario() -> None:
        try:
            start = factories.next_free_slot().starts_at
            card = factories.issue_card().card
            auth = f"Bearer {token_of(card)}"
            client = Client(HTTP_HOST=KYOTO_HOST)
            with queries() as captured:
                html = client.post(
                    BOOKING,
                    body_for(start),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=auth,
                    HTTP_IDEMPOTENCY_KEY="negotiated-1",
                    HTTP_ACCEPT="text/html",
                )
                bom = client.post(
                    BOOKING,
                    b"\xef\xbb\xbf" + json.dumps(body_for(start)).encode(),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=auth,
                    HTTP_IDEMPOTENCY_KEY="negotiated-2",
                )
            assert calls_of_the_function(captured) == 0
            assert html.status_code == 406
            assert bom.status_code == 400 and bom.json()["code"] == "invalid"
            assert not Booking.objects.filter(card=card).exists() and not keyed_rows(card)
        finally:
            forget_keys()

    committed_kyoto(scenario)


def call_directly(card: Card, start: dt.datetime, key: str) -> dict[str, Any] | None:
    place = factories.place()
    setup = availability_cache.kept_setup(place.pk, SERVICE)
    assert setup is not None
    return one_call.do_book_in_one_call(
        token_digest=bearer.digest(token_of(card)),
        key=key,
        fingerprint="print",
        setup=setup,
        starts_at=start,
        language="ja",
        answer_of=lambda slot: {"location": place.pk},
    )


@contextmanager
def held_elsewhere(statement: str, params: list[Any]) -> Iterator[None]:
    """`statement` run in a transaction of a second connection, kept open (its locks held) meanwhile."""
    with second_connection() as other:
        other.execute(statement, params)
        try:
            yield
        finally:
            other.rollback()


@contextmanager
def short_lock_waits() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_a_lock_wait_is_key_in_progress_only_when_it_was_the_keys(committed_kyoto: Committed) -> None:
    """Another request holding the key's row (uncommitted) is "in progress"; a card row locked elsewhere past
    lock_timeout is an error, as on the usual path, not a claim about the key."""

    def scenario() -> None:
        try:
            start = factories.next_free_slot().starts_at
            card = factories.issue_card().card
            with short_lock_waits():
                with (
                    held_elsewhere(
                        "INSERT INTO kyoto.booking_idempotentrequest"
                        " (scope, key, fingerprint, status_code, body, redirect_to, created_at)"
                        " VALUES (%s, 'held-1', 'print', 0, NULL, '', now())",
                        [f"card:{card.pk}"],
                    ),
                    pytest.raises(idempotency.KeyInProgress),
                ):
                    call_directly(card, start, "held-1")
                with held_elsewhere("SELECT 1 FROM kyoto.booking_card WHERE id = %s FOR UPDATE", [card.pk]):
                    with pytest.raises(OperationalError) as raised:
                        call_directly(card, start, "held-2")
                    assert not isinstance(raised.value, idempotency.KeyInProgress)
                    assert idempotency.is_lock_wait_over(raised.value)
            assert not Booking.objects.filter(card=card).exists() and not keyed_rows(card)
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_a_call_lost_with_its_connection_is_answered_by_the_key(committed_kyoto: Committed) -> None:
    """The connection lost before the call ran (nothing in) or after it committed (only the answer lost):
    either way the usual path, on a new connection, answers right (a booking, or the kept one), once."""

    def lose_after(cut: list[str]) -> Any:
        def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            result = execute(sql, params, many, context)
            if not cut and THE_CALL in sql:
                cut.append(sql)
                die()  # carried out (a statement of its own: committed), its answer lost
            return result

        return wrapper

    def scenario() -> None:
        try:
            for number, lose in enumerate(
                [lambda cut: cut_once(cut, lambda sql: THE_CALL in sql), lose_after], start=1
            ):
                start = factories.next_free_slot().starts_at
                card = factories.issue_card().card
                token = token_of(card)
                at_place = Slot.objects.filter(starts_at=start, place=factories.place())
                taken_before = sum(at_place.values_list("taken", flat=True))
                cut: list[str] = []
                with connection.execute_wrapper(lose(cut)):
                    response = post(token, body_for(start), key=f"lost-{number}")
                assert cut, "the call was not cut"
                assert response.status_code == 201, response.content
                (booking,) = Booking.objects.filter(card=card)
                assert response.json()["id"] == booking.pk
                assert Slot.objects.get(pk=booking.slot_id).taken == taken_before + 1  # counted once
                (kept,) = keyed_rows(card)
                assert kept.status_code == 201 and kept.body == response.json()
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_a_replay_gets_the_first_answer_and_another_body_is_refused(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            first, second = factories.next_free_slot_list(2)
            card = factories.issue_card().card
            token = token_of(card)
            made = post(token, body_for(first.starts_at), key="replay-1")
            assert made.status_code == 201 and "Idempotent-Replayed" not in made
            with queries() as captured:
                again = post(token, body_for(first.starts_at), key="replay-1")
            assert (
                calls_of_the_function(captured) == 1
            )  # the function found the key's row: the usual path replays
            assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
            assert again.json() == made.json()
            reused = post(token, body_for(second.starts_at), key="replay-1")
            assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
            assert list(Booking.objects.filter(card=card).values_list("pk", flat=True)) == [made.json()["id"]]
            assert Slot.objects.get(starts_at=first.starts_at).taken == 1
            assert not Slot.objects.filter(starts_at=second.starts_at, taken__gt=0).exists()
        finally:
            forget_keys()

    committed_kyoto(scenario)


# --- 4. concurrency ---------------------------------------------------------------------------------------


@contextmanager
def function_outcomes() -> Iterator[list[str]]:
    """What each do_book_in_one_call answered: "booked", "usual" (None) or the refusal's code."""
    seen: list[str] = []
    lock = threading.Lock()
    original = one_call.do_book_in_one_call

    def spy(**kwargs: Any) -> Any:
        try:
            answer = original(**kwargs)
        except services.BookingError as error:
            with lock:
                seen.append(error.code)
            raise
        with lock:
            seen.append("usual" if answer is None else "booked")
        return answer

    with mock.patch.object(one_call, "do_book_in_one_call", spy):
        yield seen


def posting(token: str, body: dict[str, Any], key: str, answers: list[tuple[int, str]]) -> Callable[[], None]:
    lock = threading.Lock()

    def attempt() -> None:
        response = post(token, body, key=key)
        outcome = "ok" if response.status_code == 201 else response.json()["code"]
        with lock:
            answers.append((response.status_code, outcome))

    return attempt


def test_six_residents_racing_for_two_places_book_two(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            free = next(s for s in factories.next_free_slot_list(10) if s.capacity >= 2)
            place, service = factories.place(), factories.card_issuance()
            for other in factories.issue_cards(free.capacity - 2):
                services.do_book(other, place, service, free.starts_at)
            tokens = [token_of(card) for card in factories.issue_cards(6)]
            assert availability_cache.kept_setup(place.pk, SERVICE) is not None
            answers: list[tuple[int, str]] = []
            body = body_for(free.starts_at)
            with function_outcomes() as outcomes:
                race([posting(token, body, f"race-{n}", answers) for n, token in enumerate(tokens)])
            assert sorted(answers) == [(201, "ok")] * 2 + [(409, "slot_full")] * 4
            assert sorted(outcomes) == ["booked"] * 2 + ["slot_full"] * 4  # each answered by the function
            slot = Slot.objects.get(place=place, starts_at=free.starts_at)
            assert slot.taken == slot.capacity == free.capacity
            assert Booking.objects.filter(slot=slot, status="confirmed").count() == free.capacity
            assert IdempotentRequest.objects.filter(key__startswith="race-").count() == 2
        finally:
            forget_keys()

    committed_kyoto(scenario)


def test_one_card_racing_for_two_slots_books_one(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            first, second = factories.next_free_slot_list(2)
            card = factories.issue_card().card
            token = token_of(card)
            assert availability_cache.kept_setup(factories.place().pk, SERVICE) is not None
            answers: list[tuple[int, str]] = []
            with function_outcomes() as outcomes:
                race(
                    [
                        posting(token, body_for(first.starts_at), "two-a", answers),
                        posting(token, body_for(second.starts_at), "two-b", answers),
                    ]
                )
            assert sorted(answers) == [(201, "ok"), (409, "already_booked")]
            assert sorted(outcomes) == ["already_booked", "booked"]
            assert Booking.objects.filter(card=card, status="confirmed").count() == 1
            assert sum(Slot.objects.values_list("taken", flat=True)) == 1
            assert len(keyed_rows(card)) == 1
        finally:
            forget_keys()

    committed_kyoto(scenario)


# --- 5. what residents see next ---------------------------------------------------------------------------


def test_the_availability_answer_shows_the_place_taken_at_once(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        try:
            free = factories.next_free_slot()
            place = factories.place()
            day = free.starts_at.astimezone(TOKYO).date()
            query: dict[str, Any] = {
                "location": place.pk,
                "service": SERVICE,
                "from": day.isoformat(),
                "to": day.isoformat(),
            }
            client = Client(HTTP_HOST=KYOTO_HOST)

            def remaining() -> int:
                answer = client.get("/api/v1/availability/", query)
                assert answer.status_code == 200
                starts = {moment(s["start"]): s["remaining"] for s in answer.json()}
                return starts.get(free.starts_at, 0)

            assert remaining() == remaining() == free.remaining  # the second from the cache
            room_before = availability_cache.generations()
            assert room_before is not None
            with queries() as captured:
                made = post(token_of(factories.issue_card().card), body_for(free.starts_at), key="seen-1")
            assert made.status_code == 201 and calls_of_the_function(captured) == 1
            room_after = availability_cache.generations()
            assert room_after is not None and room_after[0].room != room_before[0].room
            assert remaining() == free.remaining - 1
        finally:
            forget_keys()

    committed_kyoto(scenario)
