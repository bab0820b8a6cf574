"""Citizen login with reservation number and password (BK-03, BK-04).

Unknown number and wrong password give the same answer, after the same work (an HMAC either way), so the
answer does not tell which numbers exist. Failures are counted per client address and per number and
slowed, then refused for a while (booking.access.throttle); an attempt is counted before its password is
checked, so a burst of concurrent attempts checks no more passwords than the limit allows.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from booking.access import bearer, throttle
from booking.cards import credentials
from booking.engine.retry import retry_on_lost_connection
from booking.models import Card, CitizenToken

TOKEN_LIFETIME = dt.timedelta(minutes=30)
_NO_SUCH_CARD_DIGEST = "0" * 64


class LoginRefused(Exception):
    def __init__(self, code: str, retry_after: int = 0, locked: bool = False) -> None:
        self.code = code  # invalid_credentials | too_many_attempts
        self.retry_after = retry_after
        self.locked = locked
        super().__init__(code)


def do_citizen_login(raw_number: str, raw_password: str, client: str) -> Card:
    number = credentials.normalise_reservation_number(raw_number)
    keys = throttle.keys_for(client, number or raw_number.strip()[:40])
    verdict = throttle.verdict(keys)
    if not verdict.allowed:
        raise LoginRefused("too_many_attempts", verdict.retry_after, verdict.locked)
    # with_probe: the external prober's card signs in too (BK-08); the engine refuses its bookings. Looked up
    # before the claim: a lookup that fails (its connection lost in a failover, the sign-in answered again by
    # madoguchi.lost_connection) must not leave a claim that is never given back, counted against everyone
    # behind the same address. Between the claim and its release nothing can fail: the password check is
    # arithmetic, and the throttle counts in memory when Redis fails.
    card = Card.with_probe.filter(reservation_number=number).first() if number else None
    verdict = throttle.claim(keys)
    if not verdict.allowed:
        raise LoginRefused("too_many_attempts", verdict.retry_after, verdict.locked)
    digest = card.password_digest if card else _NO_SUCH_CARD_DIGEST
    if not credentials.password_matches(raw_password, digest) or card is None:
        raise LoginRefused("invalid_credentials")  # already counted by the claim
    throttle.release(keys)
    return card


def do_create_citizen_token(card: Card, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    now = now or timezone.now()
    issued = bearer.issue(TOKEN_LIFETIME, now)

    def create() -> bool:
        # One transaction: the purge and the token are in together or not at all.
        with transaction.atomic():
            CitizenToken.objects.filter(expires_at__lte=now).delete()
            CitizenToken.objects.create(card=card, token_digest=issued.digest, expires_at=issued.expires_at)
        return True

    def created() -> bool | None:
        return CitizenToken.objects.filter(token_digest=issued.digest).exists() or None

    # A connection lost in a failover is met here, on a new connection (which waits for the new primary),
    # rather than by answering the whole sign-in again: a lost COMMIT's fate is unknown (the server may have
    # carried it out), so madoguchi.lost_connection would answer a 500, and one of the HA rehearsal's
    # residents got it. Here the token's own row tells: `created` looks for it before each new attempt.
    retry_on_lost_connection(create, already_done=created)
    return issued.token, issued.expires_at


def card_for_token(token: str, now: dt.datetime | None = None) -> Card | None:
    found = (
        CitizenToken.objects.select_related("card")
        .filter(token_digest=bearer.digest(token), expires_at__gt=now or timezone.now())
        .first()
    )
    return found.card if found else None
