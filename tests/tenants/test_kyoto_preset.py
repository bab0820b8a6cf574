"""Kyoto's preset reproduces the places and hours of the specification's table 1⑵ (BK-12)."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from booking import provisioning
from booking.models import OpeningPattern, Place, Service
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db
MON_FRI = [0, 1, 2, 3, 4]


def patterns(place_code: str, service: str = "card_issuance") -> list[tuple]:
    return [
        (
            p.weekdays,
            f"{p.opens_at:%H:%M}",
            f"{p.closes_at:%H:%M}",
            f"{p.last_reception_at:%H:%M}",
            p.slot_minutes,
        )
        for p in OpeningPattern.objects.filter(place__code=place_code, service__code=service).order_by(
            "opens_at"
        )
    ]


def test_places_and_addresses(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        assert Place.objects.count() == 21
        assert Place.objects.filter(kind=Place.Kind.CENTER).count() == 2
        assert Place.objects.filter(kind=Place.Kind.CERTIFICATE_CORNER).count() == 5
        assert Place.objects.filter(kind=Place.Kind.WARD_OFFICE).count() == 14
        assert (
            Place.objects.get(code="center-3f").address == "京都市下京区西洞院通塩小路上る東塩小路町608番地8"
        )
        assert Place.objects.get(code="fushimi-daigo").address == "京都市伏見区醍醐大構町28番地"


def test_center_third_floor_weekdays_until_1650(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        assert patterns("center-3f") == [(MON_FRI, "09:00", "17:00", "16:50", 10)]


def test_center_first_floor_monday_wednesday_evenings_and_weekends(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        assert patterns("center-1f") == [
            ([5, 6], "09:00", "17:00", "16:45", 15),
            ([0, 2], "17:00", "19:00", "18:45", 15),
        ]


def test_certificate_corners_weekends_card_issuance_only_ending_in_december(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        for corner in Place.objects.filter(kind=Place.Kind.CERTIFICATE_CORNER):
            assert patterns(corner.code) == [([5, 6], "09:00", "17:00", "16:45", 15)]
            assert corner.ends_on == dt.date(2024, 12, 22)
            assert set(corner.opening_patterns.values_list("service__code", flat=True)) == {"card_issuance"}


def test_ward_offices_weekdays_until_1645_with_certificate_services(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        for office in Place.objects.filter(kind=Place.Kind.WARD_OFFICE):
            assert patterns(office.code) == [(MON_FRI, "09:00", "17:00", "16:45", 15)]
            assert patterns(office.code, "ecert_renewal") == [(MON_FRI, "09:00", "17:00", "16:45", 15)]
        assert Place.objects.get(code="shimogyo").ends_on == dt.date(2024, 12, 22)


def test_certificate_services_are_phone_only(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        assert list(Service.objects.filter(web_bookable=True).values_list("code", flat=True)) == [
            "card_issuance"
        ]


def test_applying_the_preset_again_changes_nothing(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        before = (Place.objects.count(), OpeningPattern.objects.count(), Service.objects.count())
        provisioning.apply_preset("kyoto")
        assert (Place.objects.count(), OpeningPattern.objects.count(), Service.objects.count()) == before


def test_top_page_lists_places_still_in_service(tenants: Tenants) -> None:
    from booking.engine.queries import places_in_service

    with schema_context("kyoto"):
        codes = [item.place.code for item in places_in_service(on=dt.date(2026, 11, 24))]
        assert "center-1f" in codes and "kita" in codes
        assert "corner-takeda" not in codes and "shimogyo" not in codes  # past their end date
        december = [item.place.code for item in places_in_service(on=dt.date(2024, 12, 1))]
        assert "corner-takeda" in december
        center = next(
            item for item in places_in_service(on=dt.date(2024, 12, 1)) if item.place.code == "center-3f"
        )
        assert center.opens_later
        assert not next(
            item for item in places_in_service(on=dt.date(2026, 11, 24)) if item.place.code == "center-3f"
        ).opens_later
