"""A municipality's waiting room switched on with small limits, and the line read back from real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from console.models import WaitingRoom
from console.waiting_room import redis_line as queue
from console.waiting_room import rules
from tests.conftest import KYOTO_HOST, Tenants


@pytest.fixture(autouse=True)
def _fresh_rules() -> Iterator[None]:
    """The gate keeps the limits in memory for a few seconds: every test reads its own rows."""
    rules.forget()
    yield
    rules.forget()


@pytest.fixture
def open_room(tenants: Tenants, db: None) -> Callable[..., WaitingRoom]:
    """Switch Kyoto's room on with these limits (in the test's transaction, which the test client shares)."""

    def switch_on(
        active: int = 1, per_minute: int = 100, idle_minutes: int = 15, tenant: Any = None
    ) -> WaitingRoom:
        room, _ = WaitingRoom.objects.update_or_create(
            tenant=tenant or tenants.kyoto,
            defaults={
                "enabled": True,
                "active_limit": active,
                "per_minute": per_minute,
                "idle_minutes": idle_minutes,
            },
        )
        rules.forget()
        return room

    return switch_on


def line(schema: str = "kyoto") -> queue.Line:
    cache: Any = caches["default"]
    return queue.Line(cache.raw_client(), schema)


def visitor() -> Client:
    return Client(HTTP_HOST=KYOTO_HOST)


def queued(response: Any) -> bool:
    return (
        response.status_code in (200, 503)
        and "mg_wr_ticket" in response.cookies
        and (response.headers.get("Retry-After") == str(queue.REFRESH_SECONDS))
    )
