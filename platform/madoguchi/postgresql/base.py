"""django-tenants' PostgreSQL backend whose new connections wait out a failover (issue 11).

While a primary is being replaced (Patroni promotes a standby within its leader key's lifetime, about 10-15 s)
there is no read-write server to connect to: HAProxy has no healthy backend and closes the connection, a
multi-host URL finds no `read-write` host. Failing at once would answer every request of those seconds with
an error page; instead a new connection is tried again every half second for at most `FAILOVER_WAIT_SECONDS`
(DATABASE_FAILOVER_WAIT_SECONDS, default 25), so a resident sees a slower page. Only the connecting waits:
a query on an established connection is never repeated here (booking.engine.retry decides which
transactions may run again). A refusal no failover ends (a database or role that does not exist, a wrong
password, no pg_hba.conf entry) fails at once: waiting would only hold the worker's thread for nothing.

The health check of a kept connection (CONN_HEALTH_CHECKS, at each request's first statement) looks at the
connection's socket before it sends Django's `SELECT 1`: see `DatabaseWrapper.is_usable`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from django_tenants.postgresql_backend import base
from psycopg.pq import TransactionStatus

from madoguchi.postgresql.introspection import SchemaIntrospection
from madoguchi.sockets import has_something_to_read

logger = logging.getLogger(__name__)

RETRY_INTERVAL_SECONDS = 0.5
# Set on the error of a connection that was waited for in vain (or refused for good): the callers that run
# a request or a transaction again on a lost connection (madoguchi.lost_connection, booking.engine.retry)
# must not wait the whole time over again, a web thread held 25 s more per retry for nothing.
GAVE_UP = "madoguchi_connect_gave_up"
# libpq gives connection failures no SQLSTATE, only the server's FATAL text: these say the configuration is
# wrong, not that the primary is away ("the database system is starting up", "shutting down", "not in hot
# standby mode", a refused or closed socket: those wait). Matched in English: a server answering in another
# lc_messages language waits the full time instead, as before, and never fails a failover early.
_PERMANENT = (
    "does not exist",  # database, role
    "authentication failed",  # password, SCRAM, ident, peer, PAM, certificate
    "no pg_hba.conf entry",
    "no password supplied",
    "is not permitted to log in",
    "permission denied for database",
)


# A kept connection found good this recently, whose socket is quiet, is taken without asking the server
# again (as HikariCP's aliveBypassWindow and pgbouncer's server_check_delay do): in a flood each thread's
# connection is asked about once a second rather than at every request; after a quiet spell it is asked as
# Django asks, so a primary gone without a word (no FIN, no RST) costs the next request a wait, not an error.
TRUSTED_FOR_SECONDS = 1.0

_waiting = ContextVar("madoguchi_failover_wait", default=True)


@contextmanager
def without_failover_wait() -> Iterator[None]:
    """Connections made inside fail at once when there is no primary: for the readiness probe, which must
    answer within its own timeout (4 s) and would otherwise hold a web thread 25 s per probe, every 5 s."""
    token = _waiting.set(False)
    try:
        yield
    finally:
        _waiting.reset(token)


def permanent(error: BaseException) -> bool:
    """Whether a failed connection attempt is a refusal that waiting for a primary cannot end."""
    text = str(error).lower()
    return any(marker in text for marker in _PERMANENT)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.introspection = SchemaIntrospection(self)  # a table list that scales with schemas (issue 12 §4)
        # COMMITs that failed (their fate unknown: the server may have carried one out before the connection
        # went). madoguchi.lost_connection tells a transaction rolled back (none attempted) from one of these.
        self.failed_commits = 0
        self._known_good_at = float("-inf")  # when the kept connection was made or last answered SELECT 1

    def _commit(self) -> None:
        try:
            super()._commit()
        except Exception:
            self.failed_commits += 1
            raise

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        wait = float(self.settings_dict.get("FAILOVER_WAIT_SECONDS") or 0) if _waiting.get() else 0.0
        deadline = time.monotonic() + wait
        waited = False
        while True:
            try:
                connection = super().get_new_connection(conn_params)
            except psycopg.OperationalError as error:
                if permanent(error) or time.monotonic() + RETRY_INTERVAL_SECONDS > deadline:
                    setattr(error, GAVE_UP, True)
                    raise
                if not waited:
                    logger.warning(
                        "database: no primary to connect to (%s); waiting up to %.0f s", error, wait
                    )
                    waited = True
                time.sleep(RETRY_INTERVAL_SECONDS)
                continue
            if waited:
                logger.warning("database: connected again")
            self._known_good_at = time.monotonic()
            return connection

    def is_usable(self) -> bool:
        """Whether the kept connection can take this request's statements (CONN_HEALTH_CHECKS).

        Django asks PostgreSQL (`SELECT 1`) at the start of every request that uses the database: a round
        trip and a statement for the server, per request, in a flood of bookings (issue 12). A connection
        the server has closed (a failover's or an operator's pg_terminate_backend, a restart, a switchover)
        or the kernel has given up on (keepalives, tcp_user_timeout) has something to say: its socket reads
        as ready (the server's FATAL message, end of file, an error). So a connection found good within
        TRUSTED_FOR_SECONDS, idle and without a failed statement since, is taken when its socket has
        nothing to read; any other is asked with Django's `SELECT 1`, which reads what came (a notice on a
        live connection) or finds the connection dead and has it replaced.

        A peer gone without a word within that second is found by the request's first statement, as one
        gone during a request always was (`madoguchi.lost_connection` answers it again where it may)."""
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if (
            self.errors_occurred
            or connection.info.transaction_status != TransactionStatus.IDLE
            or time.monotonic() - self._known_good_at > TRUSTED_FOR_SECONDS
        ):
            return self._asked()
        try:
            news = has_something_to_read(connection.fileno())
        except (OSError, ValueError, psycopg.Error):
            return False
        return not news or self._asked()

    def _asked(self) -> bool:
        usable = bool(super().is_usable())
        if usable:
            self._known_good_at = time.monotonic()
        return usable
