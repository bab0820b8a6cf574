"""The database URL is read so that a failover costs a slower page, not an error page (issue 11):
several hosts, a read-write primary only, and timeouts on connect, on a dead peer and on every statement."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from madoguchi.database import database_settings


def test_one_host_url_reads_as_before() -> None:
    db = database_settings("postgres://madoguchi:p%40ss@db.internal:5433/madoguchi")
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "db.internal",
        "5433",
        "madoguchi",
        "madoguchi",
        "p@ss",
    )
    assert db["ENGINE"] == "madoguchi.postgresql"  # django-tenants' backend, waiting out a failover
    assert db["CONN_HEALTH_CHECKS"] is True


def test_several_hosts_are_tried_in_turn_for_a_read_write_primary() -> None:
    db = database_settings("postgresql://u:p@pg-a:5432,pg-b,[::1]:6432/madoguchi")
    assert db["HOST"] == "pg-a,pg-b,::1"
    assert db["PORT"] == "5432,5432,6432"
    options = db["OPTIONS"]
    assert options["target_session_attrs"] == "read-write"
    assert int(options["connect_timeout"]) <= 10
    assert options["keepalives"] == "1"
    assert int(options["tcp_user_timeout"]) > 0
    assert "statement_timeout=30s" in options["options"]
    assert "lock_timeout=10s" in options["options"]


def test_url_parameters_win_over_the_defaults() -> None:
    db = database_settings(
        "postgres://u@h/d?sslmode=verify-full&connect_timeout=2&target_session_attrs=primary"
    )
    assert db["OPTIONS"]["sslmode"] == "verify-full"
    assert db["OPTIONS"]["connect_timeout"] == "2"
    assert db["OPTIONS"]["target_session_attrs"] == "primary"


def test_server_options_in_the_url_keep_the_timeouts() -> None:
    options = database_settings("postgres://u@h/d?options=-c%20work_mem%3D8MB")["OPTIONS"]["options"]
    assert "statement_timeout=30s" in options and options.endswith("-c work_mem=8MB")


def test_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "15min")
    monkeypatch.setenv("DATABASE_LOCK_TIMEOUT", "3s")
    options = database_settings("postgres://u@h/d")["OPTIONS"]["options"]
    assert "statement_timeout=15min" in options
    assert "lock_timeout=3s" in options


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u@h/d", "postgres://"),
        ("postgres://u@h:5432", "names no database"),
        ("postgres://u@h:port/d", "not a number"),
        ("postgres://u@h1,,h2/d", "empty host"),
        ("postgres://u@h/d?foo=1", "'foo'"),
    ],
)
def test_a_wrong_url_says_what_is_wrong(url: str, words: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=words):
        database_settings(url)


def test_a_wrong_timeout_says_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_LOCK_TIMEOUT", "ten seconds")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_LOCK_TIMEOUT"):
        database_settings("postgres://u@h/d")


def _connect(db: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        dbname=db["NAME"],
        password=db["PASSWORD"] or None,
        **db["OPTIONS"],
    )


@pytest.mark.django_db
def test_a_dead_first_host_is_skipped_and_the_session_gets_its_timeouts() -> None:
    """Real libpq: the first host refuses (nothing listens on port 1), the second is the running server."""
    real = settings.DATABASES["default"]
    host = real["HOST"] or "127.0.0.1"
    port = real["PORT"] or "5432"
    password = f":{real['PASSWORD']}" if real["PASSWORD"] else ""
    url = f"postgres://{real['USER']}{password}@127.0.0.1:1,{host}:{port}/{connection.settings_dict['NAME']}"
    with _connect(database_settings(url)) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("30s",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("10s",)
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        assert str(conn.info.port) == str(port)


@pytest.mark.django_db
def test_the_application_connection_carries_the_timeouts() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone() == ("1min",)
