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
