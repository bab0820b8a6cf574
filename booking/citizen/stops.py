"""Residents' booking writes are refused while a stop that takes the site down runs (SO-01).

One decorator, `refused_during_stop`, on every citizen write: the web flow's POSTs (hold, hold again,
extend, confirm, release, cancel) and the citizen API's POST/PATCH/DELETE of a booking. It runs before the
view, so a refused request changes nothing, and answers 503 with Retry-After until the stop's end: a page
on the web, `{"code": "planned_stop", "message", "ends_at"}` in the API. Reads (GET) pass, and so do
call-center operators in the caller's flow (namespace "caller"): staff keep working in a stop. The stops
come from the control plane's named interface `console.announcements`, read once per request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from booking.lib import dates
from console.announcements import Notice, notices_for_request, site_down_now
from tenants.db import tenant_connection

View = Callable[..., HttpResponseBase]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CODE = "planned_stop"


def refused_during_stop(view: View) -> View:
    """Refuse the write while a site-down stop runs; mark the view so a test can find every write."""

    @wraps(view)
    def wrapper(request: HttpRequest | Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in SAFE_METHODS:
            now = timezone.now()
            notice = _stop_refusing(request, now)
            if notice is not None:
                return _refusal(request, notice, now)
        return view(request, *args, **kwargs)

    wrapper.refuses_during_stop = True  # type: ignore[attr-defined]
    return wrapper


def refuses_writes_now(request: HttpRequest | Request) -> bool:
    """Whether `refused_during_stop` would refuse this write now (for a path that answers before the view
    runs: it leaves such a request to the view, which words the refusal)."""
    return _stop_refusing(request, timezone.now()) is not None


def _stop_refusing(request: HttpRequest | Request, now: dt.datetime) -> Notice | None:
    """The stop that refuses this request's writes now (operators booking for a caller are never refused)."""
    return None if _operator(request) else site_down_now(notices_for_request(request), now)


def _operator(request: HttpRequest | Request) -> bool:
    match = request.resolver_match
    return match is not None and match.namespace == "caller"


def _end_text(notice: Notice) -> str:
    end = notice.ends_at.astimezone(dates.TOKYO)
    return f"{dates.local_date(end.date())} {end.hour}:{end.minute:02d}"


def message(notice: Notice) -> str:
    if notice.emergency:
        text = _(
            "緊急停止中のため、予約・変更・取消を受け付けていません。%(end)s（日本時間）に再開する予定です。"
        )
    else:
        text = _(
            "計画停止中のため、予約・変更・取消を受け付けていません。%(end)s（日本時間）に再開する予定です。"
        )
    return text % {"end": _end_text(notice)}


def _refusal(request: HttpRequest | Request, notice: Notice, now: dt.datetime) -> HttpResponseBase:
    headers = {"Retry-After": str(notice.retry_after(now))}
    if isinstance(request, Request):
        body = {
            "code": CODE,
            "message": message(notice),
            "ends_at": notice.ends_at.astimezone(dates.TOKYO).isoformat(),
        }
        return Response(body, status=503, headers=headers)
    response = render(
        request,
        "booking/citizen/stopped.html",
        {"municipality": tenant_connection().tenant, "notice": notice, "message": message(notice)},
        status=503,
    )
    for name, value in headers.items():
        response[name] = value
    return response
