"""The operation-log page and its CSV: the date filters read a day as every page does (booking.lib.dates),
and a day that is no date is a 400 with a message in Japanese, never ignored and never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from booking.models import OperationLogEntry
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
NO_ENTRIES = "条件に合う記録はありません"


def administrator() -> Client:
    make_staff("admin1", "administrator")
    return sign_in("admin1")


def test_the_day_filters_narrow_the_list(kyoto: None) -> None:
    client = administrator()
    today = timezone.localdate()
    shown = client.get("/staff/log/", {"date_from": today.isoformat(), "date_to": today.isoformat()})
    assert shown.status_code == 200 and "staff.create" in shown.content.decode()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert NO_ENTRIES in client.get("/staff/log/", {"date_from": tomorrow}).content.decode()
    # Full-width digits, as an IME in full-width mode types them, are the same day.
    wide = today.isoformat().translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert "staff.create" in client.get("/staff/log/", {"date_from": wide}).content.decode()
    # the days the wrong way round: said so, not an empty list (a new user's walk)
    reversed_days = client.get("/staff/log/", {"date_from": tomorrow, "date_to": today.isoformat()})
    assert reversed_days.status_code == 400
    assert "「日付（まで）」は「日付（から）」と同じ日か" in reversed_days.content.decode()


@pytest.mark.parametrize(
    ("name", "value", "label"),
    [
        ("date_to", "9999-12-31", "日付（まで）"),  # the day after overflowed: a 500 before
        ("date_from", "0001-01-01", "日付（から）"),
        ("date_from", "2026-W49-7", "日付（から）"),  # fromisoformat took the ISO week date
        ("date_to", "20261206", "日付（まで）"),
        ("date_from", "2026-02-30", "日付（から）"),
        ("date_from", "x" * 5000, "日付（から）"),
    ],
)
def test_a_day_that_is_no_date_is_a_400_with_a_message(
    kyoto: None, name: str, value: str, label: str
) -> None:
    client = administrator()
    page = client.get("/staff/log/", {name: value})
    assert page.status_code == 400
    text = page.content.decode()
    assert f"「{label}」は 2026-12-06 のような、2000年から2099年までの日付で指定してください。" in text
    assert NO_ENTRIES in text  # refused, not ignored: the list does not show more than was asked for
    export = client.get("/staff/log/export.csv", {name: value})
    assert export.status_code == 400 and export["Content-Type"].startswith("text/html")
    assert not OperationLogEntry.objects.filter(action="oplog.export").exists()
