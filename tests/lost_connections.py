"""Real lost connections for tests: the backend is ended by PostgreSQL itself (`pg_terminate_backend`), as a
failover ends it, and the next round trip on the connection finds its socket closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connection

ExecuteWrapper = Callable[[Any, str, Any, bool, Any], Any]


def die() -> None:
    """This connection's backend ends itself: the statement fails as on a lost connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def second_connection(*, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the test database beside Django's (another session: its locks and
    transactions are another backend's)."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=autocommit,
    )


def terminate(pid: int | None = None) -> None:
    """End backend `pid` (default: this connection's) from a second connection, and wait until it is gone."""
    if pid is None:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
    with second_connection(autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            other.execute("SELECT pg_sleep(0.01)")


def cut_once(cut: list[str], matches: Callable[[str], bool]) -> ExecuteWrapper:
    """An execute wrapper: the first statement that `matches` finds its connection lost (it is noted in
    `cut`)."""

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not cut and matches(sql):
            cut.append(sql)
            die()
        return execute(sql, params, many, context)

    return wrapper


def lose_commit_once(cut: list[str], matches: Callable[[str], bool], *, carried_out: bool) -> ExecuteWrapper:
    """An execute wrapper: after the first statement that `matches`, its transaction's COMMIT is lost with the
    connection, either before the server carried it out or after (only its answer lost)."""

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not cut and matches(sql):
            cut.append(sql)
            raw = connection.connection
            pid = raw.info.backend_pid
            if not carried_out:
                terminate(pid)  # the COMMIT meets a closed connection: nothing is in
                return result
            commit = raw.commit

            def commit_then_lose_the_answer() -> None:
                commit()  # carried out ...
                terminate(pid)
                raw.execute("SELECT 1")  # ... and the connection's real error is what the caller gets

            raw.commit = commit_then_lose_the_answer
        return result

    return wrapper
