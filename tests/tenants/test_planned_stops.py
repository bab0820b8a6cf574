"""Planned stops (SO-01, MT-03): scheduled by our operators in the vendor console with the municipality's
approval 30 days ahead, announced on each affected municipality's top page until they end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from console import vendor_log
from console.admin import PlannedStopForm
from console.models import PlannedStop, VendorLogEntry
from console.services import do_record_stop, stop_problems
from tenants.models import Municipality
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
    far = stop(tenants.kyoto, 200, reason="ずっと先の点検")
    # announced from 30 days before it starts: not yet (the notice shows from announced_from to the end)
    PlannedStop.objects.filter(pk=far.pk).update(announced_from=far.starts_at - dt.timedelta(days=30))
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
            "kind": "planned",
            "site_down": "on",
            "approved_by": "京都市 総務局 情報化推進室長",
            "approval_reference": "京総情第123号",
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
            "kind": "planned",
            "site_down": "on",
            "approved_by": "京都市 総務局 情報化推進室長",
            "approval_reference": "京総情第123号",
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
            "kind": "planned",
            "site_down": "on",
            "approved_by": "京都市 総務局 情報化推進室長",
            "approval_reference": "京総情第123号",
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


# --- issue 14 §2: the approval recorded, the 30-day rule in the service, emergency stops ---


OPS = vendor_log.Actor("ops", None, "127.0.0.1")


def unsaved(
    kind: str = "planned", days_ahead: int = 20, approved_days_before: int = 31, **fields: Any
) -> PlannedStop:
    starts = timezone.now() + dt.timedelta(days=days_ahead)
    values: dict[str, Any] = {
        "tenant": None,
        "kind": kind,
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(hours=2),
        "reason": "点検のため",
        "reason_en": "for an inspection",
        "approved_by": "京都市 総務局 情報化推進室長",
        "approval_reference": "京総情第123号",
        "approved_on": timezone.localtime(starts).date() - dt.timedelta(days=approved_days_before),
    }
    values.update(fields)
    return PlannedStop(**values)


def test_the_service_refuses_a_planned_stop_approved_less_than_30_days_ahead(tenants: Tenants) -> None:
    with pytest.raises(ValidationError) as refused:
        do_record_stop(unsaved(approved_days_before=29), actor=OPS)
    assert "30日前" in refused.value.message_dict["approved_on"][0]
    assert not PlannedStop.objects.exists() and not VendorLogEntry.objects.exists()  # nothing written

    stop = do_record_stop(unsaved(tenant=tenants.kyoto, approved_days_before=30), actor=OPS)
    stop.refresh_from_db()
    assert (stop.kind, stop.recorded_by, stop.approval_reference) == ("planned", "ops", "京総情第123号")
    assert stop.approved_by == "京都市 総務局 情報化推進室長" and stop.announced_from <= timezone.now()
    entry = VendorLogEntry.objects.get()
    assert entry.action == "stop.record" and entry.target.startswith(f"console.plannedstop:{stop.pk} ")
    assert entry.detail["approval_reference"] == "京総情第123号" and entry.detail["tenant"] == "kyoto"


@pytest.mark.parametrize(
    ("field", "value"),
    [("approved_by", " "), ("approval_reference", ""), ("approved_on", None), ("reason", "  ")],
)
def test_a_planned_stop_needs_its_whole_approval(tenants: Tenants, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        do_record_stop(unsaved(**{field: value}), actor=OPS)
    assert list(refused.value.message_dict) == [field]
    assert not PlannedStop.objects.exists()


def test_a_future_approval_date_and_a_notice_after_the_start_are_refused(tenants: Tenants) -> None:
    future = unsaved(days_ahead=120, approved_days_before=60)  # approved 60 days from now: not yet
    assert "未来" in stop_problems(future)["approved_on"]
    late_notice = unsaved(announced_from=timezone.now() + dt.timedelta(days=21))
    assert "announced_from" in stop_problems(late_notice)


def test_an_emergency_stop_is_recorded_without_approval_and_not_as_planned(tenants: Tenants) -> None:
    now = timezone.now()
    emergency = unsaved(
        kind="emergency",
        starts_at=now,
        ends_at=now + dt.timedelta(hours=1),
        approved_by="",
        approval_reference="",
        approved_on=None,
        reason="障害対応のため",
    )
    stop = do_record_stop(emergency, actor=OPS)
    assert PlannedStop.objects.get(pk=stop.pk).kind == PlannedStop.Kind.EMERGENCY
    assert not PlannedStop.objects.filter(kind=PlannedStop.Kind.PLANNED).exists()
    assert VendorLogEntry.objects.get().detail["kind"] == "emergency"
    with pytest.raises(ValidationError) as refused:
        do_record_stop(unsaved(kind="emergency", approved_on=None, reason=""), actor=OPS)
    assert list(refused.value.message_dict) == ["reason"]  # an emergency still says why


def admin_add(client: Client, starts: dt.datetime, approved_on: dt.date, **extra: str) -> Any:
    local = timezone.localtime(starts)
    data = {
        "tenant": "",
        "kind": "planned",
        "starts_at_0": local.strftime("%Y-%m-%d"),
        "starts_at_1": "22:00:00",
        "ends_at_0": local.strftime("%Y-%m-%d"),
        "ends_at_1": "23:00:00",
        "site_down": "on",
        "reason": "点検のため",
        "reason_en": "for an inspection",
        "approved_by": "京都市 情報化推進室長",
        "approval_reference": "京情第1号",
        "approved_on": approved_on.isoformat(),
        **extra,
    }
    return client.post("/admin/console/plannedstop/add/", data)


def test_the_admin_goes_through_the_service(tenants: Tenants, django_user_model: Any) -> None:
    operator = django_user_model.objects.create_superuser("ops", password="Ops-Console1!")
    client = operator_client(operator, TOTPDevice.objects.create(user=operator, name="t", confirmed=True))
    starts = timezone.now() + dt.timedelta(days=20)
    late = admin_add(client, starts, timezone.localdate())
    assert late.status_code == 200 and "30日前" in late.content.decode()
    assert (
        not PlannedStop.objects.exists() and not VendorLogEntry.objects.filter(action="stop.record").exists()
    )

    emergency = admin_add(client, starts, timezone.localdate(), kind="emergency")
    assert emergency.status_code == 302, emergency.content.decode()[:2000]
    stop = PlannedStop.objects.get()
    assert stop.kind == "emergency" and stop.recorded_by == "ops"
    assert list(VendorLogEntry.objects.values_list("action", flat=True)) == ["stop.record"]

    backwards = admin_add(client, starts, timezone.localdate(), kind="emergency", ends_at_1="21:00:00")
    assert backwards.status_code == 200 and "停止終了は停止開始より後" in backwards.content.decode()
    assert "violated" not in backwards.content.decode()  # the rule's own message, not the constraint's


def test_the_platforms_own_row_is_no_municipality_to_stop(tenants: Tenants, django_user_model: Any) -> None:
    """The public schema's row ("Madoguchi platform (public)", the console's host) is not offered, and a stop
    of it is refused with its reason: it was saved and reached no one."""
    public = Municipality.objects.get(schema_name="public")
    with pytest.raises(ValidationError) as refused:
        do_record_stop(unsaved(tenant=public), actor=OPS)
    assert list(refused.value.message_dict) == ["tenant"]
    assert "自治体を空欄にしてください" in refused.value.message_dict["tenant"][0]
    assert not PlannedStop.objects.exists() and not VendorLogEntry.objects.exists()

    operator = django_user_model.objects.create_superuser("ops", password="Ops-Console1!")
    client = operator_client(operator, TOTPDevice.objects.create(user=operator, name="t", confirmed=True))
    page = client.get("/admin/console/plannedstop/add/").content.decode()
    offered = re.findall(r'<option value="(\d*)"', page.split('name="tenant"', 1)[1].split("</select>", 1)[0])
    assert offered[0] == "" and {str(tenants.kyoto.pk), str(tenants.mihon.pk)} <= set(offered)
    assert str(public.pk) not in offered
    assert "(public)" not in page and "京都市 (kyoto)" in page
    starts = timezone.now() + dt.timedelta(days=40)
    forged = admin_add(client, starts, timezone.localdate(), tenant=str(public.pk))
    assert forged.status_code == 200 and not PlannedStop.objects.exists()
    # in English, each municipality by its English name (Mihon has none: its Japanese one)
    client.cookies["django_language"] = "en"
    page = client.get("/admin/console/plannedstop/add/").content.decode()
    assert "Kyoto City (kyoto)" in page and "見本市 (mihon)" in page
    # nor in the list's filter by municipality
    listed = client.get("/admin/console/plannedstop/").content.decode()
    assert (
        "Kyoto City (kyoto)" in listed
        and "(public)" not in listed
        and f"tenant__id__exact={public.pk}" not in listed
    )
