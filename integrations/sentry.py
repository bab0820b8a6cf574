"""Error reporting to Sentry: active only when SENTRY_DSN is set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scrub = Callable[[str], str]
Keep = Callable[[dict[str, Any]], bool]


def init_sentry(
    dsn: str, environment: str, scrub: Scrub = lambda text: text, keep: Keep = lambda hint: True
) -> bool:
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, **sentry_options(environment, scrub, keep))
    return True


def sentry_options(environment: str, scrub: Scrub, keep: Keep = lambda hint: True) -> dict[str, Any]:
    """The client's options. `scrub` is applied to every text of a report before it leaves (the caller's
    rules: madoguchi.secret_paths hides an invitation link's token); a report whose hint `keep` refuses is
    not sent (madoguchi.lost_connection: a request's first run that is answered again)."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.integrations.redis import RedisIntegration

    # One line per request with the client's address: not a breadcrumb of every report.
    ignore_logger("madoguchi.access")
    return {
        "environment": environment,
        "integrations": [DjangoIntegration(), CeleryIntegration()],
        # Redis commands as breadcrumbs carry their keys, and some keys name a client's address.
        "disabled_integrations": [RedisIntegration()],
        # Residents' personal data must not leave the service (BK-06): no user details, cookies, bodies, SQL
        # parameters or task arguments (send_default_pii off, with the SDK's scrubber of passwords, tokens and
        # sessions), and no local variables of the failing code (a name, a phone number in a frame).
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "traces_sample_rate": 0.0,
        "before_send": lambda event, hint: report_without_secrets(event, scrub) if keep(hint) else None,
    }


def report_without_secrets(event: dict[str, Any], scrub: Scrub) -> dict[str, Any]:
    """A report as it may leave the service: no query string (it can hold the name or number a clerk
    searched for: the access log keeps none either), body or cookies, and `scrub` over every text in it
    (the URL, breadcrumbs, log messages, exception messages)."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("query_string", "data", "cookies"):
            request.pop(part, None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    scrubbed: dict[str, Any] = _scrubbed(event, scrub)
    return scrubbed


def _scrubbed(value: Any, scrub: Scrub) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item, scrub) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item, scrub) for item in value]
    return value
