"""Celery runs against the real Redis broker and writes through the real database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from console.models import Heartbeat
from console.services import do_record_heartbeat
from console.tasks import record_heartbeat

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db


def test_heartbeat_records_and_purges_old_rows() -> None:
    old = Heartbeat.objects.create(recorded_at=timezone.now() - dt.timedelta(days=401))
    beat = do_record_heartbeat()
    assert beat.database_ok and beat.cache_ok
    assert not Heartbeat.objects.filter(pk=old.pk).exists()


def test_a_task_sent_through_redis_is_run_by_a_worker() -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"  # its own queue, so a developer's running worker cannot take it
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "madoguchi",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        before = Heartbeat.objects.count()
        record_heartbeat.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while Heartbeat.objects.count() == before:
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # The worker committed outside this test's transaction: remove what it wrote.
    Heartbeat.objects.filter(recorded_at__gte=timezone.now() - dt.timedelta(minutes=5)).delete()
