"""The operation log (SO-14) and its tamper evidence (SO-06).

Every operation on an authenticated function is appended in the same transaction as the operation, so
the log never claims what did not happen and never misses what did. Entries are chained: each digest is
an HMAC over the previous digest and the entry's fields, under OPLOG_KEY, which the database does not
hold; an altered, inserted or deleted row breaks the chain from that point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from booking.models import OperationLogAnchor, OperationLogEntry, StaffSecurity

_LOCK_KEY = 0x6F706C6F67  # "oplog": one appender at a time per schema (advisory locks are per database)


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    address: str


# Who the background worker writes as: the person who asked is in the request's own entry.
WORKER = Actor(None, "system", "worker")


def _canonical(entry: OperationLogEntry) -> bytes:
    fields = {
        "seq": entry.seq,
        "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "user_id": entry.user_id_snapshot,
        "username": entry.username,
        "address": entry.address,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _digest(previous: str, entry: OperationLogEntry) -> str:
    key = settings.OPLOG_KEY.encode()
    return hmac.new(key, previous.encode() + b"\n" + _canonical(entry), hashlib.sha256).hexdigest()


def _schema_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [_LOCK_KEY & 0x7FFFFFFF]
        )


def record(
    actor: Actor,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> OperationLogEntry:
    """Append one entry; call inside the transaction of the operation it records."""
    with transaction.atomic():
        _schema_lock()
        newest = OperationLogEntry.objects.order_by("-seq").values_list("seq", "digest").first()
        if newest is None:
            anchor = OperationLogAnchor.objects.filter(singleton=True).first()
            newest = (anchor.seq, anchor.digest) if anchor else (0, "")
        last_seq, last_digest = newest
        entry = OperationLogEntry(
            seq=last_seq + 1,
            at=now or timezone.now(),
            user_id_snapshot=actor.user_id,
            username=actor.username[:150],
            address=actor.address[:64],
            action=action[:60],
            target=target[:200],
            detail=json.loads(json.dumps(detail or {}, default=str)),
            previous_digest=last_digest,
        )
        entry.digest = _digest(last_digest, entry)
        entry.save(force_insert=True)
        return entry


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def _entries() -> Iterator[OperationLogEntry]:
    return OperationLogEntry.objects.order_by("seq").iterator(chunk_size=2000)


def verify() -> Verdict:
    """Walk the chain from the anchor; report the first entry that does not follow from the one before."""
    anchor = OperationLogAnchor.objects.filter(singleton=True).first()
    previous_seq, previous_digest = (anchor.seq, anchor.digest) if anchor else (0, "")
    checked = 0
    for entry in _entries():
        if entry.seq != previous_seq + 1:
            return Verdict(
                False, checked, previous_seq + 1, f"missing entries {previous_seq + 1}–{entry.seq - 1}"
            )
        if entry.previous_digest != previous_digest:
            return Verdict(False, checked, entry.seq, "does not follow the entry before it")
        if not hmac.compare_digest(entry.digest, _digest(previous_digest, entry)):
            return Verdict(False, checked, entry.seq, "content altered")
        previous_seq, previous_digest = entry.seq, entry.digest
        checked += 1
    return Verdict(True, checked)


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete entries past the retention period; the anchor keeps the chain verifiable from what remains."""
    now = now or timezone.now()
    rules, _ = StaffSecurity.objects.get_or_create(singleton=True)
    cutoff = now - dt.timedelta(days=rules.operation_log_retention_days)
    with transaction.atomic():
        _schema_lock()
        last_old = OperationLogEntry.objects.filter(at__lt=cutoff).order_by("-seq").first()
        if last_old is None:
            return 0
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL madoguchi.oplog_purge = 'on'")
            # Straight SQL: the ORM's delete would load a year of entries into memory first (django-tenants
            # listens to every model's post_delete, which turns off Django's fast delete).
            cursor.execute("DELETE FROM booking_operationlogentry WHERE seq <= %s", [last_old.seq])
            deleted = cursor.rowcount
            cursor.execute("SET LOCAL madoguchi.oplog_purge = 'off'")
        OperationLogAnchor.objects.update_or_create(
            singleton=True, defaults={"seq": last_old.seq, "digest": last_old.digest, "purged_at": now}
        )
        return deleted
