"""How long a signed-in session lasts: an idle timeout and an absolute limit (finding 7 of issue 13).

Django's sessions last SESSION_COOKIE_AGE from their last save and know neither when their person signed in
nor when they last did anything. Here a session keeps both as timestamps, checked on each request:

- idle: no request for longer than the idle limit ends it;
- absolute: however busy, it ends this long after sign-in, so a stolen or forgotten session cannot be
  kept alive for ever by a script.

Staff sessions on tenant hosts are checked by the staff gate (`booking.access.sessions`), with the limits
the tenant's administrator sets; vendor-console sessions on the platform's own host by
`VendorSessionLimitMiddleware` below, with the limits in settings (VENDOR_SESSION_*).

A session without timestamps (opened before these limits, or by a test's force_login) starts counting at
its first checked request: it cannot outlive the absolute limit from then on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils import formats, timezone
from django_tenants.utils import get_public_schema_name

from tenants.db import tenant_connection

SIGNED_IN_AT = "session_signed_in_at"  # seconds since the epoch
SEEN_AT = "session_seen_at"
# The last-seen time is written at most once a minute: the session is saved (a database write) then, not on
# every request. The idle limit is therefore kept to within a minute.
SEEN_RESOLUTION_SECONDS = 60


class Ended(StrEnum):
    IDLE = "idle"
    ABSOLUTE = "absolute"


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta
    absolute: dt.timedelta


def _now() -> float:
    """The clock (tests replace it: no sleeping)."""
    return timezone.now().timestamp()


def start(session: SessionBase, limits: SessionLimits) -> None:
    """Mark a session as signed in now (at sign-in)."""
    now = _now()
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now
    _expire_with_browser(session, limits)


def check(session: SessionBase, limits: SessionLimits) -> Ended | None:
    """Whether the session is over (and why); if not, note that it was seen now.

    The caller ends a session that is over (logs its person out).
    """
    now = _now()
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        start(session, limits)
        return None
    if now - signed_in_at >= limits.absolute.total_seconds():
        return Ended.ABSOLUTE
    if now - seen_at >= limits.idle.total_seconds():
        return Ended.IDLE
    if now - seen_at >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT] = now
        _expire_with_browser(session, limits)
    return None


def ends_at(session: SessionBase, limits: SessionLimits) -> dt.datetime | None:
    """When the session ends if its person does nothing more: the earlier of the idle and the absolute limit.

    Pages say it (WCAG 2.2.1, issue 15); None for a session without timestamps (not signed in).
    """
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        return None
    end = min(seen_at + limits.idle.total_seconds(), signed_in_at + limits.absolute.total_seconds())
    return dt.datetime.fromtimestamp(end, tz=dt.UTC)


def extend(session: SessionBase, limits: SessionLimits) -> None:
    """The person asked for more time: the idle limit counts from now (the absolute limit stays)."""
    session[SEEN_AT] = _now()
    _expire_with_browser(session, limits)


def clock(moment: dt.datetime) -> str:
    """A time as people here read it: Tokyo time (the site's TIME_ZONE), 「10:42」."""
    return formats.date_format(timezone.localtime(moment), "G:i")


@dataclass(frozen=True)
class TimeLimit:
    """What a page under a time limit shows (platform template `_time_limit.html`, `timeout.js`).

    `extend_url` takes a POST with `next` (where to come back to); `form_id`, when set, names the page's
    form the extend button belongs to instead, so what the person typed is sent along and kept.
    """

    ends_at: dt.datetime
    extend_url: str
    next: str
    reason: str = ""
    form_id: str = ""


def _expire_with_browser(session: SessionBase, limits: SessionLimits) -> None:
    # The cookie and the stored session go too once idle (plus the minute the last-seen time may lag), so an
    # idle session is not left lying in the store until SESSION_COOKIE_AGE.
    session.set_expiry(int(limits.idle.total_seconds()) + SEEN_RESOLUTION_SECONDS)


def vendor_limits() -> SessionLimits:
    return SessionLimits(
        idle=dt.timedelta(minutes=settings.VENDOR_SESSION_IDLE_MINUTES),
        absolute=dt.timedelta(hours=settings.VENDOR_SESSION_ABSOLUTE_HOURS),
    )


class VendorSessionLimitMiddleware:
    """Sign a vendor-console operator out when their session is idle or too old.

    Only on the platform's own host (the public schema): tenant hosts' staff sessions are the staff gate's.
    It runs right after AuthenticationMiddleware, so whatever comes later (django-otp, the admin) sees the
    signed-out request as anonymous and asks for a new sign-in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        on_platform_host = tenant_connection().schema_name == get_public_schema_name()
        if (
            on_platform_host
            and request.user.is_authenticated
            and check(request.session, vendor_limits()) is not None
        ):
            logout(request)
        return self.get_response(request)
