"""One more try for a booking whose transaction was lost with its database connection (issue 11).

A failover, a restarted PostgreSQL, a proxy dropping an idle connection: the resident's booking fails with
an OperationalError although nothing was wrong with it. The booking services run their transaction again
(at most `ATTEMPTS` times, with a short backoff), so the resident sees a slower page instead of an error.

Only errors that mean the connection or the transaction was lost are retried: SQLSTATE class 08
(connection exceptions), 57P01-57P03 (the server is shutting down or starting), 40001/40P01 (serialization
failure, deadlock: PostgreSQL rolled the transaction back and asks for a retry), libpq's own error with no
SQLSTATE (the socket closed under it: a proxy cutting sessions in a failover), or a psycopg connection
that is closed or broken. Never an IntegrityError (the database's refusal is the answer), never a
BookingError, never a statement or lock timeout, and never inside an outer atomic block: the outer
transaction is lost with the connection, and only its owner can run it again.

A lost COMMIT acknowledgement is the danger: the transaction may have committed. Before each retry the
service's `already_done` looks for its own write (its event at the call's own `now`) and answers with it,
so a resident never gets "already booked" for the booking this very request made.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.1  # then 0.2: a failover's new primary needs a moment, a resident not much more
RETRIED_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


def is_lost_connection(error: BaseException, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether `error` means the connection (or the transaction, rolled back by the server) was lost."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    cause = error.__cause__
    if getattr(cause, "madoguchi_connect_gave_up", False):
        return False  # the database engine already waited for a primary in vain (madoguchi.postgresql.base)
    sqlstate = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in RETRIED_SQLSTATES
    if isinstance(cause, psycopg.OperationalError):
        # No SQLSTATE: libpq's own error, i.e. the socket ("server closed the connection unexpectedly",
        # "consuming input failed"; a proxy cutting the session in a failover). The server reports every
        # refusal and timeout with a SQLSTATE, and psycopg does not always mark such a connection broken.
        return True
    raw = connections[using].connection
    # Django closes the connection itself when its rollback fails (None); psycopg marks a dead one.
    return raw is None or bool(getattr(raw, "closed", False)) or bool(getattr(raw, "broken", False))


def retry_on_lost_connection(
    attempt: Callable[[], T],
    *,
    already_done: Callable[[], T | None] | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    using: str = DEFAULT_DB_ALIAS,
) -> T:
    """`attempt()`, run again on a lost connection (see the module); `already_done()` answers instead of a
    retry when the lost attempt had in fact committed (None: it had not)."""
    connection = connections[using]
    if connection.in_atomic_block:
        return attempt()  # inside someone's transaction: lost with it, not ours to retry
    for number in range(1, attempts + 1):
        try:
            if number > 1 and already_done is not None:
                done = already_done()
                if done is not None:
                    logger.warning("booking: the lost attempt had committed; answering with its result")
                    return done
            return attempt()
        except (OperationalError, InterfaceError) as error:
            if number == attempts or not is_lost_connection(error, using):
                raise
            logger.warning("booking: connection lost (%s), attempt %s of %s", error, number, attempts)
            connection.close()  # the next query connects afresh (django-tenants sets the schema again)
            time.sleep(backoff * 2 ** (number - 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def retried(
    already_done: Callable[..., T | None],
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """A booking service (one taking `now=`) retried on a lost connection. `now` is fixed once for every
    attempt, so `already_done(now, *args, **kwargs)` can find the lost attempt's own write by its time."""

    def decorate(service: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(service)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            now: dt.datetime = kwargs.get("now") or timezone.now()  # type: ignore[assignment]
            fixed: dict[str, Any] = {**kwargs, "now": now}
            return retry_on_lost_connection(
                lambda: service(*args, **fixed), already_done=lambda: already_done(*args, **fixed)
            )

        return run

    return decorate
