"""Django's database sessions, whose save survives a lost connection (issue 11).

A session is saved after the view, in SessionMiddleware's response step. When a failover cuts the
connection just then (a sign-in that has written its own rows, a form that stored what was typed), Django
reports the failed UPDATE as "the session was deleted" and answers 400 to a resident who did nothing wrong:
the HA rehearsal (infra/ha) saw it during a planned switchover. Saving a session twice writes the same
row, so a save lost with its connection is made once more on a new connection (which waits for the new
primary: `madoguchi.postgresql.base`). Never inside someone's transaction (lost with it), and a session
that really is gone still says so.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.db import DatabaseError, connection

from madoguchi.lost_connection import lost_connection

logger = logging.getLogger(__name__)


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except (UpdateError, DatabaseError) as error:
            cause = error if isinstance(error, DatabaseError) else error.__context__
            if cause is None or connection.in_atomic_block or not lost_connection(cause):
                raise
            logger.warning("session save lost with its database connection; saved again")
            connection.close()
            super().save(must_create=must_create)
