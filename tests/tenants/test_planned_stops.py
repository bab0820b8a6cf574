"""Planned stops (SO-01, MT-03): scheduled by our operators in the vendor console with the municipality's
approval 30 days ahead, announced on each affected municipality's top page until they end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from console.admin import PlannedStopForm
from console.models import PlannedStop
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.vendor_helpers import operator_client

pytestmark = pytest.mark.django_db


def stop(
    tenant: Any, days_ahead: int, hours: int = 2, reason: str = "システムメンテナンスのため"
) -> PlannedStop:
    starts = timezone.now() + dt.timedelta(days=days_ahead)
    return PlannedStop.objects.create(
        tenant=tenant,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=hours),
        reason=reason,
        approved_on=(starts - dt.timedelta(days=40)).date(),
    )


def top(host: str) -> str:
    return Client(HTTP_HOST=host).get("/").content.decode()


def test_a_municipalitys_stop_is_announced_on_its_own_top_page_only(tenants: Tenants) -> None:
    stop(tenants.kyoto, 10, reason="京都市だけの点検のため")
    assert "サービス停止のお知らせ" in top(KYOTO_HOST) and "京都市だけの点検のため" in top(KYOTO_HOST)
    assert "京都市だけの点検のため" not in top(MIHON_HOST)


def test_a_platform_wide_stop_is_announced_everywhere(tenants: Tenants) -> None:
    stop(None, 5, reason="全体の点検のため")
    assert "全体の点検のため" in top(KYOTO_HOST) and "全体の点検のため" in top(MIHON_HOST)


def test_past_and_far_future_stops_are_not_shown_an_ongoing_one_is(tenants: Tenants) -> None:
    stop(tenants.kyoto, -3, reason="終わった点検")
    stop(tenants.kyoto, 200, reason="ずっと先の点検")
    ongoing = PlannedStop.objects.create(
        tenant=tenants.kyoto,
        starts_at=timezone.now() - dt.timedelta(minutes=5),
        ends_at=timezone.now() + dt.timedelta(hours=1),
        reason="ただいまの点検",
        approved_on=dt.date(2026, 1, 1),
    )
    page = top(KYOTO_HOST)
    assert "終わった点検" not in page and "ずっと先の点検" not in page
    assert "ただいまの点検" in page and "現在停止中" in page
    assert ongoing.pk


def test_the_console_requires_approval_30_days_ahead(tenants: Tenants) -> None:
    starts = timezone.now() + dt.timedelta(days=20)
    late = PlannedStopForm(
        data={
            "tenant": tenants.kyoto.pk,
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(hours=2),
            "reason": "点検",
            "reason_en": "maintenance",
            "approved_on": (starts - dt.timedelta(days=10)).date(),
        }
    )
    assert not late.is_valid() and "30" in str(late.errors["approved_on"])
    on_time = PlannedStopForm(
        data={
            "tenant": "",
            "starts_at": starts,
            "ends_at": starts + dt.timedelta(hours=2),
            "reason": "点検",
            "reason_en": "maintenance",
            "approved_on": (starts - dt.timedelta(days=31)).date(),
        }
    )
    assert on_time.is_valid(), on_time.errors
    backwards = PlannedStopForm(
        data={
            "tenant": "",
            "starts_at": starts,
            "ends_at": starts - dt.timedelta(hours=2),
            "reason": "点検",
            "reason_en": "maintenance",
            "approved_on": (starts - dt.timedelta(days=31)).date(),
        }
    )
    assert not backwards.is_valid() and "ends_at" in backwards.errors


def test_our_operators_manage_stops_in_the_vendor_console(tenants: Tenants, django_user_model: Any) -> None:
    operator = django_user_model.objects.create_superuser("ops", password="Ops-Console1!")
    # issue 13: the console counts an operator as signed in only with a verified TOTP device
    device = TOTPDevice.objects.create(user=operator, name="test", confirmed=True)
    client = operator_client(operator, device)
    assert client.get("/admin/console/plannedstop/add/").status_code == 200
    assert Client(HTTP_HOST=KYOTO_HOST).get("/admin/console/plannedstop/").status_code == 404


def test_the_announcement_is_in_english_on_english_pages(tenants: Tenants) -> None:
    starts = timezone.now() + dt.timedelta(days=3)
    PlannedStop.objects.create(
        tenant=None,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        reason="点検のため",
        reason_en="for an inspection",
        approved_on=dt.date(2026, 1, 1),
    )
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "for an inspection" in client.get("/").content.decode()
