"""Which municipality a host belongs to, kept in each process's memory (issue 12: the cheap request path).

The host routing (madoguchi.middleware.TenantHostMiddleware) needs the municipality on every request. Read
from the database each time, that is a query (and a search_path round trip) per request for a row that
changes a few times a year. So each process keeps what it has looked up, hosts that are no domain included
(a flood of made-up Host headers must not reach the database either), and drops it all when the routing
changes anywhere:

- a change (`forget_routes`, called on commit by every service that writes a municipality or a domain:
  provisioning, domains, suspension, offboarding) clears this process's memory at once and moves a
  generation number in Redis;
- every process compares its memory's generation with Redis's at most every `CHECK_SECONDS`, so another
  process sees a suspension or a removed domain within that time;
- nothing is kept longer than `MAX_AGE_SECONDS` whatever Redis says (a bump lost while Redis was away);
  while Redis cannot be read, nothing is kept at all: the database answers each request, as before.

The cached municipality is handed out as a copy, so one request's attributes never reach another's.

A municipality whose schema is not in the database (a provisioning that stopped before making it, or a schema
lost: a restore is needed, docs/operations.md) is never routed: its search_path would fall through to the
public schema's tables of the same names (the operators' accounts and sessions). Its hosts get `Unavailable`,
which the host routing answers with a 503, and the lookup, repeated within MAX_AGE_SECONDS, sees it come back.
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Domain, Municipality
from tenants.queries import schema_present

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
MAX_AGE_SECONDS = 60.0
MAX_HOSTS = 10_000  # beyond this, memory starts over (made-up hosts cannot grow it without bound)
GENERATION_KEY = "tenants:routing:generation"


@dataclass(frozen=True)
class Unavailable:
    """A host of a municipality whose schema is missing: not served until it is made or restored."""

    schema_name: str


Route = Municipality | Unavailable | None


@dataclass
class _Memory:
    generation: int | None = None  # None: Redis not read (yet, or it failed): keep nothing
    checked_at: float = float("-inf")
    started_at: float = float("-inf")
    hosts: dict[str, Route] = field(default_factory=dict)


_memory = _Memory()
_lock = threading.Lock()


def _redis_generation() -> int | None:
    """The routing's generation in Redis (0 before any change), or None when Redis cannot be read."""
    with schema_context(
        get_public_schema_name()
    ):  # one key for every tenant (the cache's keys are per schema)
        missing = object()
        value = cache.get(GENERATION_KEY, missing)
    if value is missing:
        # FailSoftRedisCache answers a miss when Redis is away: tell "never bumped" from "unreadable"
        return 0 if _redis_reachable() else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _redis_reachable() -> bool:
    try:
        return bool(cache.raw_client().ping())  # type: ignore[attr-defined]  # madoguchi.cache.FailSoftRedisCache
    except Exception:  # noqa: BLE001 - unreachable is an answer, not an error
        return False


def _fresh_memory(now: float) -> _Memory:
    """This process's memory, cleared when the routing changed elsewhere or grew old."""
    global _memory
    memory = _memory
    if now - memory.checked_at < CHECK_SECONDS and now - memory.started_at < MAX_AGE_SECONDS:
        return memory
    generation = _redis_generation()
    with _lock:
        if (
            generation is None
            or generation != _memory.generation
            or now - _memory.started_at >= MAX_AGE_SECONDS
        ):
            _memory = _Memory(generation=generation, checked_at=now, started_at=now)
        else:
            _memory.checked_at = now
        return _memory


MISSING_LOGGED_EVERY = 300.0  # seconds: one error line per missing schema and process, not one per request
_missing_logged: dict[str, float] = {}


def _look_up(host: str) -> Route:
    with schema_context(get_public_schema_name()):  # the connection may still be on the last request's tenant
        found = (
            Domain.objects.select_related("tenant")
            .filter(domain=host)
            .annotate(schema_present=schema_present("tenant__schema_name"))  # no round trip more
            .first()
        )
    if found is None:
        return None
    if not found.schema_present:  # the annotation above
        schema, now = found.tenant.schema_name, time.monotonic()
        # while Redis is away nothing is kept and every request looks up again: the line stays rare
        if now - _missing_logged.get(schema, float("-inf")) >= MISSING_LOGGED_EVERY:
            _missing_logged[schema] = now
            logger.error(
                "%s is routed to %s, whose schema is missing: answered 503 until `provision_tenant` makes it "
                "(an unfinished provisioning) or it is restored (docs/operations.md)",
                host,
                schema,
            )
        return Unavailable(schema)
    return found.tenant


def tenant_for_host(host: str) -> Route:
    """The municipality whose domain `host` is (a copy: the caller may set attributes on it), Unavailable
    when its schema is missing, or None."""
    memory = _fresh_memory(time.monotonic())
    if memory.generation is not None and host in memory.hosts:
        tenant = memory.hosts[host]
    else:
        tenant = _look_up(host)
        if memory.generation is not None:
            with _lock:
                if len(memory.hosts) >= MAX_HOSTS:
                    memory.hosts.clear()
                memory.hosts[host] = tenant
    return copy.copy(tenant) if isinstance(tenant, Municipality) else tenant


def _bump() -> None:
    _forget_here()
    try:
        with schema_context(get_public_schema_name()):
            client = cache.raw_client()  # type: ignore[attr-defined]  # madoguchi.cache.FailSoftRedisCache
            key = cache.make_key(GENERATION_KEY)
            if client.incr(key) == 1:
                # the key had gone (evicted, flushed): a process may still hold 1 from before; a random
                # number is one nobody holds
                client.set(key, secrets.randbits(48))
    except Exception as error:  # noqa: BLE001 - the other processes see it within MAX_AGE_SECONDS anyway
        logger.warning("routing change not announced in Redis (%s); seen within %ss", error, MAX_AGE_SECONDS)


def _forget_here() -> None:
    global _memory
    with _lock:
        _memory = _Memory()


def forget_routes() -> None:
    """The routing changed (a municipality's row or a domain): every process forgets what it kept. This
    process at once (its own next request must see the change, and a test's transaction never commits), and
    again with every other process once the change is committed (a request in between may have read the old
    row back)."""
    _forget_here()
    transaction.on_commit(_bump)
