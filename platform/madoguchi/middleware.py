"""Request routing by host, and security headers."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.shortcuts import render
from django.urls import set_urlconf
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.middleware.main import TenantMainMiddleware

from madoguchi.api_errors import error_answer
from madoguchi.secret_paths import has_secret
from tenants.db import tenant_connection
from tenants.routing import Unavailable, tenant_for_host

HEALTH_PATH = "/healthz"
# A missing schema is an operator's work (a provisioning to finish, a restore): minutes, not seconds.
UNAVAILABLE_RETRY_SECONDS = 300


class TenantHostMiddleware(TenantMainMiddleware):
    """Route each request to its tenant's schema by host; a host that is no known domain gets the 404 page.

    This is the host allow-list: ALLOWED_HOSTS is "*" because the allowed hosts are the Domain rows
    (which change at run time) and no request reaches a view unless its host is one of them.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection = tenant_connection()
        if request.path == HEALTH_PATH:
            # Probes come with the pod's address as host; they get the public schema's health check.
            connection.set_schema_to_public()
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            connection.set_schema_to_public()
            return unknown_host_response(request)
        tenant = tenant_for_host(hostname)  # kept in memory, forgotten when the routing changes (issue 12)
        if tenant is None:
            connection.set_schema_to_public()
            return unknown_host_response(request)
        if isinstance(tenant, Unavailable):
            connection.set_schema_to_public()
            return unavailable_response(request)
        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]  # the attribute django-tenants defines
        if connection.schema_name == tenant.schema_name and connection.include_public_schema:
            # This connection's last request was the same municipality's: its search_path stands, and
            # set_tenant would make the next statement set it again (a round trip per request; issue 12).
            connection.tenant = tenant
        else:
            connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        host = request.get_host().split(":")[0].rstrip(".").lower()
        return host[4:] if host.startswith("www.") else host


def unknown_host_response(request: HttpRequest) -> HttpResponse:
    request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
    set_urlconf(request.urlconf)
    return render(request, "404.html", {"unknown_host": True}, status=404)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """A municipality whose schema is missing (tenants.routing.Unavailable): 503 in both languages (the
    language middleware has not run), nothing of the municipality read or written."""
    request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
    set_urlconf(request.urlconf)
    if request.path.startswith("/api/"):
        response: HttpResponse = error_answer(
            "unavailable",
            "この予約サービスは、現在ご利用いただけません。 / This booking service is not available now.",
            503,
        )
    else:
        response = render(request, "unavailable.html", status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    return response


class JapaneseFirstLocaleMiddleware:
    """Japanese unless the person chose another language on the site (the language cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language; a municipal site shows Japanese
    first to everyone and offers English through the switch on every page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        translation.deactivate()
        return response


class RejectNulBytesMiddleware:
    """A NUL byte in any input is refused with a 400 before a view sees it.

    PostgreSQL cannot store NUL in text, and no legitimate form or API field carries one; refusing it here
    turns what would be a database error in any view into a clear answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return error_answer(
                    "invalid", translation.gettext("入力に使えない文字（NUL）が含まれています。"), 400
                )
            return render(request, "400.html", status=400)
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    # Only the text encodings of forms and the API; uploaded files may hold any byte.
    if request.method in {"POST", "PUT", "PATCH"} and request.content_type in TEXT_BODIES:
        body = request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
        return b"\x00" in body or b"\\u0000" in body or b"%00" in body
    return False


TEXT_BODIES = {"application/json", "application/x-www-form-urlencoded"}


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """The security headers on every answer (IPA 安全なウェブサイトの作り方: clickjacking, XSS mitigation,
    caching of personal data), whichever middleware or view made it.

    It stands before the host routing in MIDDLEWARE, so the pages answered early (the unknown host's 404,
    the bulkhead's 503, the NUL refusal's 400) get every header too: Django's SecurityMiddleware and
    XFrameOptionsMiddleware sit further in and never see those. Their header logic is reused here rather
    than copied (nosniff, Referrer-Policy, COOP, HSTS on HTTPS; X-Frame-Options), so settings keep
    working; the two stay in MIDDLEWARE for the HTTPS redirect and the per-view exemptions.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._django_security = SecurityMiddleware(get_response)
        self._frame_options = XFrameOptionsMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if has_secret(request.path):
            # An invitation link's page (or any answer at such an address: a CSRF refusal, a 503): its own
            # requests (stylesheet) send only the origin as Referer, never the token, to the ingress log.
            # Not "no-referrer": browsers then send "Origin: null" with the form's POST, which CSRF refuses.
            response.headers["Referrer-Policy"] = "strict-origin"
        response = self._django_security.process_response(request, response)
        response = self._frame_options.process_response(request, response)
        if "Cache-Control" not in response.headers and not _static(request):
            # Pages, API answers, CSV and PDF downloads carry names, phones and addresses: no copy in a
            # browser's or a proxy's cache. Static files keep whitenoise's own caching.
            response.headers["Cache-Control"] = "no-store"
        return response


def _static(request: HttpRequest) -> bool:
    return request.path_info.startswith(settings.STATIC_URL or "/static/")


class MethodNotAllowedPageMiddleware:
    """A page opened with the wrong method (a bookmarked or typed address of a form's target, e.g.
    `GET /staff/users/new/`) gets a page that says what to do instead of Django's blank 405. API answers and
    anything with a body of its own are left as they are."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.content or request.path.startswith("/api/"):
            return response
        page = render(request, "405.html", {"back": _same_site_referer(request)}, status=405)
        page["Allow"] = response.get("Allow", "")
        return page


def _same_site_referer(request: HttpRequest) -> str:
    """The page the person came from, only when it is on this host (never an open redirect)."""
    referer = request.headers.get("Referer", "")
    return referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else ""
