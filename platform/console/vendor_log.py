"""The vendor operation log: every vendor-console action, appended in the action's own transaction.

Like a tenant's operation log (booking.audit.oplog, which the control plane may not import), entries are
numbered last + 1 under an advisory lock held to the end of the transaction (a rolled-back action leaves
no hole), and each carries HMAC-SHA256(OPLOG_KEY, previous digest + canonical fields). A trigger (migration
console 0003) refuses UPDATE and DELETE; someone with database access who bypasses it cannot recompute the
chain without OPLOG_KEY, which the database never holds, so `verify()` names the first altered or missing
entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from console.models import VendorLogEntry
from madoguchi import log_signing

_LOCK_KEY = 0x76656E646F72 & 0x7FFFFFFF  # "vendor": one appender at a time
GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    name: str
    user_id: int | None = None
    address: str = ""


def _digest(previous: str, entry: VendorLogEntry) -> str:
    fields = {
        "seq": entry.seq,
        "at": log_signing.instant(entry.at),
        "actor": entry.actor,
        "actor_id": entry.actor_id,
        "address": entry.address,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }
    return log_signing.chain_link(log_signing.VENDOR_LOG, previous, fields)


def record(actor: Actor, action: str, target: str = "", **detail: Any) -> VendorLogEntry:
    """Append one entry; must run inside the action's transaction, so both commit or neither does."""
    if not connection.in_atomic_block:
        raise RuntimeError("vendor_log.record must run inside the action's transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    last = VendorLogEntry.objects.order_by("-seq").first()
    entry = VendorLogEntry(
        seq=(last.seq + 1) if last else 1,
        at=timezone.now(),
        actor=actor.name[:150],
        actor_id=actor.user_id,
        address=actor.address[:45],
        action=action,
        target=target[:200],
        # JSON round trip so the digest covers exactly what the database stores
        detail=json.loads(json.dumps(detail, ensure_ascii=False, default=str)),
    )
    entry.digest = _digest(last.digest if last else GENESIS, entry)
    entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class Verdict:
    intact: bool
    checked: int
    first_bad: int | None = None  # the first entry that is altered, or the number that is missing


def verify() -> Verdict:
    previous, expected, checked = GENESIS, 1, 0
    with transaction.atomic():
        for entry in VendorLogEntry.objects.order_by("seq").iterator(chunk_size=2000):
            if entry.seq != expected:
                return Verdict(False, checked, expected)
            if not log_signing.genuine(entry.digest, _digest(previous, entry)):
                return Verdict(False, checked, entry.seq)
            previous, expected, checked = entry.digest, expected + 1, checked + 1
    return Verdict(True, checked)
