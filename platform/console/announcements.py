"""The named interface through which a tenant's pages read the control plane's planned stops (SO-01)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language

from console.models import PlannedStop

ANNOUNCE_DAYS = 60


@dataclass(frozen=True)
class Announcement:
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    ongoing: bool


def planned_stops_for(tenant_id: int, now: dt.datetime | None = None) -> list[Announcement]:
    """Stops of this municipality (or of all) that have not ended and start within the coming weeks."""
    now = now or timezone.now()
    english = (get_language() or "ja").startswith("en")
    stops = PlannedStop.objects.filter(
        Q(tenant_id=tenant_id) | Q(tenant__isnull=True),
        ends_at__gt=now,
        starts_at__lt=now + dt.timedelta(days=ANNOUNCE_DAYS),
    ).order_by("starts_at")
    return [
        Announcement(
            stop.starts_at,
            stop.ends_at,
            stop.reason_en if english and stop.reason_en else stop.reason,
            stop.starts_at <= now,
        )
        for stop in stops
    ]
