"""Reports sent (CC-05), so a retried task sends once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Report(models.Model):
    """A daily or monthly call-center report (CC-05); one row per period, so one is never sent twice."""

    class Period(models.TextChoices):
        DAY = "day", _("日報")
        MONTH = "month", _("月報")

    period = models.CharField(max_length=5, choices=Period.choices)
    starts_on = models.DateField("対象期間の初日")
    sent_at = models.DateTimeField("送信日時", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("送信試行回数", default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [models.UniqueConstraint(fields=["period", "starts_on"], name="report_once_per_period")]

    def __str__(self) -> str:
        return f"{self.period} {self.starts_on}"
