"""Dates and times as a Japanese keyboard types them, on the staff pages (`booking.lib.typed_fields`)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from booking.lib.typed_fields import TypedDateField, TypedTimeField
from booking.models import ClosedDay
from tests.configuration.test_staff_settings import admin  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "typed",
    [
        "2027-01-15",
        "２０２７－０１－１５",
        "２０２７ー０１ー１５",  # the long vowel mark, as an IME may give "-"
        "2027/1/15",
        "２０２７／０１／１５",
        "2027年1月15日",
        " 2027-01-15 ",
    ],
)
def test_a_day_as_typed(typed: str) -> None:
    assert TypedDateField().clean(typed) == dt.date(2027, 1, 15)


@pytest.mark.parametrize("typed", ["09:30", "０９：３０", "9:30", "9時30分", "09:30:00"])
def test_a_time_as_typed(typed: str) -> None:
    assert TypedTimeField().clean(typed) == dt.time(9, 30)


@pytest.mark.parametrize("typed", ["2027-02-30", "15/01/2027", "明日", "2027-01-15T09:00"])
def test_what_is_no_day_is_still_refused(typed: str) -> None:
    with pytest.raises(Exception, match="日付|date"):
        TypedDateField().clean(typed)


def test_a_closed_day_typed_in_full_width_is_saved(admin: Client) -> None:  # noqa: F811
    day = timezone.localdate() + dt.timedelta(days=40)
    typed = f"{day:%Y-%m-%d}".translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    answer = admin.post("/staff/settings/closed-days/", {"date": typed, "place": "", "reason": "保守"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert ClosedDay.objects.filter(date=day, reason="保守").exists()
