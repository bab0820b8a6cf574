"""How far a background job (a card import, a notice run) has got, for its page to show while it runs.

A job does its work in one transaction, which no other connection sees until it commits, so the job publishes
its figures to the cache (Redis) instead. The tenant's schema is in the key (and in the cache's own prefix):
jobs of two tenants never mix. Progress is a courtesy: a cache outage fails neither the job nor its page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from tenants.db import tenant_connection

logger = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600


def key(kind: str, job_id: int) -> str:
    """`kind` names the job's sort, e.g. "card-import"."""
    return f"{kind}-progress:{tenant_connection().schema_name}:{job_id}"


def publish(kind: str, job_id: int, figures: Any) -> None:
    try:
        cache.set(key(kind, job_id), figures, KEEP_SECONDS)
    except Exception:  # noqa: BLE001 - progress is a courtesy: a cache outage must not fail the job
        logger.warning("%s %s: cannot publish progress", kind.replace("-", " "), job_id, exc_info=True)


def published(kind: str, job_id: int) -> Any:
    """The figures last published, or None (none yet, expired, or the cache is down)."""
    try:
        return cache.get(key(kind, job_id))
    except Exception:  # noqa: BLE001 - as in publish
        return None
