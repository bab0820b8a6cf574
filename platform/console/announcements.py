"""The named interface through which a tenant's pages read the control plane's stops (SO-01).

`notices_for(tenant_id, now)`: the stops to announce now, from their `announced_from` to their end.
`notices_for_request(request)`: the same, read once per request (every page's notice, the write refusal).
`site_down_now(notices, now)`: the ongoing stop that refuses residents' writes, if any.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language

from console.models import PlannedStop

TOKYO = ZoneInfo("Asia/Tokyo")
_REQUEST_CACHE = "_stop_notices"


@dataclass(frozen=True)
class Notice:
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason_ja: str
    reason_en: str
    emergency: bool
    site_down: bool  # residents' booking writes are refused while it runs
    ongoing: bool

    @property
    def reason(self) -> str:
        """The reason in the page's language (Japanese where no English was written)."""
        return self.reason_en if self.english and self.reason_en else self.reason_ja

    @property
    def reason_lang(self) -> str:
        return "en" if self.english and self.reason_en else "ja"

    @property
    def english(self) -> bool:
        return (get_language() or "ja").startswith("en")

    @property
    def same_day(self) -> bool:
        """Starts and ends on one day in Tokyo: the notice writes the day once."""
        return self.starts_at.astimezone(TOKYO).date() == self.ends_at.astimezone(TOKYO).date()

    def retry_after(self, now: dt.datetime) -> int:
        """Seconds until the stop ends (the Retry-After of a refused write), at least 1."""
        return max(1, math.ceil((self.ends_at - now).total_seconds()))


def notices_for(tenant_id: int, now: dt.datetime | None = None) -> list[Notice]:
    """Stops of this municipality, or of all of them, announced by now and not yet ended. One query."""
    now = now or timezone.now()
    stops = PlannedStop.objects.filter(
        Q(tenant_id=tenant_id) | Q(tenant__isnull=True), announced_from__lte=now, ends_at__gt=now
    ).order_by("starts_at")
    return [
        Notice(
            starts_at=stop.starts_at,
            ends_at=stop.ends_at,
            reason_ja=stop.reason,
            reason_en=stop.reason_en,
            emergency=stop.kind == PlannedStop.Kind.EMERGENCY,
            site_down=stop.site_down,
            ongoing=stop.starts_at <= now,
        )
        for stop in stops
    ]


def notices_for_request(request: HttpRequest) -> list[Notice]:
    """notices_for the request's municipality, read at most once per request; none on the vendor console."""
    cached: list[Notice] | None = getattr(request, _REQUEST_CACHE, None)
    if cached is not None:
        return cached
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        notices: list[Notice] = []
    else:
        notices = notices_for(tenant.pk)
    setattr(request, _REQUEST_CACHE, notices)
    return notices


def site_down_now(notices: list[Notice], now: dt.datetime | None = None) -> Notice | None:
    """The ongoing stop that takes the site down for residents (the one ending last, if several)."""
    now = now or timezone.now()
    down = [n for n in notices if n.site_down and n.starts_at <= now < n.ends_at]
    return max(down, key=lambda n: n.ends_at, default=None)
