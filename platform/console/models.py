"""Control-plane data of our own operations (public schema)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """A minute-by-minute record that the worker, the database and Redis were up.

    The gaps between heartbeats are the service's measured stops: the raw data of the monthly
    availability report (BK-08).
    """

    recorded_at = models.DateTimeField("記録日時", db_index=True)
    database_ok = models.BooleanField(default=True)
    cache_ok = models.BooleanField(default=True)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = "ハートビート"

    def __str__(self) -> str:
        return f"{self.recorded_at:%Y-%m-%d %H:%M}"


class PlannedStop(models.Model):
    """A planned stop of the service (maintenance), for one municipality or all of them (SO-01, MT-03).

    The specification asks for the municipality's written approval 30 days ahead and for the stop to be
    announced on the top page beforehand: the console refuses a stop approved later than that, and every
    affected municipality's top page shows it until it ends.
    """

    tenant = models.ForeignKey(
        "tenants.Municipality",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="planned_stops",
        help_text="空欄なら全ての自治体",
    )
    starts_at = models.DateTimeField("停止開始")
    ends_at = models.DateTimeField("停止終了")
    reason = models.CharField("お知らせ（日本語）", max_length=200, default="システムメンテナンスのため")
    reason_en = models.CharField("お知らせ（英語）", max_length=200, default="for system maintenance")
    approved_on = models.DateField("自治体の承認日")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = "計画停止"
        verbose_name_plural = "計画停止"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="stop_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} {self.tenant or 'all'}"
