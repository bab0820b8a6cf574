"""Reads of the vendor console."""

from __future__ import annotations

from console.models import Heartbeat


def latest_heartbeat() -> Heartbeat | None:
    return Heartbeat.objects.order_by("-recorded_at").first()
