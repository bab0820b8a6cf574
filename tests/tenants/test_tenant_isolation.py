"""One tenant's data can never be seen or touched from another (SO-11, MT-01)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from booking.models import Place, Service
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db


def make_place(code: str, name: str) -> Place:
    return Place.objects.create(code=code, name=name, kind=Place.Kind.WARD_OFFICE, address="テスト町1-1")


def test_each_tenant_has_its_own_schema(tenants: Tenants) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('kyoto', 'mihon')"
        )
        assert sorted(row[0] for row in cursor.fetchall()) == ["kyoto", "mihon"]
    with schema_context("kyoto"), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('booking_place')::text")
        assert cursor.fetchone()[0] == "booking_place"
    # The booking tables are not in the public schema at all.
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.booking_place')")
        assert cursor.fetchone()[0] is None


def test_orm_data_made_in_one_tenant_is_invisible_in_the_other(tenants: Tenants) -> None:
    with schema_context("mihon"):
        make_place("mihon-only", "見本市役所")
        assert Place.objects.filter(code="mihon-only").exists()
        assert not Place.objects.filter(code="center-3f").exists()
    with schema_context("kyoto"):
        assert not Place.objects.filter(code="mihon-only").exists()
        assert Place.objects.filter(code="center-3f").exists()
        kyoto_count = Place.objects.count()
    with schema_context("mihon"):
        assert Place.objects.count() == 1
    assert kyoto_count == 21


def test_same_codes_can_exist_in_both_tenants_without_clash(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        kyoto_service = Service.objects.get(code="card_issuance")
        kyoto_service.name = "京都市のカード交付"
        kyoto_service.save()
    with schema_context("mihon"):
        assert Service.objects.get(code="card_issuance").name == "マイナンバーカードの交付"


def test_http_each_host_sees_only_its_own_tenant(
    tenants: Tenants, kyoto_client: Client, mihon_client: Client
) -> None:
    with schema_context("mihon"):
        make_place("mihon-hall", "見本市役所 交付窓口")

    kyoto_page = kyoto_client.get("/").content.decode()
    mihon_page = mihon_client.get("/").content.decode()

    assert "京都市" in kyoto_page and "北区役所" in kyoto_page
    assert "見本市役所 交付窓口" not in kyoto_page
    assert "見本市役所 交付窓口" in mihon_page
    assert "北区役所" not in mihon_page and "京都市" not in mihon_page


def test_a_request_leaves_no_tenant_behind_for_the_next_host(
    tenants: Tenants, kyoto_client: Client, mihon_client: Client
) -> None:
    # Interleave requests on one connection: each must be routed by its own host, never by the last one's.
    for _ in range(3):
        assert "北区役所" in kyoto_client.get("/").content.decode()
        assert "北区役所" not in mihon_client.get("/").content.decode()


def test_tenant_code_reaches_the_control_plane_only_through_its_named_interface() -> None:
    """booking/ and integrations/ read public-schema data through tenants.queries / tenants.db, never its
    models (docs/architecture.md, "Control plane and tenant silos")."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("booking", "integrations")
        for path in (root / folder).rglob("*.py")
        if "migrations" not in path.parts
        and any(
            line.lstrip().startswith(
                ("from tenants.models", "import tenants.models", "from tenants.services")
            )
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
