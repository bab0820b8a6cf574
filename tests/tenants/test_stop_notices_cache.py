"""The stops' notices kept in each process (issue 12): no query per request while nobody changes a stop, yet
a stop recorded or deleted anywhere is seen by the very next read; what is kept is read again after
KEPT_SECONDS; Redis away reads the database, right as before.

What is kept is used only outside a transaction, and this test's own connection sits in one (rolled back):
the reads under test run on connections of their own (threads), and the stops they must see are committed,
then removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.core.cache import caches
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from console import announcements, vendor_log
from console.models import PlannedStop
from console.services import do_delete_stops, do_record_stop
from madoguchi.watched_hashes import WatchedHashes
from tests.conftest import Tenants
from tests.vendor_helpers import operator_client

pytestmark = pytest.mark.django_db

T = TypeVar("T")
ACTOR = "stop-notices-cache-test"
OPS = vendor_log.Actor(ACTOR, None, "127.0.0.1")
REASON = "緊急メンテナンスのため（キャッシュの試験）"


def elsewhere(fn: Callable[[], T]) -> T:
    """Run on a connection of its own, outside any transaction: what another request of this process does."""

    def run() -> T:
        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _remove_committed() -> None:
    PlannedStop.objects.filter(reason__startswith=REASON).delete()
    # the vendor log refuses DELETE by trigger; a test goes around it as only a superuser can
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM console_vendorlogentry WHERE actor = %s", [ACTOR])


@pytest.fixture(autouse=True)
def fresh(tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> Iterator[WatchedHashes]:
    """This test's own watch (a channel of its own) and nothing kept; committed stops removed afterwards."""
    watched = WatchedHashes(f"test:stop-notices:{secrets.token_hex(6)}")
    monkeypatch.setattr(announcements, "_WATCHED", watched)
    monkeypatch.setattr(announcements, "_kept", None)
    try:
        yield watched
    finally:
        watched.forget()
        elsewhere(_remove_committed)


def emergency(tenant: Any, *, reason: str = REASON) -> PlannedStop:
    now = timezone.now()
    return PlannedStop(
        tenant=tenant,
        kind=PlannedStop.Kind.EMERGENCY,
        starts_at=now - dt.timedelta(minutes=1),
        ends_at=now + dt.timedelta(hours=1),
        reason=reason,
        reason_en="for an emergency",
    )


def reasons(tenant_id: int, now: dt.datetime | None = None) -> list[str]:
    return [notice.reason_ja for notice in elsewhere(lambda: announcements.notices_for(tenant_id, now))]


def queries_of(fn: Callable[[], Any]) -> int:
    def counted() -> int:
        with CaptureQueriesContext(connection) as queries:
            fn()
        return sum("console_plannedstop" in q["sql"] for q in queries.captured_queries)

    return elsewhere(counted)


def test_a_stop_recorded_is_seen_at_once_then_kept_for_every_municipality(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(announcements, "KEPT_SECONDS", 3600.0)  # "kept" whatever a loaded machine's pace
    kyoto, mihon = tenants.kyoto.pk, tenants.mihon.pk
    assert reasons(kyoto) == []
    stop = elsewhere(lambda: do_record_stop(emergency(None), actor=OPS))  # every municipality
    assert reasons(kyoto) == [REASON]  # the very next read, no waiting
    # kept now: neither municipality reads the table again (one read serves all of them)
    assert queries_of(lambda: announcements.notices_for(kyoto)) == 0
    assert queries_of(lambda: announcements.notices_for(mihon)) == 0
    notice = elsewhere(lambda: announcements.notices_for(mihon))[0]
    assert notice.emergency and notice.site_down and notice.ongoing and notice.ends_at == stop.ends_at


def test_a_stop_of_one_municipality_is_not_anothers_and_order_is_by_start(tenants: Tenants) -> None:
    later = emergency(tenants.kyoto, reason=f"{REASON}2")
    later.starts_at += dt.timedelta(minutes=30)
    elsewhere(lambda: do_record_stop(later, actor=OPS))
    elsewhere(lambda: do_record_stop(emergency(None), actor=OPS))
    assert reasons(tenants.kyoto.pk) == [REASON, f"{REASON}2"]
    assert reasons(tenants.mihon.pk) == [REASON]


def test_a_move_by_another_process_is_seen_by_the_next_read(
    tenants: Tenants, fresh: WatchedHashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(announcements, "KEPT_SECONDS", 3600.0)  # only the move may make it read again
    kyoto = tenants.kyoto.pk
    assert reasons(kyoto) == []
    # committed by a process whose move has not come yet (the row alone): this process keeps what it read
    elsewhere(lambda: PlannedStop.objects.create(**_fields(emergency(tenants.kyoto))))
    assert reasons(kyoto) == []
    # the other process's move: its own watch on the same channel, through the real Redis
    other = WatchedHashes(fresh.channel)
    cache = caches["default"]
    client = cache.raw_client()  # type: ignore[attr-defined]
    other.incr(client, announcements._gen_key(cache.key_prefix), "n")
    client.ping()  # its message out to the subscribers (test_watched_hashes.delivered says why)
    assert reasons(kyoto) == [REASON]
    other.forget()


def test_a_deleted_stop_is_gone_at_once(tenants: Tenants) -> None:
    kyoto = tenants.kyoto.pk
    stop = elsewhere(lambda: do_record_stop(emergency(tenants.kyoto), actor=OPS))
    assert reasons(kyoto) == [REASON]
    elsewhere(lambda: do_delete_stops(PlannedStop.objects.filter(pk=stop.pk)))
    assert reasons(kyoto) == []


def test_what_is_kept_is_read_again_after_kept_seconds(tenants: Tenants) -> None:
    kyoto, now = tenants.kyoto.pk, timezone.now()
    assert reasons(kyoto, now) == []
    elsewhere(lambda: PlannedStop.objects.create(**_fields(emergency(tenants.kyoto))))  # its move lost
    almost = now + dt.timedelta(seconds=announcements.KEPT_SECONDS - 0.1)
    assert reasons(kyoto, almost) == []
    assert reasons(kyoto, now + dt.timedelta(seconds=announcements.KEPT_SECONDS)) == [REASON]


def test_time_alone_starts_and_ends_a_notice_that_is_kept(tenants: Tenants) -> None:
    kyoto, now = tenants.kyoto.pk, timezone.now()
    stop = emergency(tenants.kyoto)
    stop.announced_from = now + dt.timedelta(seconds=1)
    stop.starts_at, stop.ends_at = now + dt.timedelta(seconds=2), now + dt.timedelta(seconds=3)
    elsewhere(lambda: do_record_stop(stop, actor=OPS))
    assert reasons(kyoto, now) == []
    assert queries_of(lambda: announcements.notices_for(kyoto, now + dt.timedelta(seconds=1))) == 0
    assert reasons(kyoto, now + dt.timedelta(seconds=1)) == [REASON]
    assert not elsewhere(lambda: announcements.notices_for(kyoto, now + dt.timedelta(seconds=1)))[0].ongoing
    assert elsewhere(lambda: announcements.notices_for(kyoto, now + dt.timedelta(seconds=2)))[0].ongoing
    assert reasons(kyoto, now + dt.timedelta(seconds=3)) == []


def test_redis_away_reads_the_database_and_is_right(tenants: Tenants, settings: Any) -> None:
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",  # nobody listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    kyoto = tenants.kyoto.pk
    assert reasons(kyoto) == []
    stop = elsewhere(lambda: do_record_stop(emergency(tenants.kyoto), actor=OPS))  # recorded all the same
    assert reasons(kyoto) == [REASON]
    assert queries_of(lambda: announcements.notices_for(kyoto)) == 1  # nothing kept: read each time
    elsewhere(lambda: PlannedStop.objects.filter(pk=stop.pk).delete())
    assert reasons(kyoto) == []


def test_a_cache_without_redis_reads_the_database(tenants: Tenants, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    elsewhere(lambda: do_record_stop(emergency(tenants.kyoto), actor=OPS))
    assert reasons(tenants.kyoto.pk) == [REASON]
    assert queries_of(lambda: announcements.notices_for(tenants.kyoto.pk)) == 1


def test_the_admins_deletes_tell_every_process(
    tenants: Tenants, django_user_model: Any, django_capture_on_commit_callbacks: Any
) -> None:
    operator = django_user_model.objects.create_superuser("ops", password="Ops-Console1!")
    client = operator_client(operator, TOTPDevice.objects.create(user=operator, name="t", confirmed=True))
    one, two, three = (PlannedStop.objects.create(**_fields(emergency(None))) for _ in range(3))
    with django_capture_on_commit_callbacks() as moves:
        response = client.post(f"/admin/console/plannedstop/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and announcements._move in moves
    with django_capture_on_commit_callbacks() as moves:
        response = client.post(
            "/admin/console/plannedstop/",
            {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
        )
    assert response.status_code == 302 and announcements._move in moves
    assert not PlannedStop.objects.exists()


def _fields(stop: PlannedStop) -> dict[str, Any]:
    return {
        "tenant": stop.tenant,
        "kind": stop.kind,
        "starts_at": stop.starts_at,
        "ends_at": stop.ends_at,
        "reason": stop.reason,
        "reason_en": stop.reason_en,
    }
