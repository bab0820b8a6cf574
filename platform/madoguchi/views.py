"""Views every host shares: health check and error pages."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from madoguchi.postgresql.base import without_failover_wait


def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness for the Kubernetes probes and the gateways: ready (200) when PostgreSQL answers.

    Redis is reported but does not decide (issue 11): bookings, sessions and sign-in need only PostgreSQL,
    so a Redis outage marks every pod "degraded", never unready, and the site stays up. (Liveness is a TCP
    check in the chart and needs neither.)
    """
    checks = {}
    try:
        # no wait for a new primary: a probe answers within its timeout, and never holds a thread 25 s
        with without_failover_wait(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    checks["cache"] = "ok" if _redis_answers() else "degraded: redis unavailable"
    ready = checks["database"] == "ok"
    status = ("ok" if checks["cache"] == "ok" else "degraded") if ready else "unavailable"
    return JsonResponse({"status": status, "checks": checks}, status=200 if ready else 503)


def _redis_answers() -> bool:
    ping = getattr(cache, "ping", None)  # madoguchi.cache.FailSoftRedisCache: a real round trip
    if ping is not None:
        return bool(ping())
    try:
        cache.set("healthz", "1", 5)
        return bool(cache.get("healthz") == "1")
    except Exception:  # noqa: BLE001
        return False


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
