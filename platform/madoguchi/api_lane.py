"""The citizen API's own, shorter middleware list (issue 12: the cheap request path).

The citizen API (`/api/v1/` on a municipality's host, the staff API apart) is JSON authenticated by a
bearer token: it uses no session, no cookie sign-in, no CSRF token (DRF's views are exempt, and no session
authentication is configured), no messages and no OTP. In a flash crowd those middleware cost a resident's
request about a third of its time for nothing, so once the common part of the stack has run (access log,
security headers, failover replay, host routing, networks, pools, waiting room, bulkhead, NUL bytes,
Django's SecurityMiddleware), `CitizenApiLaneMiddleware` sends such a request through
`settings.CITIZEN_API_MIDDLEWARE` (language, suspension, common, CSRF; X-Frame-Options comes from
SecurityHeadersMiddleware, outermost) to the URL resolver and the view, and the rest of
`settings.MIDDLEWARE` is not run for it. The list must be of sync middleware (the lane does not adapt sync
and async as Django's handler does; the project is served by WSGI).

Every other request (pages, the staff API, the vendor console, static files) goes on down the full list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

CITIZEN_API_PREFIX = "/api/v1/"
STAFF_API_PREFIX = "/api/v1/staff/"


def is_citizen_api(request: HttpRequest) -> bool:
    """A citizen API request on a municipality's host (the vendor host has no citizen API)."""
    path = request.path_info
    tenant = getattr(request, "tenant", None)
    return (
        path.startswith(CITIZEN_API_PREFIX)
        and not path.startswith(STAFF_API_PREFIX)
        and tenant is not None
        and getattr(tenant, "schema_name", "public") != "public"
    )


class _LaneHandler(BaseHandler):
    """Django's handler with another middleware list: its chain ends in the same URL resolving and view
    calling (`_get_response`, with these middleware's view and exception hooks)."""

    def load_lane(self, names: list[str]) -> Callable[[HttpRequest], Any]:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for name in reversed(names):
            try:
                instance = import_string(name)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler
        return handler


class CitizenApiLaneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.lane = _LaneHandler().load_lane(list(settings.CITIZEN_API_MIDDLEWARE))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_citizen_api(request):
            return cast(HttpResponse, self.lane(request))
        return self.get_response(request)
