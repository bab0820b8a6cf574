"""Reading the service's configuration from the environment.

Every secret and every address comes from the environment (12-factor). Local defaults are safe
for a developer's machine; in production mode (DEBUG off) an insecure value stops the process
at start-up instead of running quietly with it.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY_PREFIX = "django-insecure-"  # noqa: S105 - the marker Django itself uses for dev keys
MIN_SECRET_KEY_LENGTH = 50

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r}).")


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def secret_key(debug: bool) -> str:
    """SECRET_KEY from the environment; a fixed development key only when DEBUG is on."""
    key = env_str("SECRET_KEY")
    if debug:
        return key or DEV_SECRET_KEY_PREFIX + "local-development-only-never-use-in-production-0123456789"
    problems = insecure_secret_key_problems(key)
    if problems:
        raise ImproperlyConfigured(
            "SECRET_KEY is not safe for production (DEBUG is off): " + "; ".join(problems) + ". "
            "Set SECRET_KEY to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    return key


def insecure_secret_key_problems(key: str) -> list[str]:
    problems = []
    if not key:
        problems.append("it is not set")
    else:
        if key.startswith(DEV_SECRET_KEY_PREFIX):
            problems.append("it is the development key")
        if len(key) < MIN_SECRET_KEY_LENGTH:
            problems.append(f"it is shorter than {MIN_SECRET_KEY_LENGTH} characters")
        if len(set(key)) < 5:
            problems.append("it has too few distinct characters")
    return problems


def required_in_production(name: str, value: str, debug: bool) -> str:
    if not debug and not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (production mode).")
    return value
