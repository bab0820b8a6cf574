"""Reads of the vendor console."""

from __future__ import annotations

from console.models import Heartbeat, VendorLogEntry


def latest_heartbeat() -> Heartbeat | None:
    return Heartbeat.objects.order_by("-recorded_at").first()


def client_key(address: str) -> str:
    """The Redis key counting failed vendor sign-ins from one client address."""
    return f"vendor-sign-in-failures:{address or 'unknown'}"


def vendor_log_page(limit: int = 200) -> list[VendorLogEntry]:
    return list(VendorLogEntry.objects.order_by("-seq")[:limit])
