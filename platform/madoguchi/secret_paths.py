"""Addresses that carry a secret (an administrator's one-time invitation link, booking/staff/urls.py:
`/staff/invitation/<account>/<token>/`) are written down without it: in the access log, in every other line
the web processes and the Celery workers log (`WithoutSecretsFormatter`, the console handler's in
settings.LOGGING) and in error reports (integrations.sentry).
Whoever reads a log or an error report could otherwise set the password before the person it was mailed to.
The gateways hide the same part of the address in their own logs (infra/gateways/*.conf).

By the address's shape, not by the URL pattern that resolved it: a request that never resolves (the link
without its last slash gets CommonMiddleware's redirect; a suspended municipality's 503) carries a valid
token too. Loose on purpose (any case, repeated slashes, anywhere in a text): it fails closed.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "[hidden]"
# possessive quantifiers: a run of slashes is never tried again in shorter parts (quadratic on hostile input)
_SECRET = re.compile(r"(/staff/++invitation/++[^/?#\s\"']*+/++)[^/?#\s\"']+", re.IGNORECASE)


def has_secret(path: str) -> bool:
    """Whether the path holds an invitation token (its page must not pass its address on as Referer)."""
    return without_secrets(path) != path


def without_secrets(text: str) -> str:
    """`text` (a path, a URL, a log message) with every invitation token in it replaced by HIDDEN."""
    return _SECRET.sub(rf"\g<1>{HIDDEN}", text) if "invitation" in text.lower() else text  # the usual case


class WithoutSecretsFormatter(logging.Formatter):
    """Every log line written without an invitation token, whatever holds it: the message, its arguments,
    a traceback (Django's own lines name the path: "Internal Server Error: /staff/invitation/…", CSRF
    refusals, unreadable bodies; so do ours). The record itself is left as it is."""

    def format(self, record: logging.LogRecord) -> str:
        return without_secrets(super().format(record))
