"""The named interface through which a tenant's pages read the control plane's stops (SO-01).

`notices_for(tenant_id, now)`: the stops to announce now, from their `announced_from` to their end.
`notices_for_request(request)`: the same, read once per request (every page's notice, the write refusal).
`site_down_now(notices, now)`: the ongoing stop that refuses residents' writes, if any.
`stops_changed()`: what every service writing a PlannedStop calls, in its transaction.

Every citizen write and page asks, so the stops are not read from the database per request (issue 12): each
process keeps the stops not yet ended, of every municipality (they are few, and one read then serves every
municipality the process answers for), under one generation number in Redis, read through
`madoguchi.watched_hashes` (no round trip while nobody changes a stop). `stops_changed` moves that number
when the change commits, and Redis tells every process before its next read; what a process keeps is also
read again at least every `KEPT_SECONDS`, so a move lost in a failover is missed no longer. Redis away, or a
connection in a transaction (it may hold a stop change of its own, not committed): read from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language

from console.models import PlannedStop
from madoguchi.cache import shared_redis
from madoguchi.watched_hashes import WatchedHashes

logger = logging.getLogger(__name__)

TOKYO = ZoneInfo("Asia/Tokyo")
_REQUEST_CACHE = "_stop_notices"
# What a process keeps is read again after this long even if no move was seen (as the waiting room's rules,
# console.waiting_room.rules.CACHE_SECONDS): a move lost in a failover is missed at most this long.
KEPT_SECONDS = 5.0


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


@dataclass(frozen=True)
class _Stop:
    """A PlannedStop as kept in memory: only what a notice needs, and immutable (threads share it)."""

    tenant_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    announced_from: dt.datetime
    reason_ja: str
    reason_en: str
    emergency: bool
    site_down: bool

    def shown(self, tenant_id: int, now: dt.datetime) -> bool:
        return self.tenant_id in (None, tenant_id) and self.announced_from <= now < self.ends_at

    def notice(self, now: dt.datetime) -> Notice:
        return Notice(
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            reason_ja=self.reason_ja,
            reason_en=self.reason_en,
            emergency=self.emergency,
            site_down=self.site_down,
            ongoing=self.starts_at <= now,
        )


@dataclass(frozen=True)
class _Kept:
    generation: tuple[str, int]  # (the generation's key, with the cache's key prefix; its number)
    read_at: dt.datetime  # the stops that had not ended then
    stops: tuple[_Stop, ...]


_kept: _Kept | None = None  # replaced whole, never changed: a reading thread sees one or the other
# every move is published here (its own channel: the availability generations' are many and busier)
_WATCHED = WatchedHashes("madoguchi:stop-notices")


def notices_for(tenant_id: int, now: dt.datetime | None = None) -> list[Notice]:
    """Stops of this municipality, or of all of them, announced by now and not yet ended, by start."""
    now = now or timezone.now()
    return [stop.notice(now) for stop in _stops(tenant_id, now) if stop.shown(tenant_id, now)]


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


def stops_changed() -> None:
    """Every process reads the stops again once this transaction commits (at once outside a transaction).

    The one home of "stops changed": every service that saves or deletes a PlannedStop calls it."""
    transaction.on_commit(_move, robust=True)


# --- the kept stops ----------------------------------------------------------------------------------------


def _stops(tenant_id: int, now: dt.datetime) -> tuple[_Stop, ...]:
    """The stops not ended by `now`: the kept ones when their generation is current, else from the database
    (then kept, all municipalities' at once); a superset of what the municipality shows, in start order."""
    global _kept
    if connection.in_atomic_block:
        return _read(now, tenant_id)  # its own uncommitted change is in nobody's memory
    generation = _generation()
    if generation is None:
        return _read(now, tenant_id)
    kept = _kept
    if (
        kept is not None
        and kept.generation == generation
        and kept.read_at <= now < kept.read_at + dt.timedelta(seconds=KEPT_SECONDS)
    ):
        return kept.stops
    # read after the generation: a change committed meanwhile is in what is read, or moves the number again
    stops = _read(now)
    _kept = _Kept(generation, now, stops)
    return stops


def _read(now: dt.datetime, tenant_id: int | None = None) -> tuple[_Stop, ...]:
    """The stops not ended by `now` (of every municipality, or those one shows now). One query."""
    rows = PlannedStop.objects.filter(ends_at__gt=now)
    if tenant_id is not None:
        rows = rows.filter(Q(tenant_id=tenant_id) | Q(tenant__isnull=True), announced_from__lte=now)
    return tuple(
        _Stop(
            tenant_id=stop.tenant_id,
            starts_at=stop.starts_at,
            ends_at=stop.ends_at,
            announced_from=stop.announced_from,
            reason_ja=stop.reason,
            reason_en=stop.reason_en,
            emergency=stop.kind == PlannedStop.Kind.EMERGENCY,
            site_down=stop.site_down,
        )
        for stop in rows.order_by("starts_at", "pk")
    )


def _gen_key(prefix: str) -> str:
    return f"{prefix}:stop-notices-gen"


def _generation() -> tuple[str, int] | None:
    """The stops' generation (key, number), or None: read the database this time."""
    found = shared_redis()
    if found is None:
        return None
    cache, client = found
    key = _gen_key(cache.key_prefix)
    try:
        (number,) = _WATCHED.numbers(client, [key])
    except Exception as error:  # noqa: BLE001 - Redis away: the breaker leaves it alone a while
        cache.note_failure(error)
        return None
    return None if number is None else (key, number)


def _move() -> None:
    """Move the generation: every process's kept stops are left behind (this one's at once, Redis or not)."""
    global _kept
    _kept = None
    found = shared_redis()
    if found is None:
        return  # others keep theirs at most KEPT_SECONDS
    cache, client = found
    try:
        _WATCHED.move(client, _gen_key(cache.key_prefix))
    except Exception as error:  # noqa: BLE001 - a stop is recorded whether Redis is there or not
        cache.note_failure(error)
        logger.warning(
            "stop notices: generation not moved (%s); others catch up within %ss", error, KEPT_SECONDS
        )
