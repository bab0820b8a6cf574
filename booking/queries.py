"""Reads of the booking domain (in the current tenant's schema)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import OpeningPattern, Place, Weekday


@dataclass(frozen=True)
class PlaceHours:
    place: Place
    opens_later: bool  # starts on a day after the one asked about: say from when
    # one line per service and pattern, e.g. "マイナンバーカードの交付: 月・水 17:00〜19:00（最終受付 18:45）"
    lines: list[str]


def describe_weekdays(weekdays: list[int]) -> str:
    return "・".join(str(Weekday(day).label) for day in sorted(weekdays))


def describe_pattern(pattern: OpeningPattern) -> str:
    return _("%(days)s %(opens)s〜%(closes)s（最終受付 %(last)s）") % {
        "days": describe_weekdays(pattern.weekdays),
        "opens": f"{pattern.opens_at:%-H:%M}",
        "closes": f"{pattern.closes_at:%-H:%M}",
        "last": f"{pattern.last_reception_at:%-H:%M}",
    }


def places_in_service(on: dt.date | None = None) -> list[PlaceHours]:
    """Places open on or after `on` (today by default), with their hours per service."""
    on = on or timezone.localdate()
    places = (
        Place.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .prefetch_related(
            Prefetch(
                "opening_patterns",
                queryset=OpeningPattern.objects.select_related("service").order_by(
                    "service__display_order", "opens_at"
                ),
            )
        )
        .order_by("display_order", "code")
    )
    return [
        PlaceHours(
            place=place,
            opens_later=place.starts_on is not None and place.starts_on > on,
            lines=[f"{p.service.label}: {describe_pattern(p)}" for p in place.opening_patterns.all()],
        )
        for place in places
    ]
