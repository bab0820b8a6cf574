"""One way to sign what the tamper-evident logs keep: the operation log's chain (booking.audit.oplog), the
vendor log's chain (console.vendor_log) and the checkpoints of the operation log (tenants.checkpoints).

Every signature is HMAC-SHA256 under OPLOG_KEY, which the database never holds, over a label and canonical
JSON (sorted keys, no spaces, UTF-8): the label keeps the three kinds apart, so no signature of one kind is
ever a valid signature of another. A chain link signs the previous link's digest with the entry's fields.
Tenant code may import this module (a named interface, docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from django.conf import settings

OPERATION_LOG = b""  # the operation log's chain predates the labels: its digests stay as they were
VENDOR_LOG = b"madoguchi vendor log v1"
CHECKPOINT = b"madoguchi oplog checkpoint v1"


def instant(at: dt.datetime) -> str:
    """A moment as signed: UTC with microseconds, so the text never depends on the server's zone."""
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical(fields: Mapping[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign(label: bytes, fields: Mapping[str, object]) -> str:
    message = (label + b"\n" if label else b"") + canonical(fields)
    return hmac.new(settings.OPLOG_KEY.encode(), message, hashlib.sha256).hexdigest()


def chain_link(label: bytes, previous: str, fields: Mapping[str, object]) -> str:
    """The digest of one entry of a chain: what it says, bound to the digest before it."""
    message = (label + b"\n" if label else b"") + previous.encode() + b"\n" + canonical(fields)
    return hmac.new(settings.OPLOG_KEY.encode(), message, hashlib.sha256).hexdigest()


def genuine(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected, given)
