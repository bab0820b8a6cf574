"""The line in real Redis (console.waiting_room.redis_line): admission in arrival order whoever asks most
often, a place kept across refreshes and absences, limits per resident inside and per minute, keys per
municipality."""

from __future__ import annotations

import random

from console.waiting_room.redis_line import (
    ABANDON_SECONDS,
    CLAIM_SECONDS,
    KEEP_KEYS_SECONDS,
    Limits,
    estimate_wait,
    read_pass,
    read_ticket,
    sign_pass,
    sign_ticket,
)
from tests.waiting_room.conftest import line

T0 = 1_800_000_000.0


def test_newcomers_enter_while_there_is_room_then_wait_in_arrival_order() -> None:
    kyoto, limits = line(), Limits(active=2, per_minute=100, idle_minutes=15)
    first, second = kyoto.enter(T0, limits), kyoto.enter(T0 + 1, limits)
    assert first.admitted and second.admitted and first.pass_id != second.pass_id
    waiting = [kyoto.enter(T0 + 2 + i, limits) for i in range(3)]
    assert [d.admitted for d in waiting] == [False, False, False]
    assert [d.position for d in waiting] == [1, 2, 3]
    assert [d.queue_length for d in waiting] == [1, 2, 3]
    # a live pass goes on, and keeps its place inside
    assert kyoto.enter(T0 + 10, limits, pass_id=first.pass_id).admitted


def test_admission_follows_arrival_even_when_later_arrivals_refresh_faster() -> None:
    """50 residents wait; the later ones refresh far more often. Room frees one place at a time: the order of
    admission is exactly the order of arrival (rank correlation 1)."""
    kyoto, limits = line(), Limits(active=1, per_minute=1000, idle_minutes=1)
    assert kyoto.enter(T0, limits).admitted  # the room is full
    tickets = [kyoto.enter(T0 + 0.01 * i, limits).ticket for i in range(50)]
    assert all(tickets)
    rng = random.Random(12)
    admitted: list[int] = []
    now = T0
    while len(admitted) < 50:
        now += 61  # the one inside goes idle: one place frees
        # everyone still waiting asks again; later arrivals ask up to 10 times, in a random order
        asks = [i for i in range(50) if i not in admitted for _ in range(1 + (i * 10) // 50)]
        rng.shuffle(asks)
        before = len(admitted)
        for i in asks:
            if i not in admitted and kyoto.enter(now, limits, ticket=tickets[i]).admitted:
                admitted.append(i)
        assert len(admitted) == before + 1, f"at {now}: {admitted}"
    assert admitted == list(range(50))


def test_a_turn_is_kept_for_the_ticket_whose_turn_it_is_not_for_a_faster_newcomer() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=1)
    inside = kyoto.enter(T0, limits)
    early = kyoto.enter(T0 + 1, limits)
    late = kyoto.enter(T0 + 2, limits)
    # the place frees; the late one asks first, many times: the turn is the early one's
    for k in range(5):
        again = kyoto.enter(T0 + 61 + k, limits, ticket=late.ticket)
        assert not again.admitted and again.position == 1
    assert not kyoto.enter(T0 + 70, limits).admitted  # a newcomer does not take the reserved place
    assert kyoto.enter(T0 + 80, limits, ticket=early.ticket).admitted
    assert inside.admitted


def test_a_place_is_kept_across_refreshes_and_an_absence() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=60)
    kyoto.enter(T0, limits)
    mine = kyoto.enter(T0 + 1, limits)
    others = [kyoto.enter(T0 + 2 + i, limits) for i in range(3)]
    for k in range(5):
        assert kyoto.enter(T0 + 10 + k, limits, ticket=mine.ticket).position == 1
    # I close the tab; the others keep asking; after ABANDON_SECONDS my ticket leaves the line …
    later = T0 + ABANDON_SECONDS + 100
    for other in others:
        assert kyoto.enter(later, limits, ticket=other.ticket).position in (1, 2, 3)
    assert kyoto.enter(later, limits, ticket=others[0].ticket).position == 1
    # … and when I come back with my ticket I am first again: my arrival number, not my return, counts
    assert kyoto.enter(later + 1, limits, ticket=mine.ticket).position == 1
    assert kyoto.enter(later + 2, limits, ticket=others[0].ticket).position == 2
    # a newcomer after a Redis restart is numbered after every returning ticket
    assert kyoto.enter(later + 3, limits).position == 5


def test_new_residents_per_minute_are_limited_too() -> None:
    kyoto, limits = line(), Limits(active=100, per_minute=3, idle_minutes=15)
    decisions = [kyoto.enter(T0 + i, limits) for i in range(5)]
    assert [d.admitted for d in decisions] == [True, True, True, False, False]
    # a minute after the first admissions the next two come in, in order
    assert kyoto.enter(T0 + 61, limits, ticket=decisions[3].ticket).admitted
    assert kyoto.enter(T0 + 62, limits, ticket=decisions[4].ticket).admitted


def test_an_unclaimed_turn_is_given_up_after_the_claim_time() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=1)
    kyoto.enter(T0, limits)
    gone = kyoto.enter(T0 + 1, limits)
    waiting = kyoto.enter(T0 + 2, limits)
    assert gone.ticket and waiting.position == 2
    assert kyoto.enter(T0 + 61, limits, ticket=waiting.ticket).position == 1  # `gone` got the turn
    assert kyoto.enter(T0 + 62 + CLAIM_SECONDS, limits, ticket=waiting.ticket).admitted


def test_a_claimed_ticket_is_spent_a_kept_or_copied_cookie_joins_the_end_of_the_line() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=1)
    kyoto.enter(T0, limits)
    mine = kyoto.enter(T0 + 1, limits)
    others = [kyoto.enter(T0 + 2 + i, limits) for i in range(2)]
    assert kyoto.enter(T0 + 61, limits, ticket=mine.ticket).admitted  # my turn: the pass
    # my pass goes idle, the next one's turn comes; my old ticket cookie (or a copy of it) comes back
    again = kyoto.enter(T0 + 130, limits, ticket=mine.ticket)
    assert not again.admitted and again.ticket != mine.ticket
    assert again.position == 2  # behind the one still waiting, not at my old arrival number
    assert kyoto.enter(T0 + 131, limits, ticket=others[0].ticket).admitted


def test_every_key_of_a_line_expires() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=1)
    kyoto.enter(T0, limits)
    waiting = kyoto.enter(T0 + 1, limits)
    kyoto.stats(T0 + 61, limits)  # the head's turn is reserved by the console's look alone: new keys
    present = [key for key in kyoto.keys if kyoto.client.exists(key)]
    assert kyoto.keys[3] in present and all(0 < kyoto.client.ttl(key) <= KEEP_KEYS_SECONDS for key in present)
    assert kyoto.enter(T0 + 62, limits, ticket=waiting.ticket).admitted  # `active` emptied and made again
    assert all(
        0 < kyoto.client.ttl(key) <= KEEP_KEYS_SECONDS for key in kyoto.keys if kyoto.client.exists(key)
    )
    kyoto.enter(T0 + 400, limits)  # everything lapsed: a newcomer makes the keys anew
    present = [key for key in kyoto.keys if kyoto.client.exists(key)]
    assert len(present) == 4 and all(0 < kyoto.client.ttl(key) <= KEEP_KEYS_SECONDS for key in present)


def test_a_raised_limit_admits_the_line_in_batches_in_order() -> None:
    kyoto, small = line(), Limits(active=1, per_minute=100_000, idle_minutes=1)
    kyoto.enter(T0, small)
    tickets = [kyoto.enter(T0 + 1, small).ticket for _ in range(1200)]
    large = Limits(active=100_000, per_minute=100_000, idle_minutes=1)
    assert kyoto.stats(T0 + 2, large).queue_length == 200  # one script admitted 1000, not all
    assert kyoto.enter(T0 + 3, large, ticket=tickets[-1]).admitted  # the next request admits the rest


def test_one_municipality_s_crowd_never_fills_another_s_room() -> None:
    kyoto, mihon, limits = line("kyoto"), line("mihon"), Limits(active=1, per_minute=1, idle_minutes=15)
    kyoto.enter(T0, limits)
    assert not kyoto.enter(T0 + 1, limits).admitted
    assert mihon.enter(T0 + 2, limits).admitted
    assert kyoto.stats(T0 + 3, limits).queue_length == 1
    assert mihon.stats(T0 + 3, limits).queue_length == 0


def test_cookies_are_signed_and_bound_to_their_municipality() -> None:
    kyoto, limits = line(), Limits(active=1, per_minute=100, idle_minutes=15)
    kyoto.enter(T0, limits)
    ticket = kyoto.enter(T0 + 1, limits).ticket
    assert ticket is not None
    value = sign_ticket("kyoto", ticket)
    assert read_ticket("kyoto", value) == ticket
    assert read_ticket("mihon", value) is None
    assert read_ticket("kyoto", value.replace(f":{ticket.seq}:", ":0:")) is None  # an earlier number, forged
    assert read_pass("kyoto", sign_pass("kyoto", "abc")) == "abc"
    assert read_pass("mihon", sign_pass("kyoto", "abc")) == ""
    assert read_pass("kyoto", "kyoto:abc") == ""


def test_the_estimate_follows_the_pace_between_turnover_and_the_set_rate() -> None:
    busy = Limits(active=150, per_minute=10, idle_minutes=15)  # turns over 10 a minute at worst
    assert estimate_wait(0, 0, busy) == 0
    assert estimate_wait(20, 0, busy) == 120  # no pace yet: the turnover
    assert estimate_wait(20, 500, busy) == 120  # faster than the rate is not believed
    slow = Limits(active=15, per_minute=100, idle_minutes=15)  # turns over 1 a minute at worst
    assert estimate_wait(20, 0, slow) == 1200
    assert estimate_wait(20, 25, slow) == 240  # 5 a minute lately
