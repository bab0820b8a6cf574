"""The vendor console's waiting-room pages: behind operator sign-in, each write logged with its vendor-log
entry, bad input refused with a specific message and nothing changed; the live view of every line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.models import BookingSettings
from console import vendor_log
from console.models import QueueEvent, VendorLogEntry, WaitingRoom
from console.waiting_room import services
from tests.conftest import KYOTO_HOST
from tests.vendor_helpers import CONSOLE_HOST, make_operator, operator_client
from tests.waiting_room.conftest import visitor

pytestmark = pytest.mark.django_db
ACTOR = vendor_log.Actor("wr-ops", None, "127.0.0.1")


@pytest.fixture
def operator(tenants: Any) -> Client:
    return operator_client(*make_operator("wr-ops"))


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_the_pages_need_an_operator_signed_in_with_totp(tenants: Any) -> None:
    anonymous = Client(HTTP_HOST=CONSOLE_HOST)
    for path in ("/waiting-room/", "/waiting-room/kyoto/"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), path
    response = anonymous.post("/waiting-room/kyoto/limits/", {"enabled": "on", "active_limit": "1"})
    assert response.status_code == 302 and not WaitingRoom.objects.exists()
    user, _device = make_operator("no-totp", with_device=False)
    half = Client(HTTP_HOST=CONSOLE_HOST)
    half.force_login(user)  # a password without the second factor is not enough
    assert half.get("/waiting-room/").status_code == 302
    # a municipality's host has no such page
    assert Client(HTTP_HOST=KYOTO_HOST).get("/waiting-room/").status_code == 404


def test_set_limits_is_saved_with_its_vendor_log_entry(operator: Client, tenants: Any) -> None:
    response = operator.post(
        "/waiting-room/kyoto/limits/",
        {"enabled": "on", "active_limit": "300", "per_minute": "120", "idle_minutes": "20"},
    )
    assert response.status_code == 302 and response["Location"] == "/waiting-room/kyoto/"
    room = WaitingRoom.objects.get(tenant=tenants.kyoto)
    assert (room.enabled, room.active_limit, room.per_minute, room.idle_minutes) == (True, 300, 120, 20)
    entry = VendorLogEntry.objects.get(action="waiting_room.set")
    assert entry.actor == "wr-ops" and entry.target == "kyoto"
    assert entry.detail == {"enabled": True, "active_limit": 300, "per_minute": 120, "idle_minutes": 20}
    page = operator.get("/waiting-room/kyoto/").content.decode()
    assert "待合室の設定を保存しました。" in page and 'value="300"' in page
    # the room is on at once in this process: Kyoto's 301st resident would wait (here: the limit is read)
    assert visitor().get("/").status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"active_limit": "abc"}, "active_limit", "半角数字の整数で入力してください。"),
        (
            {"active_limit": "0"},
            "active_limit",
            "同時に利用できる住民の数は1から1000000までの整数で入力してください。",
        ),
        ({"per_minute": ""}, "per_minute", "数を入力してください。"),
        (
            {"per_minute": "-5"},
            "per_minute",
            "1分間に案内する住民の数は1から100000までの整数で入力してください。",
        ),
        ({"idle_minutes": "999"}, "idle_minutes", "利用枠を保つ時間は1から240分までで入力してください。"),
    ],
)
def test_bad_limits_are_refused_with_a_specific_message_and_change_nothing(
    operator: Client, fields: dict[str, str], field: str, message: str
) -> None:
    data = {"enabled": "on", "active_limit": "10", "per_minute": "10", "idle_minutes": "15", **fields}
    response = operator.post("/waiting-room/kyoto/limits/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and f'href="#id_{field}"' in page and "<title>エラー: " in page
    assert not WaitingRoom.objects.exists()
    assert not VendorLogEntry.objects.filter(action__startswith="waiting_room").exists()


def test_an_idle_time_not_longer_than_the_hold_is_refused(operator: Client, tenants: Any) -> None:
    """A pass that lapses before a held time does (10 minutes by default) would leave a resident confirming
    their booking in the line, their POST unprocessed (docs/operations.md §2.7): refused, nothing saved."""
    data = {"enabled": "on", "active_limit": "300", "per_minute": "120"}
    for idle in ("5", "10"):
        response = operator.post("/waiting-room/kyoto/limits/", {**data, "idle_minutes": idle})
        assert response.status_code == 400, idle
        page = response.content.decode()
        assert "この自治体の予約の確保時間（10分）より長くしてください。" in page
        assert 'href="#id_idle_minutes"' in page
    assert not WaitingRoom.objects.exists()
    assert not VendorLogEntry.objects.filter(action__startswith="waiting_room").exists()
    # the municipality's own hold is the measure: Mihon's staff set theirs to 20 minutes
    with schema_context("mihon"):
        BookingSettings.objects.filter(singleton=True).update(hold_minutes=20)
    response = operator.post("/waiting-room/mihon/limits/", {**data, "idle_minutes": "15"})
    assert response.status_code == 400 and "予約の確保時間（20分）" in response.content.decode()
    assert operator.post("/waiting-room/mihon/limits/", {**data, "idle_minutes": "21"}).status_code == 302
    assert operator.post("/waiting-room/kyoto/limits/", {**data, "idle_minutes": "11"}).status_code == 302
    with pytest.raises(ValidationError) as refused:
        services.do_set_waiting_room(
            tenants.kyoto, enabled=True, active_limit=1, per_minute=1, idle_minutes=3, actor=ACTOR
        )
    assert list(refused.value.message_dict) == ["idle_minutes"]
    assert WaitingRoom.objects.get(tenant=tenants.kyoto).idle_minutes == 11
    # switching a room off in an incident is never refused over the idle time (one set before the rule)
    WaitingRoom.objects.filter(tenant=tenants.kyoto).update(enabled=True, idle_minutes=5)
    off = {"active_limit": "300", "per_minute": "120", "idle_minutes": "5"}  # "enabled" unticked
    assert operator.post("/waiting-room/kyoto/limits/", off).status_code == 302
    assert not WaitingRoom.objects.get(tenant=tenants.kyoto).enabled


def test_events_are_scheduled_refused_when_wrong_and_cancelled(operator: Client, tenants: Any) -> None:
    start = timezone.now() + dt.timedelta(days=3)
    event = {
        "event-name": "通知書の発送日",
        "event-starts_at": _when(start),
        "event-ends_at": _when(start + dt.timedelta(hours=10)),
        "event-active_limit": "200",
        "event-per_minute": "50",
    }
    response = operator.post("/waiting-room/kyoto/events/", event)
    assert response.status_code == 302
    saved = QueueEvent.objects.get(tenant=tenants.kyoto)
    assert (saved.name, saved.active_limit, saved.per_minute, saved.created_by) == (
        "通知書の発送日",
        200,
        50,
        "wr-ops",
    )
    assert VendorLogEntry.objects.filter(action="waiting_room.event", target="kyoto 通知書の発送日").exists()
    refusals = [
        ({"event-ends_at": _when(start - dt.timedelta(hours=1))}, "終了は開始より後の日時にしてください。"),
        ({"event-name": "重なる予定"}, "この時間は予定「通知書の発送日」と重なっています。"),
        (
            {
                "event-starts_at": _when(timezone.now() - dt.timedelta(days=2)),
                "event-ends_at": _when(timezone.now() - dt.timedelta(days=1)),
            },
            "終了がすでに過ぎています。",
        ),
        ({"event-starts_at": "来週"}, "日時は 2027-01-05 09:00 の形で入力してください。"),
        ({"event-name": "  "}, "予定の名前を入力してください"),
        (
            {"event-per_minute": "0", "event-starts_at": _when(start + dt.timedelta(days=1))},
            "1分間に案内する",
        ),
    ]
    for change, message in refusals:
        response = operator.post("/waiting-room/kyoto/events/", {**event, **change})
        assert response.status_code == 400, change
        assert message in response.content.decode(), change
    assert QueueEvent.objects.count() == 1
    # Mihon's events are its own: the same hours are free there
    assert operator.post("/waiting-room/mihon/events/", event).status_code == 302
    # cancel: only through the municipality it belongs to
    other = QueueEvent.objects.get(tenant=tenants.mihon)
    assert operator.post(f"/waiting-room/kyoto/events/{other.pk}/cancel/").status_code == 404
    assert operator.post(f"/waiting-room/kyoto/events/{saved.pk}/cancel/").status_code == 302
    assert not QueueEvent.objects.filter(pk=saved.pk).exists()
    assert VendorLogEntry.objects.filter(action="waiting_room.event_cancel").count() == 1
    assert operator.get("/waiting-room/nowhere/").status_code == 404


def test_the_live_view_shows_each_line_and_refreshes_itself(operator: Client, tenants: Any) -> None:
    WaitingRoom.objects.create(tenant=tenants.kyoto, enabled=True, active_limit=1, per_minute=100)
    from console.waiting_room import rules

    rules.forget()
    visitor().get("/")
    for _ in range(3):
        visitor().get("/")
    response = operator.get("/waiting-room/")
    assert response.status_code == 200 and response["Refresh"] == "10"
    page = response.content.decode()
    kyoto_row = page[page.index("京都市") : page.index("見本市")]
    assert "<td>3</td>" in kyoto_row  # in line
    assert "<td>1</td>" in kyoto_row  # inside
    assert "使用しない" in page[page.index("見本市") :]
    assert "Refresh" not in operator.get("/waiting-room/", {"manual": "1"}).headers
    english = operator_client(*make_operator("wr-ops-en"))
    english.cookies["django_language"] = "en"
    page = english.get("/waiting-room/").content.decode()
    assert "Waiting rooms by municipality" in page and "In line" in page
