"""The citizen pool serves residents only: staff and vendor paths are not there (AD-01, SO-10).

In production the web-citizen pool (`MADOGUCHI_WEB_POOL=citizen`) sits behind the internet gateway and the
`internet` ingress, the web-staff pool behind the LGWAN gateway. The gateway refuses staff paths already;
this middleware is the second wall, so that one forgotten gateway rule, ingress route or a request sent
straight to a citizen pod still reaches no staff sign-in, no staff API and no vendor console.

A 404, not a 403: to the internet these functions do not exist, and a 403 would say that they do. Other
pools (`staff`, or unset: local runs, tests) serve everything; the staff gate's allowed networks
(booking.access.gate) still decide who may use staff functions there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext

from madoguchi.api_errors import error_answer
from madoguchi.bulkhead import STAFF_PREFIXES, STAFF_ROOTS

CITIZEN_POOL = "citizen"


def staff_or_vendor(request: HttpRequest) -> bool:
    """A staff path on a tenant's host (`/staff/…`, `/api/v1/staff/…`), or anything on the vendor host."""
    path = request.path_info
    if path.startswith(STAFF_PREFIXES) or path in STAFF_ROOTS:
        return True
    # TenantHostMiddleware set the tenant; the public schema's host is the vendor console (and /admin/).
    tenant = getattr(request, "tenant", None)
    return getattr(tenant, "schema_name", None) == settings.PUBLIC_SCHEMA_NAME


class CitizenPoolMiddleware:
    """On the citizen pool, staff and vendor paths answer 404 before any view, session or database work.

    Placed after tenant routing (the vendor host is known by its tenant) and after the security headers
    (the 404 carries them). The pool is read per request, so a test can switch it with settings.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if settings.MADOGUCHI_WEB_POOL == CITIZEN_POOL and staff_or_vendor(request):
            return not_served(request)
        return self.get_response(request)


def not_served(request: HttpRequest) -> HttpResponseBase:
    if request.path_info.startswith("/api/"):
        return error_answer("not_found", gettext("見つかりません。"), 404)
    return render(request, "404.html", status=404)
