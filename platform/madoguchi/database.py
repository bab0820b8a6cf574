"""The database connection settings, built to survive a failover (issue 11).

`dj_database_url` refuses the multi-host form libpq understands (`postgres://u:p@h1:5432,h2:5432/db`), and its
defaults leave a web thread waiting forever on a primary that hangs: no connect timeout, no TCP keepalives, no
statement timeout. So the URL is read here, and every connection gets:

- `target_session_attrs=read-write`: libpq tries the hosts in turn and keeps only a primary, so a proxy that
  still routes to a node in recovery (or a stale DNS answer) costs a reconnect, not a failed booking;
- a connect timeout, TCP keepalives and a TCP user timeout: a dead or SIGSTOPped primary is noticed within
  seconds;
- `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout`: no request holds a lock or a
  connection for longer than a person would wait. The migration job raises the statement timeout through the
  environment (a table rewrite may take minutes) and keeps a short lock timeout, so it never queues every
  booking behind its lock.

A new connection made while no primary is reachable (a failover in progress) is tried again for up to
DATABASE_FAILOVER_WAIT_SECONDS (25 s; `madoguchi.postgresql.base`), so a request waits for the new primary
instead of failing.

Each default can be set from the environment (DATABASE_CONNECT_TIMEOUT, DATABASE_STATEMENT_TIMEOUT, …); a
parameter given in the URL's query wins over the default.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from madoguchi.config import env_str

_SCHEMES = {"postgres", "postgresql", "pgsql"}

# libpq keywords accepted in the URL's query and passed to the driver as they are.
_LIBPQ_OPTIONS = {
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_count",
    "keepalives_idle",
    "keepalives_interval",
    "options",
    "sslcert",
    "sslkey",
    "sslmode",
    "sslrootcert",
    "target_session_attrs",
    "tcp_user_timeout",
}


def _timeout(name: str, default: str) -> str:
    """A PostgreSQL duration from the environment ("30s", "500ms", "0" = none), checked at start-up."""
    value = env_str(name) or default
    number = value.removesuffix("ms").removesuffix("s").removesuffix("min")
    if not number.isdigit():
        raise ImproperlyConfigured(f"{name} must be a duration such as 30s, 500ms or 0 (got {value!r}).")
    return value


def _seconds(name: str, default: str) -> float:
    """A number of seconds from the environment, checked at start-up."""
    value = env_str(name) or default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 300:
        raise ImproperlyConfigured(f"{name} must be a number of seconds from 0 to 300 (got {value!r}).")
    return seconds


def _session_options() -> str:
    statement = _timeout("DATABASE_STATEMENT_TIMEOUT", "30s")
    lock = _timeout("DATABASE_LOCK_TIMEOUT", "10s")
    idle = _timeout("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", "60s")
    return (
        f"-c statement_timeout={statement} -c lock_timeout={lock}"
        f" -c idle_in_transaction_session_timeout={idle}"
    )


def _hosts_and_ports(netloc_hosts: str) -> tuple[str, str]:
    hosts: list[str] = []
    ports: list[str] = []
    for item in netloc_hosts.split(","):
        item = item.strip()
        if not item:
            raise ImproperlyConfigured("DATABASE_URL has an empty host in its host list.")
        if item.startswith("["):  # [IPv6]:port
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        if port and not port.isdigit():
            raise ImproperlyConfigured(f"DATABASE_URL has a port that is not a number: {item!r}.")
        hosts.append(unquote(host))
        ports.append(port or "5432")
    return ",".join(hosts), ",".join(ports)


def database_settings(url: str, *, conn_max_age: int = 60) -> dict[str, Any]:
    """Django's DATABASES["default"] for a postgres:// URL with one host or several."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// (got {parts.scheme or 'no'} scheme)."
        )
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    if not at:
        userinfo, hostlist = "", parts.netloc
    user, _, password = userinfo.partition(":")
    host, port = _hosts_and_ports(hostlist) if hostlist else ("", "")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database (postgres://user@host:5432/<database>).")

    options: dict[str, str] = {
        "connect_timeout": env_str("DATABASE_CONNECT_TIMEOUT") or "5",
        "keepalives": "1",
        "keepalives_idle": "10",
        "keepalives_interval": "3",
        "keepalives_count": "3",
        "tcp_user_timeout": env_str("DATABASE_TCP_USER_TIMEOUT_MS") or "15000",
        "target_session_attrs": "read-write",
        "options": _session_options(),
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _LIBPQ_OPTIONS:
            raise ImproperlyConfigured(
                f"DATABASE_URL has a parameter Madoguchi does not pass on: {key!r} "
                f"(allowed: {', '.join(sorted(_LIBPQ_OPTIONS))})."
            )
        # Server options given in the URL come after the timeouts, never instead of them.
        options[key] = f"{options[key]} {value}" if key == "options" else value
    return {
        # django-tenants' backend whose new connections wait out a failover (madoguchi.postgresql.base)
        "ENGINE": "madoguchi.postgresql",
        "NAME": name,
        "USER": unquote(user),
        "PASSWORD": unquote(password),
        "HOST": host,
        "PORT": port,
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "FAILOVER_WAIT_SECONDS": _seconds("DATABASE_FAILOVER_WAIT_SECONDS", "25"),
        "OPTIONS": options,
    }
