"""Error reporting to Sentry: active only when SENTRY_DSN is set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UrlShown = Callable[[str], str]
HEADERS_SENT = ("Host", "User-Agent", "Accept", "Accept-Language", "Content-Type", "X-Request-Id")


def init_sentry(dsn: str, environment: str, url_shown: UrlShown = lambda url: url) -> bool:
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, **sentry_options(environment, url_shown))
    return True


def sentry_options(environment: str, url_shown: UrlShown) -> dict[str, Any]:
    """The client's options. `url_shown` gives the address an error report may show for a URL (the caller's
    rules: madoguchi.secret_paths hides an invitation link's token)."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        "environment": environment,
        "integrations": [DjangoIntegration(), CeleryIntegration()],
        # Residents' personal data must not leave the service (BK-06): no user details, cookies, bodies,
        # query strings, SQL parameters or local variables of the failing code (a name, a phone number or a
        # password in a frame's variables); only the headers that say what the client was.
        "data_collection": {
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": list(HEADERS_SENT)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,
        },
        "max_request_body_size": "never",
        "traces_sample_rate": 0.0,
        "before_send": lambda event, hint: report_without_secrets(event, url_shown),
    }


def report_without_secrets(event: dict[str, Any], url_shown: UrlShown) -> dict[str, Any]:
    """An error report's request as it may leave the service: its URL and Referer as `url_shown` gives them,
    and no query string, body or cookies (a query can hold the name or number a clerk searched for: the
    access log keeps no query strings either)."""
    request = event.get("request")
    if not isinstance(request, dict):
        return event
    for part in ("query_string", "data", "cookies"):
        request.pop(part, None)
    if isinstance(request.get("url"), str):
        request["url"] = url_shown(request["url"])
    headers = request.get("headers")
    if isinstance(headers, dict):
        for name in [n for n in headers if n.lower() == "referer" and isinstance(headers[n], str)]:
            headers[name] = url_shown(headers[name])
    return event
