"""Idempotent booking writes (issue 11), below the views: one write per (scope, key), the first answer for a
repeat, refusals kept out, tokens that cannot be forged, a day's memory, and one tenant's key is not
another's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import signing
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.engine import idempotency
from booking.engine.idempotency import Answer, do_once
from booking.engine.services import BookingError
from booking.models import IdempotentRequest
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db


class Writes:
    """A write that counts how often it ran."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> Answer:
        self.count += 1
        return Answer(201, {"id": self.count})


def test_a_repeat_gets_the_first_answer_and_writes_nothing(kyoto: None) -> None:
    write = Writes()
    assert do_once("card:1", "k-1", "print", write) == (Answer(201, {"id": 1}), False)
    assert do_once("card:1", "k-1", "print", write) == (Answer(201, {"id": 1}), True)
    assert write.count == 1


def test_the_same_key_for_another_request_is_refused(kyoto: None) -> None:
    write = Writes()
    do_once("card:1", "k-1", "print", write)
    with pytest.raises(idempotency.KeyReused):
        do_once("card:1", "k-1", "another print", write)
    assert write.count == 1


def test_keys_are_scoped_per_client(kyoto: None) -> None:
    write = Writes()
    do_once("card:1", "k-1", "print", write)
    assert do_once("card:2", "k-1", "print", write) == (Answer(201, {"id": 2}), False)
    assert write.count == 2


def test_no_key_writes_every_time(kyoto: None) -> None:
    write = Writes()
    do_once("card:1", None, "print", write)
    do_once("card:1", None, "print", write)
    assert write.count == 2 and not IdempotentRequest.objects.exists()


def test_a_refused_write_keeps_nothing_and_may_be_retried(kyoto: None) -> None:
    def refused() -> Answer:
        raise BookingError("slot_full")

    with pytest.raises(BookingError):
        do_once("card:1", "k-1", "print", refused)
    assert not IdempotentRequest.objects.exists()
    assert do_once("card:1", "k-1", "print", Writes())[1] is False


def test_answers_are_forgotten_after_a_day(kyoto: None) -> None:
    do_once("card:1", "old", "print", Writes())
    do_once("card:1", "new", "print", Writes())
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert idempotency.do_purge_expired() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]


def test_the_same_key_on_another_tenant_is_another_request(tenants: Tenants, db: None) -> None:
    write = Writes()
    with schema_context("kyoto"):
        do_once("card:1", "k-1", "print", write)
    with schema_context("mihon"):
        assert do_once("card:1", "k-1", "print", write) == (Answer(201, {"id": 2}), False)
        assert do_once("card:1", "k-1", "print", write)[1] is True
    assert write.count == 2


@pytest.mark.parametrize(
    ("raw", "valid"),
    [("a", True), ("x" * 255, True), ("550e8400-e29b-41d4-a716-446655440000", True), ("", False),
     ("x" * 256, False), ("a b", False), ("キー", False), ("a\tb", False)],
)  # fmt: skip
def test_idempotency_keys_are_visible_ascii(raw: str, valid: bool) -> None:
    assert idempotency.valid_key(raw) is valid


def test_form_tokens_are_ours_for_their_form_and_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    token = idempotency.form_token("confirm")
    key = idempotency.form_key(token, "confirm")
    assert key is not None and key.startswith("confirm:")
    assert idempotency.form_token("confirm") != token  # one per rendered page
    assert idempotency.form_key(token, "cancel") is None  # another form's token
    assert idempotency.form_key(token[:-2] + "xx", "confirm") is None  # forged
    assert idempotency.form_key("", "confirm") is None
    assert idempotency.form_key(signing.dumps({"p": "confirm", "n": 1}), "confirm") is None  # other salt
    monkeypatch.setattr(idempotency, "KEEP", dt.timedelta(seconds=-1))  # a day later
    assert idempotency.form_key(token, "confirm") is None


def test_form_fingerprint_ignores_the_csrf_token_and_the_form_token() -> None:
    one = idempotency.form_fingerprint(
        "POST", "/confirm/", {"csrfmiddlewaretoken": ["a"], "form_token": ["t"]}
    )
    two = idempotency.form_fingerprint("POST", "/confirm/", {"csrfmiddlewaretoken": ["b"]})
    assert one == two
    assert one != idempotency.form_fingerprint("POST", "/cancel/", {})
    assert idempotency.form_fingerprint("POST", "/v/", {"a": ["1"]}) != idempotency.form_fingerprint(
        "POST", "/v/", {"a": ["2"]}
    )


def test_json_bodies_are_compared_by_value() -> None:
    assert idempotency.fingerprint("POST", "/b/", b'{"a": 1, "b": 2}') == idempotency.fingerprint(
        "post", "/b/", b'{"b":2,"a":1}'
    )
    assert idempotency.fingerprint("POST", "/b/", b'{"a": 1}') != idempotency.fingerprint(
        "PATCH", "/b/", b'{"a": 1}'
    )


def test_a_duplicate_waits_for_the_first_and_replays_it(
    committed_kyoto: Callable[[Callable[[], Any]], Any],
) -> None:
    """Two requests with one key at once: the second's insert waits on the first's uncommitted row, then
    replays the committed answer; the write runs once."""
    import threading

    from tests.concurrency import race

    def scenario() -> None:
        ran: list[int] = []
        lock = threading.Lock()

        def slow_write() -> Answer:
            with lock:
                ran.append(1)
            threading.Event().wait(0.3)  # still in flight when the other arrives
            return Answer(201, {"id": 7})

        answers: list[tuple[Answer, bool]] = []
        outcome = race([lambda: answers.append(do_once("card:9", "same", "print", slow_write))] * 4)
        assert outcome["ok"] == 4 and len(ran) == 1
        assert sorted(replayed for _, replayed in answers) == [False, True, True, True]
        assert all(answer == Answer(201, {"id": 7}) for answer, _ in answers)
        IdempotentRequest.objects.all().delete()

    committed_kyoto(scenario)


def test_a_duplicate_that_waits_too_long_is_told_to_retry(
    committed_kyoto: Callable[[Callable[[], Any]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from tests.concurrency import race

    monkeypatch.setattr(idempotency, "WAIT", "200ms")
    release = threading.Event()

    def scenario() -> None:
        results: list[str] = []

        def first() -> None:
            def write() -> Answer:
                release.wait(3)
                return Answer(204)

            do_once("card:9", "busy", "print", write)
            results.append("first")

        def second() -> None:
            threading.Event().wait(0.1)
            try:
                do_once("card:9", "busy", "print", lambda: Answer(204))
            except idempotency.KeyInProgress:
                results.append("in progress")
            release.set()

        race([first, second])
        assert sorted(results) == ["first", "in progress"]
        IdempotentRequest.objects.all().delete()

    committed_kyoto(scenario)
