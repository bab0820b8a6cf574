"""Web access logs (SO-14): one JSON object a line, with the tenant on each, to standard output where the
platform's log collector keeps them for a year. The only access log of the web pods: gunicorn's own is off
(infra/docker/gunicorn_conf.py), since it would repeat each line without the tenant.

Query strings are not logged: they can hold what a resident or a clerk searched for (names, numbers).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from madoguchi.client_address import client_address

logger = logging.getLogger("madoguchi.access")


class LineHandler(logging.StreamHandler):
    """The access log's handler: each line goes out in one write() to the stream's file descriptor, and no
    lock is held meanwhile. logging's StreamHandler holds its lock across the write, a system call during
    which Python runs other threads: under a flood a process's request threads queued for that lock, a
    futex sleep and wake each (issue 12). One write() of a whole line is not interleaved with another's
    (a pipe up to PIPE_BUF, 4 KiB: a line is about 300 bytes, its free-form parts cut short). A stream with
    no descriptor (a test's captured stderr) is written as StreamHandler writes it."""

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return bool(super().handle(record))
        try:
            line = (self.format(record) + self.terminator).encode("utf-8", "replace")
            while line:
                line = line[os.write(fd, line) :]
        except Exception:  # noqa: BLE001 - as logging does: a log line never fails the request
            self.handleError(record)
        return True


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "access", None)
        if isinstance(entry, dict):
            return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        return super().format(record)


def _who(user: object) -> str | None:
    """A staff user's ID; citizens (a Card on the citizen API) are not named in the access log."""
    if getattr(user, "is_authenticated", False) is True and hasattr(user, "get_username"):
        return str(user.get_username())
    return None


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        logger.info(
            "access",
            extra={
                "access": {
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "tenant": getattr(tenant, "schema_name", None),
                    "host": request.META.get("HTTP_HOST", ""),
                    "method": request.method,
                    "path": request.path[:1000],  # a line stays one write (LineHandler)
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client_address(request),
                    "user": _who(user),
                    "agent": request.META.get("HTTP_USER_AGENT", "")[:200],
                    # the gateway's request id (infra/gateways): one request traced from gateway to here
                    "rid": request.META.get("HTTP_X_REQUEST_ID", "")[:64],
                }
            },
        )
        return response
