"""The gate: a resident beyond what the municipality admits waits in a fair line instead of getting a 503.

A middleware placed before the bulkhead (settings.MIDDLEWARE): admission is decided here, per
municipality and across every process (Redis), before a citizen takes one of this process's places; the
bulkhead's per-process 503 stays under it as the last resort, for when Redis is down (the gate then lets
everyone through: it fails open) or a process is flooded anyway.

Who never queues: the staff lane (staff and call-center paths, the vendor console: madoguchi.bulkhead's
lanes), signed-in staff on a citizen page, and the pages a waiting resident needs (the language switch,
the accessibility statement, the auto-refresh switch). One municipality's line is keyed by its schema, so
its crowd never queues another's residents.

A waiting resident gets the queue page (or JSON under /api/) with their place and an estimated wait,
refreshed every REFRESH_SECONDS by the HTTP `Refresh` header, which works without JavaScript (the header form
of a meta refresh; axe's meta-refresh rule rightly flags the tag, and the header lets us offer a switch
that turns it off: WCAG 2.2.1 without a time limit trap, since the place is kept either way).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext

from console.waiting_room import redis_line as queue
from console.waiting_room.rules import limits_for
from madoguchi.api_errors import error_answer
from madoguchi.bulkhead import Lane, lane_of
from madoguchi.cache import CacheUnavailable

logger = logging.getLogger("madoguchi.waiting_room")

AUTO_REFRESH_PATH = "/waiting-room/auto-refresh/"
MANUAL_COOKIE = "mg_wr_manual"  # "1": the resident turned the page's self-refresh off
# What a waiting resident must still reach: the language switch, the accessibility statement, this switch.
EXEMPT_PREFIXES = ("/i18n/", "/accessibility/", AUTO_REFRESH_PATH)
LOG_EVERY_SECONDS = 10.0
_last_logged = [float("-inf")]


class WaitingRoomMiddleware:
    """Citizen requests of a municipality whose room is on pass through its line (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if lane_of(request) is not Lane.CITIZEN:
            return self.get_response(request)
        if path == AUTO_REFRESH_PATH:
            return auto_refresh_switch(request)
        if path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        tenant: Any = request.tenant  # type: ignore[attr-defined]  # set by TenantHostMiddleware
        if getattr(tenant, "suspended_at", None) is not None:
            return self.get_response(request)  # a suspended site's page (further in) is for everyone: no line
        now = timezone.now()
        limits = limits_for(tenant.pk, now)
        if limits is None:
            return self.get_response(request)
        schema = tenant.schema_name
        pass_id = queue.read_pass(schema, request.COOKIES.get(queue.PASS_COOKIE, ""))
        ticket = queue.read_ticket(schema, request.COOKIES.get(queue.TICKET_COOKIE, ""))
        if not pass_id and signed_in_staff(request):
            return self.get_response(request)
        try:
            decision = _line(schema).enter(now.timestamp(), limits, pass_id, ticket)
        except Exception as error:  # noqa: BLE001 - Redis away: fail open to the bulkhead, never a 500
            _note_redis_failure(error, schema)
            return self.get_response(request)
        if decision.admitted:
            response = self.get_response(request)
            if decision.pass_id != pass_id:
                _set_cookie(response, queue.PASS_COOKIE, queue.sign_pass(schema, decision.pass_id))
                response.delete_cookie(queue.TICKET_COOKIE)
            return response
        return queue_response(request, decision, limits)


def _line(schema: str) -> queue.Line:
    cache: Any = caches["default"]
    return queue.Line(cache.raw_client(), schema)


def _note_redis_failure(error: BaseException, schema: str) -> None:
    cache: Any = caches["default"]
    # the cache's breaker: nobody tries Redis again for a few seconds (a refusal during that pause is no
    # new failure, or the pause would never end)
    if hasattr(cache, "note_failure") and not isinstance(error, CacheUnavailable):
        cache.note_failure(error)
    now = time.monotonic()
    if now - _last_logged[0] >= LOG_EVERY_SECONDS:
        _last_logged[0] = now
        logger.warning("waiting room open (redis unavailable: %s), tenant=%s", type(error).__name__, schema)


def signed_in_staff(request: HttpRequest) -> bool:
    """A signed-in staff member (or operator) on a citizen page never queues.

    The gate runs before the session middleware, so the session is read here, only for a request without
    a pass cookie that carries a session cookie (one primary-key read): staff accounts are Django users of
    the municipality's schema (residents sign in with their card, never as a user).
    """
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    try:
        return "_auth_user_id" in store.load()
    except Exception:  # noqa: BLE001 - an unreadable session is no staff member
        return False


def _set_cookie(response: HttpResponseBase, name: str, value: str) -> None:
    response.set_cookie(
        name, value, secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax", path="/"
    )


def _language(request: HttpRequest) -> str:
    """The page's language as JapaneseFirstLocaleMiddleware (further in) would choose it."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in {code for code, _ in settings.LANGUAGES} else settings.LANGUAGE_CODE


def queue_response(request: HttpRequest, decision: queue.Decision, limits: queue.Limits) -> HttpResponse:
    """The waiting resident's answer: JSON under /api/ (503, nothing done), else the queue page."""
    language = _language(request)
    manual = request.COOKIES.get(MANUAL_COOKIE) == "1"
    here = _on_this_site(request.get_full_path())  # "//host/…" asked for: a link to that host otherwise
    minutes = max(1, -(-decision.wait_seconds // 60))
    with translation.override(language):
        if request.path_info.startswith("/api/"):
            message = gettext(
                "ただいま順番にご案内しています。あなたの順番は%(position)d番目です。"
                "Retry-After の秒数のあと、同じクッキーを付けてもう一度お送りください。"
            ) % {"position": decision.position}
            response: HttpResponse = error_answer(
                "waiting_room",
                message,
                503,
                position=decision.position,
                queue_length=decision.queue_length,
                estimated_wait_seconds=decision.wait_seconds,
                retry_after=queue.REFRESH_SECONDS,
            )
        else:
            context = {
                "decision": decision,
                "minutes": minutes,
                "refresh_seconds": queue.REFRESH_SECONDS,
                "manual": manual,
                "tenant_name": request.tenant.label,  # type: ignore[attr-defined]
                "here": here,
                "switch_url": f"{AUTO_REFRESH_PATH}?"
                + urlencode({"on" if manual else "off": "1", "next": here}),
                "csrf_token": get_token(request),
                "language": language,
                "event": limits.event,
            }
            page = render_to_string("console/waiting_room/queue.html", context)
            # A page asked for is answered (200); a form sent while waiting was not processed (503).
            status = 200 if request.method in {"GET", "HEAD"} else 503
            response = HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
            if not manual:
                response.headers["Refresh"] = str(queue.REFRESH_SECONDS)
    response.headers["Retry-After"] = str(queue.REFRESH_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = language
    assert decision.ticket is not None
    schema = request.tenant.schema_name  # type: ignore[attr-defined]
    _set_cookie(response, queue.TICKET_COOKIE, queue.sign_ticket(schema, decision.ticket))
    # The language switch on the page posts to Django's set_language, which checks CSRF: the cookie is set
    # here, since this answer never reaches the CSRF middleware further in.
    CsrfViewMiddleware(lambda _request: response).process_response(request, response)
    return response


def _on_this_site(target: str) -> str:
    """`target` if it is a path on this site, else the top page."""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=None) or not target.startswith("/"):
        return "/"
    return target


def auto_refresh_switch(request: HttpRequest) -> HttpResponse:
    """Turn the queue page's self-refresh off (`?off=1`) or on (`?on=1`), then back to the page.

    A GET link, so it works without JavaScript and without a form; it changes only this browser's
    preference. `next` must be a path on this site.
    """
    response = HttpResponseRedirect(_on_this_site(request.GET.get("next", "/")))
    if "off" in request.GET:
        _set_cookie(response, MANUAL_COOKIE, "1")
    else:
        response.delete_cookie(MANUAL_COOKIE)
    response.headers["Cache-Control"] = "no-store"
    return response
