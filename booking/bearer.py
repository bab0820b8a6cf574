"""Bearer tokens of the citizen and staff APIs: random, shown to the client once, stored only as SHA-256
(a leaked table gives no usable token)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedToken:
    token: str
    digest: str
    expires_at: dt.datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(lifetime: dt.timedelta, now: dt.datetime) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    return IssuedToken(token=token, digest=digest(token), expires_at=now + lifetime)
