"""Addresses that carry a secret (an administrator's one-time invitation link, booking/staff/urls.py) are
written down without it: in the access log (madoguchi.access_log) and in error reports (integrations.sentry).
Whoever reads a log or an error report could otherwise open the link before the person it was mailed to.
The gateways hide the same part of the address in their own logs (infra/gateways/*.conf)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The URL parameters that are secrets, by the name the URL pattern gives them.
SECRET_URL_PARTS = ("token",)
HIDDEN = "[hidden]"


def without_secrets(path: str, url_kwargs: Mapping[str, Any]) -> str:
    """`path` with the values of its pattern's secret parameters replaced by HIDDEN."""
    for name in SECRET_URL_PARTS:
        secret = url_kwargs.get(name)
        if isinstance(secret, str) and secret:
            path = path.replace(secret, HIDDEN)
    return path


def url_without_secrets(url: str) -> str:
    """A URL as an error report shows it: the path's secrets hidden (resolved by the URLconf of the request
    being handled, the tenant's or the control plane's), no query string (it can hold what someone searched
    for: names, numbers) and no fragment."""
    # imported here: settings hands this function to Sentry while it is itself being imported
    from django.urls import Resolver404, resolve

    parts = urlsplit(url)
    try:
        kwargs = resolve(parts.path).kwargs
    except Resolver404:
        kwargs = {}
    return urlunsplit((parts.scheme, parts.netloc, without_secrets(parts.path, kwargs), "", ""))
