"""Celery runs against the real Redis broker and writes through the real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from console.models import Heartbeat
from console.services import do_record_heartbeat
from console.tasks import record_heartbeat
from tests.processes import celery_worker

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_heartbeat_records_and_purges_old_rows() -> None:
    old = Heartbeat.objects.create(recorded_at=timezone.now() - dt.timedelta(days=401))
    beat = do_record_heartbeat()
    assert beat.database_ok and beat.cache_ok
    assert not Heartbeat.objects.filter(pk=old.pk).exists()


def test_a_task_sent_through_redis_is_run_by_a_worker() -> None:
    with celery_worker() as worker:
        before = Heartbeat.objects.count()
        record_heartbeat.apply_async(queue=worker.queue)
        worker.wait_for(lambda: Heartbeat.objects.count() > before, "run the task")
    # The worker committed outside this test's transaction: remove what it wrote.
    Heartbeat.objects.filter(recorded_at__gte=timezone.now() - dt.timedelta(minutes=5)).delete()
