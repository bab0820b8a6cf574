"""Writes of the waiting room: our operators set a municipality's limits and schedule its queueing events.

Each write and its vendor-log entry commit together (console.vendor_log.record in the same transaction);
the rules cache of this process is dropped after the commit, and other processes follow within
console.waiting_room.rules.CACHE_SECONDS.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from console import vendor_log
from console.models import QueueEvent, WaitingRoom
from console.waiting_room import queries, rules
from tenants.models import Municipality

MAX_ACTIVE = 1_000_000
MAX_PER_MINUTE = 100_000
MAX_IDLE_MINUTES = 240


def limit_problems(
    active_limit: int, per_minute: int, idle_minutes: int | None = None, hold_minutes: int | None = None
) -> dict[str, str]:
    """What is wrong with these limits, field by field (empty: they may be saved). The idle time must be
    longer than the municipality's hold (`hold_minutes`, when given): a resident confirming a time they hold
    would otherwise lose their pass, and their booking's POST would wait in line unprocessed
    (docs/operations.md §2.7)."""
    problems: dict[str, str] = {}
    if not 1 <= active_limit <= MAX_ACTIVE:
        problems["active_limit"] = _(
            "同時に利用できる住民の数は1から%(max)dまでの整数で入力してください。"
        ) % {"max": MAX_ACTIVE}
    if not 1 <= per_minute <= MAX_PER_MINUTE:
        problems["per_minute"] = _("1分間に案内する住民の数は1から%(max)dまでの整数で入力してください。") % {
            "max": MAX_PER_MINUTE
        }
    if idle_minutes is not None and not 1 <= idle_minutes <= MAX_IDLE_MINUTES:
        problems["idle_minutes"] = _("利用枠を保つ時間は1から%(max)d分までで入力してください。") % {
            "max": MAX_IDLE_MINUTES
        }
    elif idle_minutes is not None and hold_minutes is not None and idle_minutes <= hold_minutes:
        problems["idle_minutes"] = _(
            "利用枠を保つ時間は、この自治体の予約の確保時間（%(hold)d分）より長くしてください。"
            "短いと、確保した時間を確定する前に住民の利用枠が切れ、予約が受け付けられません。"
        ) % {"hold": hold_minutes}
    return problems


def do_set_waiting_room(
    tenant: Municipality,
    *,
    enabled: bool,
    active_limit: int,
    per_minute: int,
    idle_minutes: int,
    actor: vendor_log.Actor,
) -> WaitingRoom:
    """Set a municipality's standing limits and switch its room on or off; ValidationError writes nothing.
    The idle time is held to the municipality's hold only for a room switched on: switching one off in an
    incident is never refused over a limit set before the rule."""
    hold = queries.hold_minutes(tenant) if enabled else None
    problems = limit_problems(active_limit, per_minute, idle_minutes, hold)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        room, _created = WaitingRoom.objects.select_for_update().get_or_create(tenant=tenant)
        room.enabled = enabled
        room.active_limit = active_limit
        room.per_minute = per_minute
        room.idle_minutes = idle_minutes
        room.updated_by = actor.name[:150]
        room.save()
        vendor_log.record(
            actor,
            "waiting_room.set",
            tenant.schema_name,
            enabled=enabled,
            active_limit=active_limit,
            per_minute=per_minute,
            idle_minutes=idle_minutes,
        )
        transaction.on_commit(lambda: rules.forget(tenant.pk))
    return room


def event_problems(
    tenant: Municipality,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    active_limit: int,
    per_minute: int,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    problems = limit_problems(active_limit, per_minute)
    now = now or timezone.now()
    if ends_at <= starts_at:
        problems["ends_at"] = _("終了は開始より後の日時にしてください。")
    elif ends_at <= now:
        problems["ends_at"] = _("終了がすでに過ぎています。これからの日時を入力してください。")
    overlapping = QueueEvent.objects.filter(
        tenant=tenant, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).first()
    if overlapping is not None and "ends_at" not in problems:
        problems["starts_at"] = _(
            "この時間は予定「%(name)s」と重なっています。重ならない時間にしてください。"
        ) % {"name": overlapping.name}
    return problems


def do_schedule_queue_event(
    tenant: Municipality,
    *,
    name: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    active_limit: int,
    per_minute: int,
    actor: vendor_log.Actor,
    now: dt.datetime | None = None,
) -> QueueEvent:
    """Schedule a queueing event (its own limits from start to end); refuses overlaps and past events."""
    with transaction.atomic():
        # one municipality's events are checked and added one at a time, so two never overlap
        Municipality.objects.select_for_update().filter(pk=tenant.pk).first()
        problems = event_problems(tenant, starts_at, ends_at, active_limit, per_minute, now)
        if not name.strip():
            problems["name"] = _("予定の名前を入力してください（例: 通知書の発送日）。")
        if problems:
            raise ValidationError(problems)
        event = QueueEvent.objects.create(
            tenant=tenant,
            name=name.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            active_limit=active_limit,
            per_minute=per_minute,
            created_by=actor.name[:150],
        )
        vendor_log.record(
            actor,
            "waiting_room.event",
            f"{tenant.schema_name} {event.name}",
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
            active_limit=active_limit,
            per_minute=per_minute,
        )
        transaction.on_commit(lambda: rules.forget(tenant.pk))
    return event


def do_cancel_queue_event(event: QueueEvent, *, actor: vendor_log.Actor) -> None:
    """Remove a scheduled (or running) event; the standing limits apply again."""
    tenant_id = event.tenant_id
    with transaction.atomic():
        vendor_log.record(
            actor,
            "waiting_room.event_cancel",
            f"{event.tenant.schema_name} {event.name}",
            starts_at=event.starts_at.isoformat(),
            ends_at=event.ends_at.isoformat(),
        )
        event.delete()
        transaction.on_commit(lambda: rules.forget(tenant_id))
