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
    if verdict.allowed:
        verdict = throttle.claim(keys)
    if not verdict.allowed:
        raise LoginRefused("too_many_attempts", verdict.retry_after, verdict.locked)
    # with_probe: the external prober's card signs in too (BK-08); the engine refuses its bookings
    card = Card.with_probe.filter(reservation_number=number).first() if number else None
    digest = card.password_digest if card else _NO_SUCH_CARD_DIGEST
    if not credentials.password_matches(raw_password, digest) or card is None:
        raise LoginRefused("invalid_credentials")  # already counted by the claim
    throttle.release(keys)
    return card


def do_create_citizen_token(card: Card, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    now = now or timezone.now()
    issued = bearer.issue(TOKEN_LIFETIME, now)
    # One transaction: a connection lost before its COMMIT (a failover) leaves nothing written, so the sign-in
    # is answered again on the new primary (madoguchi.lost_connection) instead of with a 500; two autocommit
    # statements would leave the first one's fate unknown.
    with transaction.atomic():
        CitizenToken.objects.filter(expires_at__lte=now).delete()
        CitizenToken.objects.create(card=card, token_digest=issued.digest, expires_at=issued.expires_at)
    return issued.token, issued.expires_at


def card_for_token(token: str, now: dt.datetime | None = None) -> Card | None:
    found = (
        CitizenToken.objects.select_related("card")
        .filter(token_digest=bearer.digest(token), expires_at__gt=now or timezone.now())
        .first()
    )
    return found.card if found else None
