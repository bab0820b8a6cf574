"""The operation log cannot be cut short unseen (SO-06, issue 13 finding 2): signed checkpoints outside the
tenant's schema, in the public schema and in write-once object storage, against which `verify` names the
entries missing at either end of the chain.

The attacker here has the database access the outside test had (triggers switched off for the session);
what they do not have is OPLOG_KEY.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from booking.audit import oplog
from booking.models import OperationLogAnchor, OperationLogEntry, StaffSecurity
from integrations.storage import write_once_store
from tenants import checkpoints
from tests.integrations.test_storage import REGION, s3_endpoint  # noqa: F401 (the moto server fixture)
from tests.staff_helpers import make_staff, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("kyoto")]
ACTOR = oplog.Actor(7, "admin01", "192.0.2.10")
LOCKED_BUCKET = "madoguchi-oplog-checkpoints"


def administrator() -> Client:
    make_staff("admin1", "administrator")
    return sign_in("admin1")


def write(count: int, now: dt.datetime | None = None) -> list[OperationLogEntry]:
    return [oplog.record(ACTOR, "booking.view", f"booking {n}", {"n": n}, now=now) for n in range(count)]


def as_attacker(sql: str, params: list[Any] | None = None) -> None:
    """Someone with direct database access, going around the triggers."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])
        cursor.execute("SET LOCAL session_replication_role = origin")


def verify_command() -> str:
    out = StringIO()
    call_command("verify_oplog", "kyoto", stdout=out)
    return out.getvalue()


def test_an_intact_log_with_checkpoints_verifies() -> None:
    write(5)
    assert oplog.checkpoint() == 5
    assert oplog.checkpoint() is None  # nothing new: no second note
    write(3)
    assert oplog.checkpoint() == 8
    verdict = oplog.verify()
    assert verdict.ok and verdict.checked == 8
    assert "8" in verify_command()


def test_truncating_the_log_is_detected_and_the_range_named() -> None:
    write(30)
    oplog.checkpoint()
    as_attacker("TRUNCATE booking_operationlogentry")
    verdict = oplog.verify()
    assert not verdict.ok
    assert verdict.first_bad_seq == 1 and verdict.reason.startswith("missing entries 1–30")
    with pytest.raises(CommandError, match="番号 1.*missing entries 1–30"):
        verify_command()


def test_deleting_the_newest_entries_is_detected_and_the_range_named() -> None:
    write(40)
    oplog.checkpoint()
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq > 20")
    verdict = oplog.verify()
    assert not verdict.ok and verdict.checked == 20
    assert verdict.first_bad_seq == 21 and verdict.reason.startswith("missing entries 21–40")
    # A later checkpoint of the shortened log does not hide it: the earlier one still stands.
    oplog.checkpoint()
    assert oplog.verify().reason.startswith("missing entries 21–40")


def test_entries_written_after_cutting_the_log_short_do_not_hide_it() -> None:
    """The usual course: the newest entries are deleted, and the next operations are numbered from the
    cut, with a valid chain. The checkpoint saw another entry under that number."""
    write(40)
    oplog.checkpoint()
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq > 20")
    write(25)
    verdict = oplog.verify()
    assert not verdict.ok and verdict.first_bad_seq == 1
    assert verdict.reason.startswith("entries 1–40 replaced (entry 40 differs from its checkpoint)")


def test_the_log_screen_names_the_missing_range() -> None:
    client = administrator()  # signing in writes entries too
    write(10)
    oplog.checkpoint()
    newest = OperationLogEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq > %s", [newest - 5])
    page = client.get("/staff/log/", {"verify": "1"})  # the page's own read is logged first
    assert page.status_code == 200
    text = page.content.decode()
    assert "改ざんまたは欠落を検出しました" in text
    # Entry newest-4 is the page's own read, written in the gap: the rest of the cut is named.
    assert f"missing entries {newest - 3}–{newest}" in text


def test_deleting_the_oldest_entries_under_a_forged_anchor_is_detected_and_the_range_named() -> None:
    entries = write(80)
    oplog.checkpoint()
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq <= 50")
    OperationLogAnchor.objects.create(singleton=True, seq=50, digest=entries[49].digest)
    verdict = oplog.verify()
    assert not verdict.ok and verdict.first_bad_seq == 1
    assert verdict.reason.startswith("missing entries 1–50: removed without a purge")
    oplog.checkpoint()  # the next periodic note does not bless the forged anchor
    assert not oplog.verify().ok


def test_a_purge_writes_a_checkpoint_and_still_verifies() -> None:
    long_ago = timezone.now() - dt.timedelta(days=400)
    old = write(3, now=long_ago)
    write(2)
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"operation_log_retention_days": 366})
    assert oplog.purge_expired(timezone.now()) == 3
    marks = checkpoints.checkpoints_for("kyoto")
    assert [(c.kind, c.seq, c.digest) for c in marks if c.kind == checkpoints.ANCHOR] == [
        (checkpoints.ANCHOR, 3, old[-1].digest)
    ]
    assert max(c.seq for c in marks if c.kind == checkpoints.HEAD) == 5
    verdict = oplog.verify()
    assert verdict.ok and verdict.checked == 2
    # ... and cutting the remaining log short after the purge is still named, from the purge on.
    as_attacker("TRUNCATE booking_operationlogentry")
    assert oplog.verify().reason.startswith("missing entries 4–5")


def test_an_anchor_moved_past_the_last_purge_is_detected() -> None:
    long_ago = timezone.now() - dt.timedelta(days=400)
    write(3, now=long_ago)
    entries = write(6)
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"operation_log_retention_days": 366})
    oplog.purge_expired(timezone.now())
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq <= 6")
    OperationLogAnchor.objects.filter(singleton=True).update(seq=6, digest=entries[2].digest)
    verdict = oplog.verify()
    assert not verdict.ok and verdict.reason.startswith("missing entries 4–6")


def test_the_first_checkpoint_adopts_an_anchor_made_before_checkpoints_existed() -> None:
    entries = write(4)
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq <= 2")  # a purge of before this release
    OperationLogAnchor.objects.create(singleton=True, seq=2, digest=entries[1].digest)
    assert oplog.checkpoint() == 4
    assert oplog.verify().ok


def test_checkpoints_are_append_only_in_the_database() -> None:
    write(2)
    oplog.checkpoint()
    for statement in (
        "UPDATE public.tenants_oplogcheckpoint SET seq = 1",
        "DELETE FROM public.tenants_oplogcheckpoint",
        "TRUNCATE public.tenants_oplogcheckpoint",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement)
    assert checkpoints.newest_checkpoint("kyoto", checkpoints.HEAD) is not None


def test_a_forged_checkpoint_proves_nothing_and_is_named() -> None:
    write(2)
    oplog.checkpoint()
    with connection.cursor() as cursor:  # inserting is allowed: the tenant's code must be able to add notes
        cursor.execute(
            "INSERT INTO public.tenants_oplogcheckpoint (schema_name, kind, seq, digest, at, signature) "
            "VALUES ('kyoto', 'head', 1, 'x', now(), 'not a signature')"
        )
    verdict = oplog.verify()
    assert not verdict.ok and verdict.reason == "checkpoint 1 is forged (database)"


def test_a_table_of_the_same_name_in_the_tenants_schema_does_not_shadow_the_checkpoints() -> None:
    write(10)
    oplog.checkpoint()
    with connection.cursor() as cursor:  # the tenant's role may create tables in its own schema
        cursor.execute("CREATE TABLE kyoto.tenants_oplogcheckpoint (LIKE public.tenants_oplogcheckpoint)")
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq > 5")
    assert oplog.verify().reason.startswith("missing entries 6–10")


# --- the write-once copy: S3 Object Lock, against moto's S3-compatible server ---


@pytest.fixture
def locked_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """A bucket created with Object Lock on this module's own moto server (locked objects never go, so
    the bucket lives and dies with the module)."""
    monkeypatch.setenv("OPLOG_CHECKPOINT_S3_BUCKET", LOCKED_BUCKET)
    monkeypatch.setenv("OPLOG_CHECKPOINT_S3_PREFIX", "oplog")
    monkeypatch.setenv("OPLOG_CHECKPOINT_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    store = write_once_store()
    assert store is not None
    with contextlib.suppress(store.client.exceptions.BucketAlreadyOwnedByYou):
        store.client.create_bucket(
            Bucket=LOCKED_BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
    return store.client


def test_checkpoints_outlive_a_superuser_in_write_once_storage(
    locked_bucket: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    schema = f"kyoto-{timezone.now().timestamp():.0f}"  # the bucket outlives each test's transaction
    write(12)
    with django_capture_on_commit_callbacks(execute=True):
        checkpoints.record_checkpoint(
            schema, 12, OperationLogEntry.objects.get(seq=12).digest, timezone.now()
        )
    listed = locked_bucket.list_objects_v2(Bucket=LOCKED_BUCKET, Prefix=f"oplog/{schema}/head/")["Contents"]
    assert len(listed) == 1
    key = listed[0]["Key"]
    head = locked_bucket.head_object(Bucket=LOCKED_BUCKET, Key=key)  # (moto's GetObjectRetention fails)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > timezone.now() + dt.timedelta(days=399)
    version = head["VersionId"]
    with pytest.raises(locked_bucket.exceptions.ClientError, match="AccessDenied"):
        locked_bucket.delete_object(Bucket=LOCKED_BUCKET, Key=key, VersionId=version)
    locked_bucket.delete_object(Bucket=LOCKED_BUCKET, Key=key)  # only a delete marker: the version stays

    # A superuser empties the log and the checkpoint table: the database alone no longer knows ...
    as_attacker("TRUNCATE booking_operationlogentry")
    as_attacker("DELETE FROM public.tenants_oplogcheckpoint WHERE schema_name = %s", [schema])
    found = checkpoints.checkpoints_for(schema, object_store=True)
    assert [(c.kind, c.seq, c.genuine, c.source) for c in found] == [("head", 12, True, "object store")]
    assert checkpoints.checkpoints_for(schema) == []


def test_verify_command_reads_the_write_once_copies(
    locked_bucket: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The only test here that writes under `kyoto/` in the bucket: its locked object stays there."""
    write(7)
    with django_capture_on_commit_callbacks(execute=True):
        assert oplog.checkpoint() == 7
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq > 3")
    as_attacker("DELETE FROM public.tenants_oplogcheckpoint WHERE schema_name = 'kyoto'")
    assert oplog.verify().ok  # the table's rows are gone too: only the locked copy remembers
    with pytest.raises(CommandError, match="missing entries 4–7"):
        verify_command()
