"""Reads of the vendor console."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.utils import timezone

from console.models import Heartbeat, OperatorSignIn, VendorLogEntry


def latest_heartbeat() -> Heartbeat | None:
    return Heartbeat.objects.order_by("-recorded_at").first()


def client_key(address: str) -> str:
    """The Redis key counting failed vendor sign-ins from one client address."""
    return f"vendor-sign-in-failures:{address or 'unknown'}"


def client_failures(address: str) -> int:
    """Failed vendor sign-ins from this client address in the current window (0 when Redis is away)."""
    try:
        return int(cache.get(client_key(address)) or 0)
    except Exception:  # noqa: BLE001 - a failing cache does not stop sign-in (services.record_client_failure)
        return 0


def sign_in_locked(username: str, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return OperatorSignIn.objects.filter(user__username=username, locked_until__gt=now).exists()


def vendor_log_page(limit: int = 200) -> list[VendorLogEntry]:
    return list(VendorLogEntry.objects.order_by("-seq")[:limit])
