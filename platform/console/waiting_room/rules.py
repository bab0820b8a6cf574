"""Which limits a municipality's room applies now: a running event's, else the standing ones if switched on.

Read on every citizen request, so kept in this process's memory for `CACHE_SECONDS`: the rows are read at
most that often per process and municipality. An event's start and end are compared with the clock on
every request (its rows are cached, not the decision), so a scheduled event begins on time; an operator's
change reaches every process within `CACHE_SECONDS` (at once in the process that made it).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from console.models import QueueEvent, WaitingRoom
from console.waiting_room.redis_line import Limits

CACHE_SECONDS = 5.0
LOOKAHEAD = dt.timedelta(hours=1)  # events starting within this are cached with the room


@dataclass(frozen=True)
class _Event:
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    active: int
    per_minute: int


@dataclass(frozen=True)
class _Rows:
    room: WaitingRoom | None
    events: tuple[_Event, ...]
    read_at: float


_cache: dict[int, _Rows] = {}
_lock = threading.Lock()


def forget(tenant_id: int | None = None) -> None:
    """Drop the cached rows (of one municipality, or all): a change made in this process applies at once."""
    with _lock:
        if tenant_id is None:
            _cache.clear()
        else:
            _cache.pop(tenant_id, None)


def _rows(tenant_id: int, now: dt.datetime) -> _Rows:
    mono = time.monotonic()
    cached = _cache.get(tenant_id)
    if cached is not None and mono - cached.read_at < CACHE_SECONDS:
        return cached
    room = WaitingRoom.objects.filter(tenant_id=tenant_id).first()
    events = tuple(
        _Event(e.name, e.starts_at, e.ends_at, e.active_limit, e.per_minute)
        for e in QueueEvent.objects.filter(
            tenant_id=tenant_id, ends_at__gt=now, starts_at__lte=now + LOOKAHEAD
        ).order_by("starts_at")
    )
    rows = _Rows(room, events, mono)
    with _lock:
        _cache[tenant_id] = rows
    return rows


def limits_for(tenant_id: int, now: dt.datetime) -> Limits | None:
    """The limits in force for this municipality at `now`; None: the room is off (nobody queues)."""
    rows = _rows(tenant_id, now)
    idle = rows.room.idle_minutes if rows.room else WaitingRoom._meta.get_field("idle_minutes").default
    for event in rows.events:
        if event.starts_at <= now < event.ends_at:
            return Limits(event.active, event.per_minute, int(idle), event.name)
    if rows.room is not None and rows.room.enabled:
        return Limits(rows.room.active_limit, rows.room.per_minute, rows.room.idle_minutes)
    return None
