"""A request whose database connection was lost before it changed anything is answered again (issue 11).

When the primary dies, hangs or is switched over, every open connection is cut. A request in flight at that
moment (a page being read, a sign-in, a form's session being saved) would answer 500, or 400 for a session
it could not save, although nothing was wrong with it: the HA rehearsal (infra/ha) counted exactly those.
`LostConnectionRetryMiddleware` runs the rest of the middleware chain and the view once more, on a fresh
connection (which waits for the new primary: `madoguchi.postgresql.base`), when all of these hold:

- a statement, or the request (Django's `got_request_exception`), failed because the connection was lost
  (SQLSTATE class 08, 57P01-57P03, or a closed or broken connection), not a refusal, a timeout or a bug,
  and the answer is an error (400 or 500);
- it is a read (GET, HEAD, OPTIONS), whose own writes are records of the reading (an access-log line, a
  token's last use) that may be made twice; or nothing it wrote was committed: any statement other than
  SELECT, SET, SHOW or a savepoint's counts as a write, committed when it ran outside a transaction or
  when its transaction committed;
- the body can be read again: none, or a form or JSON body of at most `MAX_BODY` bytes (read into memory
  before the chain runs; an upload is never replayed);
- it is the first time for this request.

A write whose fate is unknown counts as committed: a COMMIT that failed (its acknowledgement lost with the
connection: the server may have carried it out; counted by `madoguchi.postgresql.base`), an autocommit
statement cut mid-way: such a request is answered with its error, never run twice. A transaction that
ended by an exception without a COMMIT (a refusal such as "slot full", then a read that lost its
connection: the HA rehearsal's hold page) was rolled back: nothing of it is in, and the request is
answered again. Writes' own guards still apply (bookings: `booking.engine.retry`'s `already_done`,
`booking.engine.idempotency`'s keys and one-time tokens).
While a municipality's waiting room is on, a resident without a pass may be given one on each run (the
first one's cookie is never sent), so a lost connection can cost that line one extra admission.

A first run that is answered again is not an error of the service: its 500 is not logged by `django.request`
nor reported to Sentry (`madoguchi.answered_again`); the one line this middleware logs
says what was lost. A failover would otherwise fill the log and the error reports with tracebacks of
requests that were answered well, in the very minutes someone reads them to see what failed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponseBase

from madoguchi.answered_again import first_run
from madoguchi.postgresql.base import GAVE_UP

logger = logging.getLogger(__name__)

RETRIED_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
MAX_BODY = 256 * 1024
_READ_ONLY = ("select", "set ", "show ", "savepoint ", "release savepoint ", "rollback to savepoint ")
_REPLAYABLE_TYPES = ("application/json", "application/x-www-form-urlencoded")
_LOST = "_madoguchi_connection_lost"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAUSE_SECONDS = 0.5  # a primary that has just been promoted is given a moment before the second run


def lost_connection(error: BaseException) -> bool:
    """Whether `error` (from a statement) means the connection was lost."""
    if isinstance(error, OperationalError | InterfaceError):
        cause = error.__cause__ or error
    elif error.__class__.__module__.startswith("psycopg"):
        cause = error
    else:
        return False
    if getattr(cause, GAVE_UP, False):
        return False  # a new connection already waited for a primary in vain: a second run would wait again
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith("08") or sqlstate in RETRIED_SQLSTATES
    if isinstance(cause, psycopg.OperationalError):
        return True  # no SQLSTATE: libpq's own error about the socket (the server gives one to all else)
    raw = connection.connection
    return raw is None or bool(getattr(raw, "closed", False)) or bool(getattr(raw, "broken", False))


def _note_lost(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Django's signal for an exception that becomes a 500: a connection lost outside any statement (at
    BEGIN, on a health check) is seen here, not by the statement watch."""
    error = sys.exc_info()[1]
    if request is not None and error is not None and lost_connection(error):
        setattr(request, _LOST, error)


got_request_exception.connect(_note_lost, dispatch_uid="madoguchi.lost_connection")


class _Watch:
    """Statements of one request: was a connection lost, was anything written and (maybe) committed.

    A write counts as committed when its transaction's commit ran (on_commit), when it ran outside a
    transaction, and also when nobody can tell: an autocommit write that failed with its connection, or a
    transaction's write whose COMMIT never came back (the server may have carried it out). Only a lost
    statement inside that transaction, before its COMMIT, proves its writes were rolled back.
    """

    def __init__(self) -> None:
        self.lost: BaseException | None = None
        self.committed = False
        self.pending: list[Any] = []  # the raw connection of each write whose transaction has not ended
        self.failed_commits_before = int(getattr(connection, "failed_commits", 0))

    def _commit(self, raw: Any) -> None:
        self.committed = True
        self.pending = [held for held in self.pending if held is not raw]

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        write = not str(sql).lstrip().lower().startswith(_READ_ONLY)
        try:
            result = execute(sql, params, many, context)
        except Exception as error:
            if lost_connection(error):
                self.lost = error
                if connection.in_atomic_block:
                    # this transaction dies uncommitted with its connection: its writes are not in
                    raw = connection.connection
                    self.pending = [held for held in self.pending if held is not raw]
                elif write:
                    self.committed = True  # autocommit: the server may have done it before the cut
            raise
        if write:
            if connection.in_atomic_block:
                raw = connection.connection
                self.pending.append(raw)
                connection.on_commit(lambda: self._commit(raw))
            else:
                self.committed = True  # autocommit: it is in
        return result

    @property
    def maybe_committed(self) -> bool:
        # A write left pending is in a transaction that ended without its on-commit calls: rolled back (a
        # refusal, a BookingError: no COMMIT was sent) or its COMMIT failed, whose fate nobody knows.
        return self.committed or (bool(self.pending) and self.commit_failed())

    def commit_failed(self) -> bool:
        return int(getattr(connection, "failed_commits", 0)) > self.failed_commits_before


def _replayable(request: HttpRequest) -> bool:
    if request.method in _SAFE_METHODS:
        return True
    content_type = request.content_type or ""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if length > MAX_BODY or (length and content_type not in _REPLAYABLE_TYPES):
        return False
    request.body  # noqa: B018 - kept in memory, so the second run reads the same body
    return True


@dataclass
class _FirstRun:
    request: HttpRequest
    replayable: bool
    watch: _Watch

    def lost(self) -> BaseException | None:
        found: BaseException | None = self.watch.lost or getattr(self.request, _LOST, None)
        return found

    def answered_again(self, status: int, lost: BaseException | None = None) -> bool:
        """Whether this run's answer with `status` is replaced by a second run; `lost`: a lost connection
        known before the watch or the signal has noted it (Sentry's receiver of the signal runs first)."""
        safe = self.request.method in _SAFE_METHODS
        return (
            self.replayable
            and (lost or self.lost()) is not None
            and (safe or not self.watch.maybe_committed)
            and status in (400, 500)
        )

    def answered_again_after(self, error: BaseException) -> bool:
        """Whether `error`, a lost connection ending this run (Django answers it 500), is answered again."""
        return lost_connection(error) and self.answered_again(500, lost=error)


class LostConnectionRetryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        run = _FirstRun(request, _replayable(request), _Watch())
        current = first_run.set(run)
        try:
            with connection.execute_wrapper(run.watch):
                response = self.get_response(request)
        finally:
            first_run.reset(current)
        if not run.answered_again(response.status_code):
            return response
        logger.warning(
            "database connection lost during %s %s (%s); answered again",
            request.method,
            request.path,
            _summary(run.lost()),
        )
        connection.close()  # the next statement connects afresh, waiting for a primary
        time.sleep(PAUSE_SECONDS)
        return self.get_response(request)


def _summary(error: BaseException | None) -> str:
    text = str(error).strip().splitlines()[0][:200] if error is not None and str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
