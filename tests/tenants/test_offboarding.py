"""Offboarding (SO-17, MT-03): the final export is written, then every piece of the municipality's data is
destroyed; other municipalities are untouched."""

from __future__ import annotations

import io
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from booking.models import Place
from console.models import PlannedStop
from tenants.models import Domain, Municipality, OffboardingRecord
from tests import factories
from tests.conftest import KYOTO_HOST, Tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def uji(tenants: Tenants, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    call_command(
        "provision_tenant",
        "uji",
        "--name",
        "宇治市",
        "--domain",
        "uji.localhost",
        "--preset",
        "kyoto",
        stdout=StringIO(),
    )
    with schema_context("uji"):
        card = factories.issue_card("ウジ タロウ").card
        from booking.engine.services import do_book

        do_book(card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    return str(tmp_path)


def test_export_then_destroy_everything(uji: str) -> None:
    out = StringIO()
    call_command("offboard_tenant", "uji", "--confirm", "uji", stdout=out)
    assert not schema_exists("uji")
    assert not Municipality.objects.filter(schema_name="uji").exists()
    assert not Domain.objects.filter(domain="uji.localhost").exists()
    assert Client(HTTP_HOST="uji.localhost").get("/").status_code == 404
    record = OffboardingRecord.objects.get(schema_name="uji")
    assert record.name == "宇治市" and record.export_size > 0
    archive = zipfile.ZipFile(io.BytesIO((Path(uji) / record.export_key).read_bytes()))
    bookings = archive.read("bookings.csv").decode("utf-8-sig")
    assert len(bookings.strip().splitlines()) == 2  # header and the one booking
    assert "ウジ タロウ" in archive.read("cards.csv").decode("utf-8-sig")
    assert "removed uji" in out.getvalue()
    # Kyoto is untouched.
    with schema_context("kyoto"):
        assert Place.objects.count() == 21
    assert Client(HTTP_HOST=KYOTO_HOST).get("/").status_code == 200


def test_refused_without_repeating_the_name(uji: str) -> None:
    with pytest.raises(CommandError, match="スキーマ名 uji をそのまま入力"):
        call_command("offboard_tenant", "uji", "--confirm", "kyoto")
    assert schema_exists("uji")


def test_the_public_schema_and_unknown_tenants_are_refused(tenants: Tenants) -> None:
    for schema in ("public", "osaka"):
        with pytest.raises(CommandError, match="はありません"):
            call_command("offboard_tenant", schema, "--confirm", schema)
    assert schema_exists("public")


def test_planned_stops_of_the_tenant_go_with_it(uji: str) -> None:
    import datetime as dt

    from django.utils import timezone

    tenant = Municipality.objects.get(schema_name="uji")
    PlannedStop.objects.create(
        tenant=tenant,
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=1),
        approved_on=dt.date(2026, 1, 1),
    )
    call_command("offboard_tenant", "uji", "--confirm", "uji", stdout=StringIO())
    assert not PlannedStop.objects.filter(tenant__schema_name="uji").exists()
