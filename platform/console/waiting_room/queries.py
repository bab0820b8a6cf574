"""Reads of the waiting room for the vendor console: each municipality's limits, events and live line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.utils import timezone

from booking import provisioning
from console.models import QueueEvent, WaitingRoom
from console.waiting_room import redis_line as queue
from console.waiting_room.rules import limits_for
from tenants.lifecycle import in_schema_of
from tenants.models import Municipality
from tenants.queries import customer_tenants
from tenants.services import ProvisioningError


@dataclass(frozen=True)
class RoomRow:
    tenant: Municipality
    room: WaitingRoom | None
    limits: queue.Limits | None  # in force now; None: off
    stats: queue.Stats | None  # None: off, or Redis did not answer
    redis_down: bool
    next_event: QueueEvent | None


def room_rows(now: dt.datetime | None = None) -> list[RoomRow]:
    """Every municipality with what its room admits now and its line as Redis sees it."""
    now = now or timezone.now()
    rooms = {room.tenant_id: room for room in WaitingRoom.objects.all()}
    upcoming: dict[int, QueueEvent] = {}
    for event in QueueEvent.objects.filter(ends_at__gt=now).order_by("starts_at"):
        upcoming.setdefault(event.tenant_id, event)
    rows = []
    for tenant in customer_tenants():
        limits = limits_for(tenant.pk, now)
        stats, down = (None, False) if limits is None else _stats(tenant.schema_name, now, limits)
        rows.append(RoomRow(tenant, rooms.get(tenant.pk), limits, stats, down, upcoming.get(tenant.pk)))
    return rows


def _stats(schema: str, now: dt.datetime, limits: queue.Limits) -> tuple[queue.Stats | None, bool]:
    cache: Any = caches["default"]
    try:
        return queue.Line(cache.raw_client(), schema).stats(now.timestamp(), limits), False
    except Exception:  # noqa: BLE001 - the page says Redis is away (the gate is open then)
        return None, True


def room_of(tenant: Municipality) -> WaitingRoom:
    """The municipality's standing limits (an unsaved row with the defaults when none was set yet)."""
    return WaitingRoom.objects.filter(tenant=tenant).first() or WaitingRoom(tenant=tenant)


def events_of(tenant: Municipality, now: dt.datetime | None = None) -> list[QueueEvent]:
    """Events not yet ended, soonest first."""
    return list(
        QueueEvent.objects.filter(tenant=tenant, ends_at__gt=now or timezone.now()).order_by("starts_at")
    )


def hold_minutes(tenant: Municipality) -> int:
    """How long the municipality holds a resident's chosen time (its staff set it, 10 minutes by default); the
    default when its schema is missing (its site answers 503 then, and holds nothing)."""
    try:
        with in_schema_of(tenant):
            return provisioning.hold_minutes()
    except ProvisioningError:
        return provisioning.DEFAULT_HOLD_MINUTES
