from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console import vendor_log
from console.access import operator_required
from console.queries import latest_heartbeat, vendor_log_page
from tenants.queries import customer_tenants


@operator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/dashboard.html",
        {"tenants": customer_tenants(), "heartbeat": latest_heartbeat()},
    )


@operator_required
def operation_log(request: HttpRequest) -> HttpResponse:
    """The vendor operation log, newest first; ?verify=1 checks the whole chain."""
    verdict = vendor_log.verify() if request.GET.get("verify") else None
    return render(request, "console/log.html", {"entries": vendor_log_page(), "verdict": verdict})
