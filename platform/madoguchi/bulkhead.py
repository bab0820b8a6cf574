"""Operators stay up when citizens flood in: citizen requests cannot take every thread of a process.

In 2021 a city's 350 phone lines went down together with its overloaded web booking site: the operators'
screens ran on the same servers as the residents' booking pages. In production the two are apart (the
web-citizen and web-staff pools behind their own gateways, see docs/architecture.md); this middleware is the
floor under that, for one process that serves both lanes anyway (local runs, a degraded cluster, a request
sent to the wrong pool).

Each request is put in a lane by its path alone (no database work before the decision):

- staff: `/staff/…` and `/api/v1/staff/…` (municipal staff, call-center operators) and the vendor console
  (the public schema's host). Never limited, never waits for the citizen lane.
- free: `/healthz` and static files. Never limited: probes must see the truth, and staff pages need their
  stylesheet in a surge too; both are answered without the database in microseconds.
- citizen: everything else. At most `CITIZEN_MAX_CONCURRENT` run at once in this process; up to
  `CITIZEN_MAX_WAITING` more wait at most `CITIZEN_QUEUE_SECONDS` for a place; any other gets a 503
  "busy, please retry" at once (the page `503.html`, or `{"code": "busy"}` under `/api/`), with Retry-After.

Why the waiting is capped too: a waiting request holds a server thread just like a running one. If every
citizen over the limit could wait, a flood would fill all threads with waiters, and a staff request queued
behind them in the server would wait as well. With running + waiting at most threads - 1 (the defaults in
settings.py), one thread is always free to serve staff and to refuse citizens quickly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string

from madoguchi.api_errors import error_answer
from madoguchi.middleware import HEALTH_PATH

logger = logging.getLogger("madoguchi.bulkhead")

STAFF_PREFIXES = ("/staff/", "/api/v1/staff/")
STAFF_ROOTS = frozenset(prefix.rstrip("/") for prefix in STAFF_PREFIXES)  # before APPEND_SLASH redirects
# How long a refused citizen is asked to wait before trying again (seconds, the Retry-After header).
RETRY_AFTER_SECONDS = 30
# A flood refuses thousands of requests a minute; the access log has each one, this log a summary.
LOG_EVERY_SECONDS = 10.0
BUSY_MESSAGE = (
    "ただいま大変混み合っています。しばらくしてからもう一度お試しください。 / "
    "We are very busy right now. Please try again in a little while."
)


class Lane(StrEnum):
    STAFF = "staff"
    CITIZEN = "citizen"
    FREE = "free"


def lane_of(request: HttpRequest) -> Lane:
    """The lane of a request, from its path (and, for the vendor console, its tenant)."""
    path = request.path_info
    if path == HEALTH_PATH or path.startswith(settings.STATIC_URL or "/static/"):
        return Lane.FREE
    if path.startswith(STAFF_PREFIXES) or path in STAFF_ROOTS:
        return Lane.STAFF
    tenant = getattr(request, "tenant", None)
    if getattr(tenant, "schema_name", None) == settings.PUBLIC_SCHEMA_NAME:
        return Lane.STAFF  # the vendor console: our own operators
    return Lane.CITIZEN


class CitizenLane:
    """The citizen lane's places in one process: `running` at a time, and `waiting` more in the queue.

    A `threading.BoundedSemaphore` counts the running places (bounded: a release without an acquire is a bug
    and should fail loudly, not grow the lane).
    """

    def __init__(self, running: int, waiting: int, wait_seconds: float) -> None:
        if running < 1 or waiting < 0 or wait_seconds < 0:
            raise ImproperlyConfigured(
                "CITIZEN_MAX_CONCURRENT must be at least 1, CITIZEN_MAX_WAITING and CITIZEN_QUEUE_SECONDS "
                f"at least 0 (got {running}, {waiting}, {wait_seconds})."
            )
        self.running = running
        self.waiting = waiting if wait_seconds > 0 else 0
        self.wait_seconds = wait_seconds
        self._places = threading.BoundedSemaphore(running)
        self._guard = threading.Lock()
        self._waiters = 0
        self._refused_total = 0
        self._refused_unlogged = 0
        self._last_logged = float("-inf")

    def enter(self) -> bool:
        """Take a running place, waiting for one if the queue has room; False: refuse the request."""
        if self._places.acquire(blocking=False):
            return True
        with self._guard:
            if self._waiters >= self.waiting:
                return False
            self._waiters += 1
        try:
            return self._places.acquire(timeout=self.wait_seconds)
        finally:
            with self._guard:
                self._waiters -= 1

    def leave(self) -> None:
        self._places.release()

    def count_refusal(self, request: HttpRequest) -> None:
        """Count a refusal; log the count at most every LOG_EVERY_SECONDS (logger madoguchi.bulkhead)."""
        with self._guard:
            self._refused_total += 1
            self._refused_unlogged += 1
            now = time.monotonic()
            if now - self._last_logged < LOG_EVERY_SECONDS:
                return
            refused, total, waiters = self._refused_unlogged, self._refused_total, self._waiters
            self._refused_unlogged, self._last_logged = 0, now
        tenant = getattr(getattr(request, "tenant", None), "schema_name", None)
        logger.warning(
            "citizen lane full: refused=%d refused_total=%d running_max=%d waiting=%d/%d "
            "queue_seconds=%s tenant=%s path=%s",
            refused,
            total,
            self.running,
            waiters,
            self.waiting,
            self.wait_seconds,
            tenant,
            request.path_info,
        )


def busy_response(request: HttpRequest) -> HttpResponse:
    """The citizen's answer when the lane is full: a clear "busy, retry" instead of a timeout.

    Rendered without the request (no context processors, no session, no database): it must cost nothing.
    """
    if request.path_info.startswith("/api/"):
        response: HttpResponse = error_answer("busy", BUSY_MESSAGE, 503)
    else:
        page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class BulkheadMiddleware:
    """Citizen requests go through this process's CitizenLane; staff and free requests pass straight on.

    Django builds the middleware chain once per process (per WSGI handler), so the lane is per process,
    which is what a thread limit must be. Placed after tenant routing (refusals are logged with their
    tenant) and the security headers (the 503 page gets them too).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.lane = CitizenLane(
            settings.CITIZEN_MAX_CONCURRENT, settings.CITIZEN_MAX_WAITING, settings.CITIZEN_QUEUE_SECONDS
        )

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if lane_of(request) is not Lane.CITIZEN:
            return self.get_response(request)
        if not self.lane.enter():
            self.lane.count_refusal(request)
            return busy_response(request)
        try:
            # A streamed body is sent after this returns: the place covers the view, where the work is.
            return self.get_response(request)
        finally:
            self.lane.leave()
