"""Writes of the vendor console."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from console import vendor_log
from console.models import Heartbeat, OperatorSignIn
from console.queries import client_key
from madoguchi.cache import LocalCounter

logger = logging.getLogger(__name__)
_local_counts = LocalCounter()  # the client addresses' counts while Redis is away (issue 11)

HEARTBEAT_RETENTION = dt.timedelta(days=400)  # a year of availability reports, and a month's margin


def do_record_heartbeat() -> Heartbeat:
    try:
        cache.set("heartbeat", "1", 120)
        cache_ok = cache.get("heartbeat") == "1"
    except Exception:  # noqa: BLE001 - a failing cache is what the heartbeat records
        cache_ok = False
    now = timezone.now()
    beat = Heartbeat.objects.create(recorded_at=now, database_ok=True, cache_ok=cache_ok)
    Heartbeat.objects.filter(recorded_at__lt=now - HEARTBEAT_RETENTION).delete()
    return beat


# --- vendor-console sign-in: lockout per account, throttle per client address (issue 13, finding 3) ---

LOCK_AFTER = 10  # failed sign-ins in a row lock the account …
LOCK_DURATION = dt.timedelta(minutes=30)  # … for this long, or until another operator unlocks it
CLIENT_LOCK_AFTER = 20  # failures from one client address within the window refuse that address …
CLIENT_WINDOW_SECONDS = 15 * 60  # … until the window ends


@dataclass(frozen=True)
class SignInClaim:
    """What counting an attempt, before its password is checked, decided."""

    throttled: bool = False  # too many attempts from this client address in the window
    refused: bool = False  # the account is locked, or the attempt is over the limit: check nothing
    failures: int = 0  # the account's count including this attempt (0: no such account)


def do_claim_sign_in(username: str, address: str, now: dt.datetime | None = None) -> SignInClaim:
    """Count this attempt first, atomically, and say whether it may be checked.

    Counting after the check let a concurrent burst check more passwords than the limits allow (the staff
    sign-in's finding 5): each attempt takes its number (Redis INCR for the address, one UPDATE … RETURNING
    for the account) before anything is checked, and a success gives its count back (do_record_sign_in).
    When Redis does not answer the address is counted in this process's memory (issue 11: never not at
    all); the account's count is in the database either way.
    """
    now = now or timezone.now()
    if _count_client_attempt(address) > CLIENT_LOCK_AFTER:
        return SignInClaim(throttled=True)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return SignInClaim()
    with transaction.atomic():
        # the row, made once; ignore_conflicts so that two first attempts at once do not collide
        OperatorSignIn.objects.bulk_create([OperatorSignIn(user=user)], ignore_conflicts=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {OperatorSignIn._meta.db_table} SET failures = failures + 1 "  # noqa: S608 - our table
                "WHERE user_id = %s AND (locked_until IS NULL OR locked_until <= %s) RETURNING failures",
                [user.pk, now],
            )
            row = cursor.fetchone()
    if row is None:  # locked
        return SignInClaim(refused=True)
    return SignInClaim(refused=row[0] > LOCK_AFTER, failures=row[0])


def _count_client_attempt(address: str) -> int:
    key = client_key(address)
    try:
        cache.add(key, 0, timeout=CLIENT_WINDOW_SECONDS)  # starts the window; no-op if it is running
        return int(cache.incr(key))
    except Exception:  # noqa: BLE001 - any cache failure
        logger.warning("vendor sign-in throttle: redis unavailable, counting in this process's memory")
        return _local_counts.claim(key, time.time(), CLIENT_WINDOW_SECONDS)[0]


def _give_back_client_attempt(address: str) -> None:
    try:
        cache.decr(client_key(address))
    except Exception:  # noqa: BLE001 - the key expired meanwhile, or the cache is away: nothing to give back
        logger.debug("vendor sign-in throttle: nothing to give back", exc_info=True)
        _local_counts.give_back(client_key(address))


def do_record_failed_sign_in(username: str, address: str, claim: SignInClaim) -> bool:
    """A claimed attempt failed: the attempt that reaches the limit locks the account; True if it did."""
    if claim.failures < LOCK_AFTER or claim.refused:
        return False
    now = timezone.now()
    with transaction.atomic():
        locked = OperatorSignIn.objects.filter(user__username=username, locked_until__isnull=True)
        # the count starts again, so that after the lock (or an unlock) another LOCK_AFTER failures lock it
        if not locked.update(locked_until=now + LOCK_DURATION, failures=0):
            return False
        user = get_user_model().objects.get(username=username)
        vendor_log.record(
            vendor_log.Actor(user.get_username(), user.pk, address),
            "signin.locked",
            user.get_username(),
            failures=claim.failures,
            until=(now + LOCK_DURATION).isoformat(),
        )
        return True


def do_record_sign_in(user: AbstractBaseUser, address: str, device: str) -> None:
    """A successful sign-in (password and TOTP): the count starts again, and the log says who and where."""
    _give_back_client_attempt(address)
    with transaction.atomic():
        OperatorSignIn.objects.filter(user_id=user.pk).update(failures=0, locked_until=None)
        actor = vendor_log.Actor(user.get_username(), user.pk, address)
        vendor_log.record(actor, "signin", user.get_username(), device=device)


def do_enrol_operator_totp(username: str, *, replace: bool, actor: vendor_log.Actor) -> TOTPDevice:
    """Give an operator their TOTP device (the first time, or a replacement for a lost phone).

    Run from the server (manage.py), since nobody can sign in to the console without one. Refuses to
    replace an existing device unless asked, so a mistyped name cannot take over someone's second factor
    silently.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_staff or not user.is_active:
        message = _("運用者 %(name)s は存在しないか、有効な運用者ではありません。")
        raise ValueError(message % {"name": username})
    with transaction.atomic():
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists() and not replace:
            raise ValueError(
                _("%(name)s には確認コードの端末が登録済みです。置き換えるには --replace を付けてください。")
                % {"name": username}
            )
        existing.delete()
        device = TOTPDevice.objects.create(user=user, name="vendor console", confirmed=True)
        vendor_log.record(actor, "totp.replace" if replace else "totp.enrol", username)
    return device
