"""Signed checkpoints of each tenant's operation log, kept where the tenant's schema cannot reach (SO-06).

The named interface tenant code calls (`booking.audit.oplog`): `record_checkpoint` and `checkpoints_for`,
plus `newest_checkpoint`. A checkpoint says that entry `seq` with `digest` existed at `at` ("head"), or that
a retention purge removed the entries up to `seq` ("anchor"). `verify` compares the log with them, so a log
cut short at either end, or emptied, no longer verifies.

Where they are kept, and why each:

- the public schema's `tenants_oplogcheckpoint`, append-only by trigger (migration `tenants.0003`). Always
  read and written by its schema-qualified name: a tenant's search path puts the tenant's own schema first,
  and whoever can create a table there could otherwise shadow this one with a table of their own.
- when `OPLOG_CHECKPOINT_S3_BUCKET` is set, also a write-once object per checkpoint (S3 Object Lock,
  `integrations.storage.WriteOnceStore`), which even a database superuser cannot remove. The object's key
  holds the whole checkpoint, so reading them back is a listing, not one request per checkpoint.

Each is signed with HMAC-SHA256 under OPLOG_KEY (with its own label, so a checkpoint's signature is never
a valid log digest), which the database never holds: a row or an object someone forged is not genuine.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name

from integrations.storage import WriteOnceStore, write_once_store
from madoguchi import log_signing

HEAD = "head"
ANCHOR = "anchor"
KINDS = (HEAD, ANCHOR)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    kind: str
    seq: int
    digest: str
    at: dt.datetime
    genuine: bool  # the signature verifies under the key
    source: str = "database"  # or "object store"


def _sign(schema: str, kind: str, seq: int, digest: str, at: dt.datetime) -> str:
    fields = {"schema": schema, "kind": kind, "seq": seq, "digest": digest, "at": log_signing.instant(at)}
    return log_signing.sign(log_signing.CHECKPOINT, fields)


def _genuine(schema: str, kind: str, seq: int, digest: str, at: dt.datetime, signature: str) -> bool:
    return kind in KINDS and log_signing.genuine(_sign(schema, kind, seq, digest, at), signature)


def _table() -> str:
    return f'"{get_public_schema_name()}"."tenants_oplogcheckpoint"'


def record_checkpoint(schema: str, seq: int, digest: str, at: dt.datetime, kind: str = HEAD) -> Checkpoint:
    """Keep a signed checkpoint; call inside the transaction that made it true (a purge), or on its own.

    The write-once copy goes after the commit: a purge rolled back must leave no object claiming it ran.
    If the bucket is unreachable the database copy stands, and the error reaches the logs (and Sentry).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    signature = _sign(schema, kind, seq, digest, at)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (schema_name, kind, seq, digest, at, signature) "  # noqa: S608 (a constant)
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [schema, kind, seq, digest, at, signature],
        )
    store = write_once_store()
    if store is not None:
        transaction.on_commit(lambda: _put_copy(store, schema, kind, seq, digest, at, signature))
    return Checkpoint(kind, seq, digest, at, genuine=True)


def _object_name(kind: str, seq: int, digest: str, at: dt.datetime, signature: str) -> str:
    micros = (at - _EPOCH) // dt.timedelta(microseconds=1)  # exact: a float would lose microseconds
    return f"{kind}/{seq:020d}.{digest}.{micros}.{signature}"


def _put_copy(
    store: WriteOnceStore, schema: str, kind: str, seq: int, digest: str, at: dt.datetime, signature: str
) -> None:
    try:
        store.put(f"{schema}/{_object_name(kind, seq, digest, at, signature)}", b"{}")
    except Exception:
        log.exception(
            "operation-log checkpoint %s %s of %s not copied to the write-once store", kind, seq, schema
        )


def _from_object(schema: str, name: str) -> Checkpoint | None:
    try:
        kind, rest = name.split("/", 1)
        seq_text, digest, micros, signature = rest.split(".")
        seq = int(seq_text)
        at = _EPOCH + dt.timedelta(microseconds=int(micros))
    except ValueError:
        return None  # not one of ours: it proves nothing either way
    genuine = _genuine(schema, kind, seq, digest, at, signature)
    return Checkpoint(kind, seq, digest, at, genuine, source="object store")


def checkpoints_for(schema: str, *, object_store: bool = False) -> list[Checkpoint]:
    """Every checkpoint of the tenant, in the order of their numbers, each marked genuine or not.

    With ``object_store`` the write-once copies are read too (a listing of the bucket; for the
    command, not for a page): they still stand if someone with superuser rights emptied the table.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, seq, digest, at, signature FROM {_table()} WHERE schema_name = %s",  # noqa: S608
            [schema],
        )
        rows = cursor.fetchall()
    found = [Checkpoint(k, s, d, a, _genuine(schema, k, s, d, a, sig)) for k, s, d, a, sig in rows]
    store = write_once_store() if object_store else None
    if store is not None:
        copies = (_from_object(schema, name) for name in store.keys(schema))
        found.extend(c for c in copies if c is not None)
    return sorted(found, key=lambda c: (c.seq, c.at))


def newest_checkpoint(schema: str, kind: str) -> Checkpoint | None:
    """The genuine checkpoint of that kind with the highest number, from the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, seq, digest, at, signature FROM {_table()} "  # noqa: S608 (a constant)
            "WHERE schema_name = %s AND kind = %s ORDER BY seq DESC, at DESC",
            [schema, kind],
        )
        for k, s, d, a, sig in cursor:
            if _genuine(schema, k, s, d, a, sig):
                return Checkpoint(k, s, d, a, genuine=True)
    return None


def has_checkpoints(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_table()} WHERE schema_name = %s LIMIT 1", [schema])  # noqa: S608
        return cursor.fetchone() is not None
