from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from booking.engine.queries import booking_rules, places_in_service
from booking.engine.texts import citizen_texts
from tenants.db import tenant_connection


def top_page(request: HttpRequest) -> HttpResponse:
    tenant = tenant_connection().tenant
    rules = booking_rules()
    return render(
        request,
        "booking/top.html",
        {
            "municipality": tenant,
            "places": places_in_service(),
            "rules": rules,
            "texts": citizen_texts(rules),
        },
    )
