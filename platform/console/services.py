"""Writes of the vendor console."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

from console.models import Heartbeat

HEARTBEAT_RETENTION = dt.timedelta(days=400)  # a year of availability reports, and a month's margin


def do_record_heartbeat() -> Heartbeat:
    try:
        cache.set("heartbeat", "1", 120)
        cache_ok = cache.get("heartbeat") == "1"
    except Exception:  # noqa: BLE001 - a failing cache is what the heartbeat records
        cache_ok = False
    now = timezone.now()
    beat = Heartbeat.objects.create(recorded_at=now, database_ok=True, cache_ok=cache_ok)
    Heartbeat.objects.filter(recorded_at__lt=now - HEARTBEAT_RETENTION).delete()
    return beat
