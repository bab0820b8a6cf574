from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.queries import latest_heartbeat
from tenants.queries import customer_tenants


@staff_member_required(login_url="admin:login")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/dashboard.html",
        {"tenants": customer_tenants(), "heartbeat": latest_heartbeat()},
    )
