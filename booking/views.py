from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from booking.selectors import places_in_service


def top_page(request: HttpRequest) -> HttpResponse:
    tenant = connection.tenant
    return render(
        request,
        "booking/top.html",
        {"municipality": tenant, "places": places_in_service()},
    )
