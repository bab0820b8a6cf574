"""Web access logs (SO-14): one JSON object a line, with the tenant on each, to the process's standard
error (the `access` handler of settings.LOGGING), where the platform's log collector keeps them for a year.
The only access log of the web pods: gunicorn's own is off (infra/docker/gunicorn_conf.py), since it would
repeat each line without the tenant.

Query strings are not logged: they can hold what a resident or a clerk searched for (names, numbers). Nor
are the secrets some addresses carry (an administrator's invitation link: madoguchi.secret_paths).
"""

from __future__ import annotations

import json
import logging
import os
import select
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from madoguchi.client_address import client_address
from madoguchi.secret_paths import without_secrets

logger = logging.getLogger("madoguchi.access")


# One write() of at most PIPE_BUF bytes (4 KiB on Linux) to a pipe is never interleaved with another's.
LINE_LIMIT = select.PIPE_BUF


class LineHandler(logging.StreamHandler):
    """The access log's handler: each line goes out in one write() to the stream's file descriptor, and no
    lock is held meanwhile. logging's StreamHandler holds its lock across the write, a system call during
    which Python runs other threads: under a flood a process's request threads queued for that lock, a
    futex sleep and wake each (issue 12). A line of at most LINE_LIMIT bytes, which JsonLineFormatter keeps
    every access line to, is never interleaved with another process's or thread's. A longer line (a record
    not made by the access middleware) and a stream with no descriptor (a test's captured stderr) are
    written as StreamHandler writes them, under its lock."""

    def handle(self, record: logging.LogRecord) -> Any:
        passed: Any = self.filter(record)  # from Python 3.12 a filter may hand back another record
        if isinstance(passed, logging.LogRecord):
            record = passed
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fd = self.stream.fileno()
            line = (self.format(record) + self.terminator).encode("utf-8", "replace")
        except (AttributeError, OSError, ValueError):
            fd, line = -1, b""
        except Exception:  # noqa: BLE001 - as logging does: a log line never fails the request
            self.handleError(record)
            return
        if fd < 0 or len(line) > LINE_LIMIT:
            self.acquire()
            try:
                super().emit(record)
            finally:
                self.release()
            return
        try:
            while line:
                line = line[os.write(fd, line) :]
        except Exception:  # noqa: BLE001
            self.handleError(record)


class WithoutStatusLines(logging.Filter):
    """On the `django.request` logger: its records of answers that carry no exception ("Conflict: /api/…",
    "Service Unavailable: /api/…") are dropped, since the same request's access line already holds its
    status. In a flood they were a second line for every refused booking and an ERROR line for every
    resident the waiting room, the bulkhead or a planned stop answered with 503 (issue 12): the design
    working, read as failures in an incident. Records with an exception (a 500's traceback, a 400 of a body
    that could not be read, a session lost in a failover) pass: they say what the access line cannot."""

    def filter(self, record: logging.LogRecord) -> bool:
        return bool(record.exc_info)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "access", None)
        if isinstance(entry, dict):
            return json_line(entry)
        return super().format(record)


def json_line(entry: dict[str, Any], limit: int = LINE_LIMIT - 1) -> str:
    """The entry as one JSON line of at most `limit` bytes in UTF-8 (the newline is the last of
    LINE_LIMIT). A longer one (a path of escapes or long characters, a long Host or User-Agent: all chosen
    by the client) has its longest text cut in half until it fits, and says so with "cut": true."""
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    # a character is at most 6 bytes in this JSON (an escape like \u0001): short lines need no encoding
    if len(line) * 6 <= limit or len(line.encode("utf-8", "replace")) <= limit:
        return line
    cut = {**entry, "cut": True}
    while True:
        texts = [name for name, value in cut.items() if isinstance(value, str) and value]
        if not texts:
            return line
        longest = max(texts, key=lambda name: len(cut[name]))
        cut[longest] = cut[longest][: len(cut[longest]) // 2]
        line = json.dumps(cut, ensure_ascii=False, separators=(",", ":"))
        if len(line.encode("utf-8", "replace")) <= limit:
            return line


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
                    "path": without_secrets(request.path),
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
