"""Addresses that carry a secret (an administrator's one-time invitation link, booking/staff/urls.py:
`/staff/invitation/<account>/<token>/`) are written down without it: in the access log, in every other log
line (`WithoutSecrets`, on every handler of settings.LOGGING) and in error reports (integrations.sentry).
Whoever reads a log or an error report could otherwise set the password before the person it was mailed to.
The gateways hide the same part of the address in their own logs (infra/gateways/*.conf).

By the address's shape, not by the URL pattern that resolved it: a request that never resolves (the link
without its last slash gets CommonMiddleware's redirect; a suspended municipality's 503) carries a valid
token too. Loose on purpose (any case, repeated slashes, anywhere in a text): it fails closed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

HIDDEN = "[hidden]"
# possessive quantifiers: a run of slashes is never tried again in shorter parts (quadratic on hostile input)
_SECRET = re.compile(r"(/staff/++invitation/++[^/?#\s\"']*+/++)[^/?#\s\"']+", re.IGNORECASE)


def has_secret(path: str) -> bool:
    """Whether the path holds an invitation token (its page must not pass its address on as Referer)."""
    return without_secrets(path) != path


def without_secrets(text: str) -> str:
    """`text` (a path, a URL, a log message) with every invitation token in it replaced by HIDDEN."""
    return _SECRET.sub(rf"\g<1>{HIDDEN}", text) if "nvitation" in text.lower() else text


class WithoutSecrets(logging.Filter):
    """Every log line without an invitation token: Django's own lines name the path ("Internal Server
    Error: /staff/invitation/…", CSRF refusals, unreadable bodies), and so do ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = without_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_hidden(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _hidden(value) for key, value in record.args.items()}
        return True


def _hidden(value: Any) -> Any:
    return without_secrets(value) if isinstance(value, str) else value
