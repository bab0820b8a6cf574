"""django-tenants' PostgreSQL backend whose new connections wait out a failover (issue 11).

While a primary is being replaced (Patroni promotes a standby within its leader key's lifetime, about 10-15 s)
there is no read-write server to connect to: HAProxy has no healthy backend and closes the connection, a
multi-host URL finds no `read-write` host. Failing at once would answer every request of those seconds with
an error page; instead a new connection is tried again every half second for at most `FAILOVER_WAIT_SECONDS`
(DATABASE_FAILOVER_WAIT_SECONDS, default 25), so a resident sees a slower page. Only the connecting waits:
a query on an established connection is never repeated here (booking.engine.retry decides which
transactions may run again).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from django_tenants.postgresql_backend import base

logger = logging.getLogger(__name__)

RETRY_INTERVAL_SECONDS = 0.5


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        wait = float(self.settings_dict.get("FAILOVER_WAIT_SECONDS") or 0)
        deadline = time.monotonic() + wait
        waited = False
        while True:
            try:
                connection = super().get_new_connection(conn_params)
            except psycopg.OperationalError as error:
                if time.monotonic() + RETRY_INTERVAL_SECONDS > deadline:
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
            return connection
