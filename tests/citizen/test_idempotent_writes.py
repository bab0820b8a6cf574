"""Issue 11: a repeated booking write never books twice and gets the original answer — the citizen API with
an Idempotency-Key, the web's confirm and cancel pages with their one-time form token."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from booking.citizen.login import do_create_citizen_token
from booking.engine.services import IssuedCard
from booking.models import Booking, IdempotentRequest
from tests import factories
from tests.citizen.test_citizen_api import Api
from tests.citizen.test_citizen_site import log_in, walk_to_hold
from tests.concurrency import race
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db

BOOKING = "/api/v1/citizen/booking/"


def body_for(start: Any) -> dict[str, Any]:
    return {"location": factories.place().pk, "service": "card_issuance", "start": start.isoformat()}


def send(api: Api, method: str, key: str | None, body: Any = None) -> Any:
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return getattr(api.client, method)(
        BOOKING, body, content_type="application/json", **api.headers(), **extra
    )


@pytest.fixture
def api(kyoto: None) -> Api:
    client = Api(KYOTO_HOST)
    assert client.login(factories.issue_card()).status_code == 201
    return client


# --- the API -------------------------------------------------------------------------------------------


def test_a_repeated_post_books_once_and_replays_the_answer(api: Api) -> None:
    body = body_for(factories.next_free_slot().starts_at)
    first = send(api, "post", "book-1", body)
    again = send(api, "post", "book-1", body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Booking.objects.filter(status="confirmed").count() == 1


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    first, second = factories.next_free_slot_list(2)
    send(api, "post", "book-1", body_for(first.starts_at))
    reused = send(api, "post", "book-1", body_for(second.starts_at))
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert Booking.objects.get(status="confirmed").slot.starts_at == first.starts_at


def test_a_retried_cancel_gets_its_204_not_a_false_no_booking(api: Api) -> None:
    send(
        api, "post", "book-1", body_for(factories.next_free_slot(after_days=7).starts_at)
    )  # before the deadline
    assert send(api, "delete", "cancel-1").status_code == 204
    retry = send(api, "delete", "cancel-1")
    assert retry.status_code == 204 and retry["Idempotent-Replayed"] == "true"
    assert send(api, "delete", None).json()["code"] == "no_booking"  # without a key: as before


def test_a_retried_change_replays_the_move(api: Api) -> None:
    first, second = factories.next_free_slot_list(2)
    send(api, "post", "book-1", body_for(first.starts_at))
    change = {"location": factories.place().pk, "start": second.starts_at.isoformat()}
    moved = send(api, "patch", "move-1", change)
    again = send(api, "patch", "move-1", change)
    assert moved.status_code == again.status_code == 200 and again.json() == moved.json()
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "キー", "a b"])
def test_a_malformed_key_is_refused_and_writes_nothing(api: Api, key: str) -> None:
    refused = send(api, "post", key, body_for(factories.next_free_slot().starts_at))
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_idempotency_key"
    assert not Booking.objects.exists()


def test_a_refused_request_is_not_kept_and_its_retry_is_tried_again(api: Api) -> None:
    start = factories.next_free_slot().starts_at
    bad = send(api, "post", "book-1", {**body_for(start), "service": "nonsense"})
    assert bad.status_code == 400 and not IdempotentRequest.objects.exists()
    assert send(api, "post", "book-1", body_for(start)).status_code == 201


def test_one_residents_key_never_replays_anothers_answer(api: Api) -> None:
    body = body_for(factories.next_free_slot().starts_at)
    mine = send(api, "post", "shared-key", body)
    other = Api(KYOTO_HOST)
    other.login(factories.issue_card())
    theirs = send(other, "post", "shared-key", body)
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert theirs.json()["id"] != mine.json()["id"]
    assert Booking.objects.filter(status="confirmed").count() == 2


def test_concurrent_requests_with_one_key_make_one_booking(
    committed_kyoto: Callable[[Callable[[], Any]], Any],
) -> None:
    def scenario() -> None:
        card = factories.issue_card().card
        token, _expires = do_create_citizen_token(card)
        body = body_for(factories.next_free_slot().starts_at)
        responses: list[Any] = []
        lock = threading.Lock()

        def post() -> None:
            response = Client(HTTP_HOST=KYOTO_HOST).post(
                BOOKING,
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                HTTP_IDEMPOTENCY_KEY="race-1",
            )
            with lock:
                responses.append(response)

        race([post] * 6)
        assert [r.status_code for r in responses] == [201] * 6
        assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 5
        assert len({r.json()["id"] for r in responses}) == 1
        assert Booking.objects.filter(card=card).count() == 1
        IdempotentRequest.objects.all().delete()

    committed_kyoto(scenario)


# --- the web ------------------------------------------------------------------------------------------


def form_token(page: Any) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())
    assert found, "the form carries its one-time token"
    return found.group(1)


@pytest.fixture
def browser(kyoto: None) -> tuple[Client, IssuedCard]:
    client, issued = Client(HTTP_HOST=KYOTO_HOST), factories.issue_card()
    log_in(client, issued)
    return client, issued


def test_a_double_submitted_confirm_books_once_and_shows_done_both_times(
    browser: tuple[Client, IssuedCard],
) -> None:
    client, issued = browser
    walk_to_hold(client, factories.next_free_slot().starts_at)
    client.post("/details/", {"phone": "075-222-3111", "email": ""})
    token = form_token(client.get("/confirm/"))
    first = client.post("/confirm/", {"form_token": token})
    second = client.post("/confirm/", {"form_token": token})  # double click, Back + resubmit, lost answer
    assert first["Location"] == second["Location"] == "/done/"
    assert Booking.objects.filter(card=issued.card).count() == 1
    done = client.get("/done/").content.decode()
    assert "予約が完了しました" in done and "期限が切れました" not in done


def test_without_a_token_the_second_confirm_is_refused_as_before(browser: tuple[Client, IssuedCard]) -> None:
    client, issued = browser
    walk_to_hold(client, factories.next_free_slot().starts_at)
    client.post("/details/", {"phone": "", "email": ""})
    assert client.post("/confirm/")["Location"] == "/done/"
    assert client.post("/confirm/", {"form_token": "forged"})["Location"] == "/book/"
    assert Booking.objects.filter(card=issued.card).count() == 1


def test_a_double_submitted_cancel_shows_the_cancellation_both_times(
    browser: tuple[Client, IssuedCard],
) -> None:
    client, issued = browser
    walk_to_hold(client, factories.next_free_slot(after_days=7).starts_at)
    client.post("/details/", {"phone": "", "email": ""})
    client.post("/confirm/")
    token = form_token(client.get("/cancel/"))
    for _ in range(2):
        assert client.post("/cancel/", {"form_token": token})["Location"] == "/done/"
        assert "予約を取り消しました" in client.get("/done/").content.decode()
    assert Booking.objects.get(card=issued.card).status == "cancelled"
