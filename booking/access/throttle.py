"""Slowing and then refusing repeated failed logins, per client address and per reservation number (BK-04).

Counts live in Redis (the cache, keyed per tenant). After SLOW_AFTER failures within the window each
further attempt must wait longer (1, 2, 4 … up to 60 seconds after the last failure); after LOCK_AFTER
failures the key is refused for LOCK_SECONDS. A success on a reservation number clears that number's count.
A client address gets more room than a number: many residents can share one address (a carrier's NAT,
a library), while one number belongs to one person.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
SLOW_AFTER = 3  # per reservation number
LOCK_AFTER = 10
CLIENT_SLOW_AFTER = 10  # per client address
CLIENT_LOCK_AFTER = 50
LOCK_SECONDS = 15 * 60
MAX_DELAY_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds
    locked: bool = False


def _key(kind: str, value: str) -> str:
    return f"login-failures:{kind}:{value}"


def keys_for(client: str, reservation_number: str) -> list[str]:
    keys = [_key("client", client or "unknown")]
    if reservation_number:
        keys.append(_key("number", reservation_number))
    return keys


def _states(keys: list[str]) -> dict[str, tuple[int, float]]:
    """The counts; when Redis does not answer, none (logins go on unthrottled rather than not at all)."""
    try:
        return dict(cache.get_many(keys))
    except Exception:  # noqa: BLE001 - any cache failure: the booking service must not stop with it
        logger.warning("login throttle: cache unavailable, not counting failures", exc_info=True)
        return {}


def verdict(keys: list[str], now: float | None = None) -> Verdict:
    now = time.time() if now is None else now
    worst = Verdict(allowed=True)
    for key, state in _states(keys).items():
        count, last = state
        slow_after, lock_after = (
            (CLIENT_SLOW_AFTER, CLIENT_LOCK_AFTER)
            if key.startswith(_key("client", ""))
            else (SLOW_AFTER, LOCK_AFTER)
        )
        if count >= lock_after:
            wait = int(last + LOCK_SECONDS - now) + 1
            if wait > 0 and wait >= worst.retry_after:
                worst = Verdict(allowed=False, retry_after=wait, locked=True)
        elif count >= slow_after:
            wait = int(last + min(2 ** (count - slow_after), MAX_DELAY_SECONDS) - now) + 1
            if wait > 0 and not worst.locked and wait >= worst.retry_after:
                worst = Verdict(allowed=False, retry_after=wait)
    return worst


def record_failure(keys: list[str], now: float | None = None) -> None:
    now = time.time() if now is None else now
    states = _states(keys)
    try:
        for key in keys:
            count, _ = states.get(key) or (0, now)
            cache.set(key, (count + 1, now), timeout=max(WINDOW_SECONDS, LOCK_SECONDS))
    except Exception:  # noqa: BLE001
        logger.warning("login throttle: cache unavailable, failure not counted", exc_info=True)


def record_success(reservation_number: str) -> None:
    try:
        cache.delete(_key("number", reservation_number))
    except Exception:  # noqa: BLE001
        logger.warning("login throttle: cache unavailable", exc_info=True)
