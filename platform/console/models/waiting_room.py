"""The virtual waiting room's admission limits per municipality, set by our operators (issue 12, item 3).

Public schema: the limits protect the shared platform, so our operators set them, not the municipality.
The queue itself (tickets, passes, admissions) lives in Redis (`console.waiting_room.redis_line`); these rows
only say how many residents each municipality's site admits, and when.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Defaults for a room switched on without figures of its own: a site that serves ~100 bookings a second
# (docs/performance.md) is calm with a few hundred residents inside and as many arriving each minute.
DEFAULT_ACTIVE_LIMIT = 500
DEFAULT_PER_MINUTE = 200
DEFAULT_IDLE_MINUTES = 15  # longer than a held time (10 min), so a resident confirming keeps their pass


class WaitingRoom(models.Model):
    """A municipality's standing limits: when `enabled`, residents beyond them wait in line.

    A running `QueueEvent` replaces these limits (and switches the room on) for its hours.
    """

    tenant = models.OneToOneField(
        "tenants.Municipality",
        on_delete=models.CASCADE,
        related_name="waiting_room",
        verbose_name=_("自治体"),
    )
    enabled = models.BooleanField(_("待合室を使う"), default=False)
    active_limit = models.PositiveIntegerField(_("同時に利用できる住民の数"), default=DEFAULT_ACTIVE_LIMIT)
    per_minute = models.PositiveIntegerField(_("1分間に新たに案内する住民の数"), default=DEFAULT_PER_MINUTE)
    idle_minutes = models.PositiveSmallIntegerField(
        _("操作がないまま利用枠を保つ時間（分）"), default=DEFAULT_IDLE_MINUTES
    )
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    updated_by = models.CharField(_("更新した運用者"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("待合室")
        verbose_name_plural = pgettext_lazy("plural", "待合室")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(active_limit__gte=1, per_minute__gte=1, idle_minutes__gte=1),
                name="waiting_room_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.active_limit}/{self.per_minute}"


class QueueEvent(models.Model):
    """A scheduled queueing event ("the day the letters arrive"): its own limits from start to end.

    Events of one municipality never overlap (`console.waiting_room.services.do_schedule_queue_event`).
    """

    tenant = models.ForeignKey(
        "tenants.Municipality",
        on_delete=models.CASCADE,
        related_name="queue_events",
        verbose_name=_("自治体"),
    )
    name = models.CharField(_("名前"), max_length=100)
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    active_limit = models.PositiveIntegerField(_("同時に利用できる住民の数"))
    per_minute = models.PositiveIntegerField(_("1分間に新たに案内する住民の数"))
    created_by = models.CharField(_("登録した運用者"), max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("待合室の予定")
        verbose_name_plural = pgettext_lazy("plural", "待合室の予定")
        indexes = [models.Index(fields=["tenant", "ends_at"], name="queue_event_tenant_ends")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="queue_event_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(active_limit__gte=1, per_minute__gte=1), name="queue_event_limits_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.starts_at:%Y-%m-%d %H:%M}"
