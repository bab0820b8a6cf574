"""The console's front page: today at a glance."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from booking.access import accounts
from booking.access.gate import profile_of, staff_view
from booking.access.permissions import ROLE_CAPABILITIES
from booking.lib.dates import TOKYO
from booking.models import AllowedNetwork, Booking, Place, StaffProfile, StaffRole


@staff_view(None)
def home(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request)
    assert profile is not None
    today = timezone.localdate()
    days = [today, today + dt.timedelta(days=1)]
    start = dt.datetime.combine(today, dt.time.min, TOKYO)
    end = start + dt.timedelta(days=2)
    counts = (
        Place.objects.annotate(
            today=Count(
                "slots__bookings",
                filter=Q(
                    slots__bookings__status=Booking.Status.CONFIRMED,
                    slots__starts_at__gte=start,
                    slots__starts_at__lt=start + dt.timedelta(days=1),
                ),
            ),
            tomorrow=Count(
                "slots__bookings",
                filter=Q(
                    slots__bookings__status=Booking.Status.CONFIRMED,
                    slots__starts_at__gte=start + dt.timedelta(days=1),
                    slots__starts_at__lt=end,
                ),
            ),
        )
        .filter(Q(today__gt=0) | Q(tomorrow__gt=0))
        .order_by("display_order")
    )
    return render(
        request,
        "booking/staff/home.html",
        {
            "profile": profile,
            "days": days,
            "counts": counts,
            "capabilities": {str(c) for c in ROLE_CAPABILITIES.get(profile.role, frozenset())},
            # Administrators see that the platform's networks apply until the tenant lists its own.
            "default_networks": (
                profile.role == StaffRole.ADMINISTRATOR and not AllowedNetwork.objects.exists()
            ),
            "expires_in": _days_to_expiry(profile),
        },
    )


def _days_to_expiry(profile: StaffProfile) -> int | None:
    days = accounts.security().password_expiry_days
    if not days or profile.password_changed_at is None:
        return None
    return (profile.password_changed_at + dt.timedelta(days=days) - timezone.now()).days
