"""Bearer tokens of the citizen and staff APIs: random, shown to the client once, stored only as SHA-256
(a leaked table gives no usable token); and the one reader of the `Authorization: Bearer` header."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


@dataclass(frozen=True)
class IssuedToken:
    token: str
    digest: str
    expires_at: dt.datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(lifetime: dt.timedelta, now: dt.datetime, *, prefix: str = "") -> IssuedToken:
    """`prefix` is covered by the digest like the rest, so what it says cannot be changed by the holder."""
    token = prefix + secrets.token_urlsafe(32)
    return IssuedToken(token=token, digest=digest(token), expires_at=now + lifetime)


def token_from_header(request: HttpRequest | Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when the request sent no bearer header
    (another scheme, or none), so that the API can say a sign-in is needed.

    A bearer header that is not exactly one ASCII token is refused (AuthenticationFailed, a 401) rather
    than read as "no token": the client meant to authenticate and must learn that it did not.
    """
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise AuthenticationFailed(_("Authorization ヘッダーは「Bearer <トークン>」の形で送ってください。"))
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError as exc:
        raise AuthenticationFailed(_("トークンに使えない文字が含まれています。")) from exc
