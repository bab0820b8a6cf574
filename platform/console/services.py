"""Writes of the vendor console."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import get_public_schema_name

from console import vendor_log
from console.announcements import stops_changed
from console.models import Heartbeat, OperatorSignIn, PlannedStop
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


# --- planned and emergency stops (SO-01) ---

APPROVAL_DAYS = 30  # the municipality approves a planned stop in writing at least this many days ahead


def stop_problems(stop: PlannedStop, today: dt.date | None = None) -> dict[str, str]:
    """What is wrong with this stop, field by field (empty: it may be recorded). The one home of the rules:
    the admin's form shows these next to its fields, and do_record_stop refuses a stop that has any."""
    today = today or timezone.localdate()
    problems: dict[str, str] = {}
    if stop.tenant is not None and stop.tenant.schema_name == get_public_schema_name():
        # the platform's own row (the vendor console's host): a stop of it would reach no municipality
        problems["tenant"] = _(
            "運用コンソールの行は自治体ではないため、停止の対象にできません。"
            "全ての自治体を止めるときは、自治体を空欄にしてください。"
        )
    if stop.starts_at and stop.ends_at and stop.ends_at <= stop.starts_at:
        problems["ends_at"] = _("停止終了は停止開始より後にしてください。")
    if not (stop.reason or "").strip():
        problems["reason"] = _("お知らせ（日本語）に停止の理由を入力してください。")
    if stop.kind == PlannedStop.Kind.EMERGENCY:
        return problems  # no approval, no 30 days: it is recorded as not planned
    if not (stop.approved_by or "").strip():
        problems["approved_by"] = _("計画停止には、承認した自治体の担当者の氏名・役職を入力してください。")
    if not (stop.approval_reference or "").strip():
        problems["approval_reference"] = _("計画停止には、自治体の承認文書の番号を入力してください。")
    latest = (
        timezone.localtime(stop.starts_at).date() - dt.timedelta(days=APPROVAL_DAYS)
        if stop.starts_at
        else None
    )
    if stop.approved_on is None:
        problems["approved_on"] = _("計画停止には、自治体の承認日を入力してください。")
    elif latest and stop.approved_on > latest:
        problems["approved_on"] = _(
            "計画停止は開始の%(days)d日前（%(latest)s）までに自治体の承認が必要です（SO-01）。"
            "この日程で止める必要があるときは、種別を緊急停止にして登録してください。"
        ) % {"days": APPROVAL_DAYS, "latest": latest.isoformat()}
    elif stop.approved_on > today:
        problems["approved_on"] = _("承認日に未来の日付は入力できません。")
    if stop.announced_from and stop.starts_at and stop.announced_from > stop.starts_at:
        problems["announced_from"] = _("計画停止のお知らせは、停止開始より前から表示してください。")
    return problems


def do_record_stop(
    stop: PlannedStop, *, actor: vendor_log.Actor, today: dt.date | None = None
) -> PlannedStop:
    """Record a new stop, or a change to one, with its vendor-log entry; refuses one with problems.

    `stop` is an unsaved PlannedStop (new) or a changed one (the admin's form builds either). Raises
    ValidationError({field: message}) and writes nothing when stop_problems finds anything.
    """
    problems = stop_problems(stop, today)
    if problems:
        raise ValidationError(problems)
    new = stop.pk is None
    if new:
        stop.recorded_by = actor.name[:150]
    if stop.announced_from is None:
        stop.announced_from = timezone.now()  # the notice shows from the moment the stop is recorded
    with transaction.atomic():
        stop.save()
        vendor_log.record(
            actor,
            "stop.record" if new else "stop.change",
            f"{stop._meta.label_lower}:{stop.pk} {stop}",
            kind=stop.kind,
            tenant=stop.tenant.schema_name if stop.tenant else "",
            starts_at=stop.starts_at.isoformat(),
            ends_at=stop.ends_at.isoformat(),
            announced_from=stop.announced_from.isoformat(),
            site_down=stop.site_down,
            approved_by=stop.approved_by,
            approval_reference=stop.approval_reference,
            approved_on=stop.approved_on.isoformat() if stop.approved_on else "",
        )
        stops_changed()
    return stop


def do_delete_stops(stops: QuerySet[PlannedStop]) -> None:
    """Delete stops (the admin's delete, of one or of a selection); their notices go everywhere at once.

    The vendor-log entries are the admin's own (console.access.VendorLoggedAdmin.log_deletions)."""
    with transaction.atomic():
        stops.delete()
        stops_changed()
