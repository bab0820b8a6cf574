"""The operation log (SO-14) and its tamper evidence (SO-06).

Every operation on an authenticated function is appended in the same transaction as the operation, so
the log never claims what did not happen and never misses what did. Entries are chained: each digest is
an HMAC over the previous digest and the entry's fields, under OPLOG_KEY, which the database does not
hold; an altered, inserted or deleted row breaks the chain from that point.

A chain shows a row removed in its middle, but not a log cut short at its end, emptied, or cut at its
start under a forged anchor. So signed checkpoints are kept outside the schema (`tenants.checkpoints`):
of the newest entry every few minutes (`checkpoint`, from beat) and of the anchor at every purge, and
`verify` requires the log to reach the newest one and its anchor to be the last purge's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from booking.models import OperationLogAnchor, OperationLogEntry, StaffSecurity
from madoguchi import log_signing
from tenants import checkpoints
from tenants.db import tenant_connection

_LOCK_KEY = 0x6F706C6F67  # "oplog": one appender at a time per schema (advisory locks are per database)


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    address: str


# Who the background worker writes as: the person who asked is in the request's own entry.
WORKER = Actor(None, "system", "worker")


def _digest(previous: str, entry: OperationLogEntry) -> str:
    fields = {
        "seq": entry.seq,
        "at": log_signing.instant(entry.at),
        "user_id": entry.user_id_snapshot,
        "username": entry.username,
        "address": entry.address,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }
    return log_signing.chain_link(log_signing.OPERATION_LOG, previous, fields)


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


def verify(*, object_store: bool = False) -> Verdict:
    """Walk the chain from the anchor; report the first entry that does not follow from the one before,
    then hold the chain's two ends against the checkpoints (with ``object_store``, the write-once copies
    too) and name the entries missing at either end."""
    schema = tenant_connection().schema_name
    marks = checkpoints.checkpoints_for(schema, object_store=object_store)
    heads = {c.seq: c for c in marks if c.genuine and c.kind == checkpoints.HEAD}
    anchor = OperationLogAnchor.objects.filter(singleton=True).first()
    previous_seq, previous_digest = (anchor.seq, anchor.digest) if anchor else (0, "")
    start = (previous_seq, previous_digest)
    confirmed = previous_seq  # the chain up to here agrees with the checkpoints
    checked = 0
    for entry in _entries():
        if entry.seq != previous_seq + 1:
            return Verdict(
                False, checked, previous_seq + 1, f"missing entries {previous_seq + 1}–{entry.seq - 1}"
            )
        if entry.previous_digest != previous_digest:
            return Verdict(False, checked, entry.seq, "does not follow the entry before it")
        if not log_signing.genuine(entry.digest, _digest(previous_digest, entry)):
            return Verdict(False, checked, entry.seq, "content altered")
        mark = heads.get(entry.seq)
        if mark is not None and not log_signing.genuine(mark.digest, entry.digest):
            # A valid chain with another entry where a checkpoint saw this one: the entries after the last
            # checkpoint that matched were cut off and new ones written in their place.
            low = confirmed + 1
            reason = f"entries {low}–{entry.seq} replaced (entry {entry.seq} differs from its checkpoint)"
            return Verdict(False, checked, low, reason)
        if mark is not None:
            confirmed = entry.seq
        previous_seq, previous_digest = entry.seq, entry.digest
        checked += 1
    return _against_checkpoints(marks, start, previous_seq, checked)


def _against_checkpoints(
    marks: list[checkpoints.Checkpoint], start: tuple[int, str], last_seq: int, checked: int
) -> Verdict:
    """The chain from `start` (the anchor) to `last_seq` is sound; do its ends agree with the checkpoints?"""
    anchors = [c for c in marks if c.genuine and c.kind == checkpoints.ANCHOR]
    purged_to = max((c.seq for c in anchors), default=0)
    newest = max(
        (c for c in marks if c.genuine and c.kind == checkpoints.HEAD), key=lambda c: c.seq, default=None
    )
    if newest is not None and newest.seq > last_seq:
        low = max(last_seq, purged_to) + 1  # entries up to the last purge are gone by right
        when = newest.at.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M")
        return Verdict(
            False, checked, low, f"missing entries {low}–{newest.seq} (entry {newest.seq} existed at {when})"
        )
    if start[0] > purged_to:
        return Verdict(
            False,
            checked,
            purged_to + 1,
            f"missing entries {purged_to + 1}–{start[0]}: removed without a purge "
            "(no checkpoint for the anchor)",
        )
    if anchors and not any(c.seq == purged_to and c.digest == start[1] for c in anchors):
        return Verdict(
            False, checked, start[0] + 1, f"the anchor is not the last purge's (entry {purged_to})"
        )
    forged = next((c for c in marks if not c.genuine), None)
    if forged is not None:
        return Verdict(False, checked, forged.seq, f"checkpoint {forged.seq} is forged ({forged.source})")
    return Verdict(True, checked)


def checkpoint(now: dt.datetime | None = None) -> int | None:
    """Note the newest entry outside the schema when it has moved since the last note (from beat, every few
    minutes: what was written before the last note can no longer be cut off unseen). The first note of a
    tenant also notes the anchor a purge made before checkpoints existed. Returns the number noted."""
    now = now or timezone.now()
    schema = tenant_connection().schema_name
    with transaction.atomic():
        if not checkpoints.has_checkpoints(schema):
            anchor = OperationLogAnchor.objects.filter(singleton=True, seq__gt=0).first()
            if anchor is not None:
                checkpoints.record_checkpoint(schema, anchor.seq, anchor.digest, now, checkpoints.ANCHOR)
        newest = OperationLogEntry.objects.order_by("-seq").values_list("seq", "digest").first()
        if newest is None:
            return None
        noted = checkpoints.newest_checkpoint(schema, checkpoints.HEAD)
        if noted is not None and noted.seq >= newest[0]:
            return None
        checkpoints.record_checkpoint(schema, newest[0], newest[1], now, checkpoints.HEAD)
        return int(newest[0])


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
        # In the purge's transaction: a purge is never without its checkpoint, nor a checkpoint without it.
        schema = tenant_connection().schema_name
        checkpoints.record_checkpoint(schema, last_old.seq, last_old.digest, now, checkpoints.ANCHOR)
        newest = OperationLogEntry.objects.order_by("-seq").values_list("seq", "digest").first()
        if newest is not None:
            checkpoints.record_checkpoint(schema, newest[0], newest[1], now, checkpoints.HEAD)
        return deleted
