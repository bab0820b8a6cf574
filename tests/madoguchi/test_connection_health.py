"""The kept connection's health check (`madoguchi.postgresql.base.DatabaseWrapper.is_usable`, issue 12).

A live, idle connection found good within the last second is taken as it is, with no statement sent; one
the server has closed is found dead and replaced before the request's first statement; a connection whose
socket has something to read, whose last statement failed, that is inside a transaction or that was last
found good longer ago is asked with Django's `SELECT 1`. What PostgreSQL last ran on the connection
is read from `pg_stat_activity` on a second connection; each scenario runs on a connection of its own that
commits for real (`committed_kyoto`), as a web thread's does.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any

import pytest
from django.db import ProgrammingError, connection, transaction

from madoguchi.postgresql import base as backend
from tests import lost_connections

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection counts as found good for a minute here, so that a slow machine cannot make a test that
    expects it taken as it is see it asked; the test of the window sets its own."""
    monkeypatch.setattr(backend, "TRUSTED_FOR_SECONDS", 60.0)


Committed = Callable[[Callable[[], Any]], Any]


def _last_statement(pid: int) -> tuple[Any, str]:
    """When backend `pid` last began a statement, and which."""
    with lost_connections.second_connection(autocommit=True) as other:
        row = other.execute(
            "SELECT query_start, query FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
    assert row is not None, f"backend {pid} is gone"
    return row[0], row[1]


def _used(sql: str) -> int:
    """Run `sql` on this thread's connection; its backend's pid."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
    return int(connection.connection.info.backend_pid)


def test_a_live_idle_connection_is_taken_without_a_statement(committed_kyoto: Committed) -> None:
    def check() -> tuple[bool, tuple[Any, str], tuple[Any, str]]:
        pid = _used("SELECT 41")
        before = _last_statement(pid)
        return connection.is_usable(), before, _last_statement(pid)

    usable, before, after = committed_kyoto(check)
    assert usable
    assert after == before and before[1] == "SELECT 41"  # nothing was sent to the server


def test_a_connection_the_server_closed_is_replaced_before_the_first_statement(
    committed_kyoto: Committed,
) -> None:
    def check() -> tuple[bool, int, int]:
        old = _used("SELECT 1")
        lost_connections.terminate(old)  # as a failover or an operator ends it
        usable = connection.is_usable()
        connection.health_check_done = False  # type: ignore[attr-defined]  # a new request: request_started
        connection.close_if_health_check_failed()
        return usable, old, _used("SELECT 2")

    usable, old, new = committed_kyoto(check)
    assert not usable
    assert new != old  # a new connection, and the statement ran on it


def test_a_socket_with_something_to_read_gets_select_1(committed_kyoto: Committed) -> None:
    """A notification (as a notice or a parameter change would) makes a live connection's socket readable:
    the check then asks the server, which answers, and the connection is kept."""

    def check() -> tuple[bool, str, int, int]:
        pid = _used("LISTEN madoguchi_health_check_test")
        with lost_connections.second_connection(autocommit=True) as other:
            other.execute("NOTIFY madoguchi_health_check_test")
        poller = select.poll()
        poller.register(connection.connection.fileno(), select.POLLIN)
        assert poller.poll(5000), "the notification did not arrive"
        usable = connection.is_usable()
        after = _last_statement(pid)[1]
        with connection.cursor() as cursor:
            cursor.execute("UNLISTEN *")
        return usable, after, pid, _used("SELECT 3")

    usable, after, pid, same = committed_kyoto(check)
    assert usable and after == "SELECT 1" and same == pid


def test_after_a_failed_statement_the_server_is_asked(committed_kyoto: Committed) -> None:
    def check() -> tuple[bool, str]:
        pid = _used("SELECT 1")
        with pytest.raises(ProgrammingError), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_for_the_health_check")
        assert connection.errors_occurred
        return connection.is_usable(), _last_statement(pid)[1]

    usable, after = committed_kyoto(check)
    assert usable and after == "SELECT 1"


def test_a_connection_inside_a_transaction_is_asked(committed_kyoto: Committed) -> None:
    def check() -> tuple[bool, str]:
        with transaction.atomic():
            pid = _used("SELECT 5")
            return connection.is_usable(), _last_statement(pid)[1]

    usable, after = committed_kyoto(check)
    assert usable and after == "SELECT 1"


def test_a_connection_found_good_longer_ago_is_asked_and_then_trusted_again(
    committed_kyoto: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a quiet spell the server is asked, as Django asks: a primary gone without a word (no FIN, no
    RST: its socket stays quiet) costs the request a wait there, not an error at its first statement. Its
    answer counts as found good: the next request within the window is not asked again."""

    def check() -> tuple[bool, str, bool, str]:
        pid = _used("SELECT 6")
        monkeypatch.setattr(backend, "TRUSTED_FOR_SECONDS", 5.0)
        setattr(connection, "_known_good_at", float("-inf"))  # noqa: B010 - as if found good long ago
        usable = connection.is_usable()
        after = _last_statement(pid)[1]
        _used("SELECT 7")
        return usable, after, connection.is_usable(), _last_statement(pid)[1]

    usable, after, again, last = committed_kyoto(check)
    assert usable and after == "SELECT 1"
    assert again and last == "SELECT 7"  # the SELECT 1's answer renewed the trust
