"""The operation log: append-only in PostgreSQL, HMAC-chained, verifiable, purged with its chain intact
(SO-14, SO-06)."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.models import OperationLogEntry, StaffSecurity
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db
ACTOR = oplog.Actor(7, "admin01", "192.0.2.10")


def write(count: int) -> list[OperationLogEntry]:
    return [
        oplog.record(ACTOR, "booking.view", f"booking {n}", {"n": n, "名前": "京都"}) for n in range(count)
    ]


def as_attacker(sql: str, params: list[Any]) -> None:
    """Someone with direct database access, going around the trigger."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def verify_command() -> str:
    out = StringIO()
    call_command("verify_oplog", "kyoto", stdout=out)
    return out.getvalue()


@pytest.mark.usefixtures("kyoto")
def test_entries_are_numbered_without_gaps_and_chained() -> None:
    entries = write(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.previous_digest == a.digest for a, b in zip(entries, entries[1:], strict=False))
    assert oplog.verify().ok and oplog.verify().checked == 5
    assert "5" in verify_command()


@pytest.mark.usefixtures("kyoto")
def test_a_rolled_back_operation_leaves_no_gap() -> None:
    write(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        oplog.record(ACTOR, "booking.cancel", "booking 9")
        raise RuntimeError("the operation failed")
    write(1)
    assert list(OperationLogEntry.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert oplog.verify().ok


@pytest.mark.usefixtures("kyoto")
def test_the_database_refuses_changes_and_deletes() -> None:
    entry = write(1)[0]
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        OperationLogEntry.objects.filter(seq=entry.seq).update(action="nothing")
    with pytest.raises(DatabaseError, match="retention purge"), transaction.atomic():
        OperationLogEntry.objects.filter(seq=entry.seq).delete()


@pytest.mark.usefixtures("kyoto")
def test_an_altered_row_is_named_by_verify() -> None:
    write(6)
    as_attacker("UPDATE booking_operationlogentry SET target = 'booking 99' WHERE seq = 4", [])
    verdict = oplog.verify()
    assert not verdict.ok and verdict.first_bad_seq == 4 and verdict.reason == "content altered"
    with pytest.raises(CommandError, match="番号 4"):
        verify_command()


@pytest.mark.usefixtures("kyoto")
def test_a_removed_row_is_named_by_verify() -> None:
    write(6)
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq = 3", [])
    verdict = oplog.verify()
    assert not verdict.ok and verdict.first_bad_seq == 3 and "missing" in verdict.reason


@pytest.mark.usefixtures("kyoto")
def test_a_rewritten_tail_without_the_key_is_detected() -> None:
    entries = write(4)
    # Renumber away entry 2 and relink 3 to 1: the attacker cannot recompute the HMAC without OPLOG_KEY.
    as_attacker("DELETE FROM booking_operationlogentry WHERE seq = 2", [])
    as_attacker(
        "UPDATE booking_operationlogentry SET previous_digest = %s WHERE seq = 3", [entries[0].digest]
    )
    as_attacker("UPDATE booking_operationlogentry SET seq = 2 WHERE seq = 3", [])
    verdict = oplog.verify()
    assert not verdict.ok and verdict.first_bad_seq == 2


@pytest.mark.usefixtures("kyoto")
def test_purge_removes_old_entries_and_the_chain_still_verifies() -> None:
    long_ago = timezone.now() - dt.timedelta(days=400)
    old = [oplog.record(ACTOR, "booking.view", f"old {n}", now=long_ago) for n in range(3)]
    recent = write(2)
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"operation_log_retention_days": 366})
    assert oplog.purge_expired(timezone.now()) == len(old)
    assert list(OperationLogEntry.objects.values_list("seq", flat=True)) == [e.seq for e in recent]
    verdict = oplog.verify()
    assert verdict.ok and verdict.checked == 2
    assert write(1)[0].seq == recent[-1].seq + 1 and oplog.verify().ok
    assert "3" in verify_command()


@pytest.mark.usefixtures("kyoto")
def test_purge_with_nothing_old_changes_nothing() -> None:
    write(2)
    assert oplog.purge_expired(timezone.now() + dt.timedelta(days=1)) == 0
    assert OperationLogEntry.objects.count() == 2


def test_each_tenant_has_its_own_chain(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        write(3)
    with schema_context("mihon"):
        assert write(1)[0].seq == 1
        assert oplog.verify().ok
