"""Attempts run at once over real connections, as concurrent requests would (no mocked locks)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from django_tenants.utils import schema_context

from booking.access.accounts import StaffLoginRefused
from booking.citizen.login import LoginRefused
from booking.engine.services import BookingError

# The refusals an attempt may end in; each carries the code it was refused with.
REFUSALS: tuple[type[Exception], ...] = (BookingError, LoginRefused, StaffLoginRefused)


def race(attempts: list[Callable[[], object]]) -> Counter[str]:
    """Run the attempts at once, each in a thread with a database connection of its own in Kyoto's schema,
    released together by a barrier; the outcome of each is "ok" or the code it was refused with."""
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], object]) -> str:
        try:
            with schema_context("kyoto"):
                barrier.wait(timeout=30)
                attempt()
                return "ok"
        except REFUSALS as refusal:
            return str(refusal.code)  # type: ignore[attr-defined]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return Counter(pool.map(run, attempts))
