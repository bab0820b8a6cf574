"""A suspended municipality's sites (issue 14 §3): every page and API answer of its host says the service is
suspended, in the page's language, with 503 (not a 500, not a 404), until an operator resumes it in the
vendor console (tenants.lifecycle.do_suspend / do_resume).

After the host routing and the locale (the page is in the language chosen on the site), before sessions are
used: nobody signs in, books or reads anything while suspended. The suspension is a column of the tenant row
the routing already loaded, so a running municipality pays nothing for the check. The language switch, the
accessibility statement, static files and /healthz stay reachable.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from madoguchi.api_errors import error_answer

OPEN_PATHS = ("/i18n/", "/accessibility/", "/healthz")


class SuspendedTenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or getattr(tenant, "suspended_at", None) is None or _open(request.path):
            return self.get_response(request)
        message = _("%(name)s の予約サービスは、現在ご利用いただけません（利用停止中）。") % {
            "name": tenant.label
        }
        if request.path.startswith("/api/"):
            return error_answer("suspended", message, 503)
        return render(request, "suspended.html", {"message": message}, status=503)


def _open(path: str) -> bool:
    return path.startswith(OPEN_PATHS) or path.startswith(settings.STATIC_URL or "/static/")
