"""Kyoto's days and times at each place (BK-12), and the booking window rules (BK-05, BK-07)."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.engine.queries import closed_days_for, free_slots
from booking.lib.dates import TOKYO
from booking.models import BookingSettings, ClosedDay, Place, Service
from booking.rules import schedule, windows

pytestmark = pytest.mark.django_db
JST = TOKYO


def times(place_code: str, day: dt.date, service: str = "card_issuance") -> list[str]:
    place = Place.objects.get(code=place_code)
    patterns = place.opening_patterns.filter(service__code=service)
    closed = closed_days_for(place, day, day)
    return [f"{s.starts_at:%H:%M}" for s in schedule.day_slots(place, patterns, day, closed)]


def every(start: str, last: str, minutes: int) -> list[str]:
    t = dt.datetime.strptime(start, "%H:%M")
    end = dt.datetime.strptime(last, "%H:%M")
    out = []
    while t <= end:
        out.append(f"{t:%H:%M}")
        t += dt.timedelta(minutes=minutes)
    return out


@pytest.mark.usefixtures("kyoto")
class TestKyotoDaysAndTimes:
    def test_center_third_floor_weekday_every_ten_minutes_until_1650(self) -> None:
        assert times("center-3f", dt.date(2026, 11, 24)) == every("09:00", "16:50", 10)  # Tuesday

    def test_center_third_floor_closed_at_weekends(self) -> None:
        assert times("center-3f", dt.date(2026, 11, 28)) == []  # Saturday

    def test_national_holiday_is_closed(self) -> None:
        assert schedule.holiday_name(dt.date(2026, 11, 23))  # 勤労感謝の日, a Monday
        assert times("center-3f", dt.date(2026, 11, 23)) == []
        assert times("center-1f", dt.date(2026, 11, 23)) == []  # no Monday evening either
        assert times("kita", dt.date(2026, 11, 23)) == []

    @pytest.mark.parametrize(
        "day",
        [
            dt.date(2026, 12, 29),
            dt.date(2026, 12, 30),
            dt.date(2026, 12, 31),
            dt.date(2027, 1, 1),
            dt.date(2027, 1, 2),
            dt.date(2027, 1, 3),
        ],
    )
    def test_new_year_break_29_december_to_3_january(self, day: dt.date) -> None:
        for place in ("center-3f", "center-1f", "kita"):
            assert times(place, day) == []

    def test_open_again_on_4_january(self) -> None:
        assert times("center-3f", dt.date(2027, 1, 4)) == every("09:00", "16:50", 10)
        assert times("center-3f", dt.date(2026, 12, 28)) == every("09:00", "16:50", 10)

    def test_center_first_floor_monday_and_wednesday_evenings(self) -> None:
        evening = every("17:00", "18:45", 15)
        assert times("center-1f", dt.date(2026, 11, 30)) == evening  # Monday
        assert times("center-1f", dt.date(2026, 12, 2)) == evening  # Wednesday
        assert times("center-1f", dt.date(2026, 12, 1)) == []  # Tuesday
        assert times("center-1f", dt.date(2026, 12, 3)) == []  # Thursday

    def test_center_first_floor_weekends_until_1645(self) -> None:
        weekend = every("09:00", "16:45", 15)
        assert times("center-1f", dt.date(2026, 11, 28)) == weekend  # Saturday
        assert times("center-1f", dt.date(2026, 11, 29)) == weekend  # Sunday

    def test_ward_office_weekdays_until_1645(self) -> None:
        assert times("kita", dt.date(2026, 11, 24)) == every("09:00", "16:45", 15)
        assert times("kita", dt.date(2026, 11, 28)) == []

    def test_place_past_its_end_date_has_no_times(self) -> None:
        assert times("corner-takeda", dt.date(2024, 12, 21)) == every("09:00", "16:45", 15)  # last weekend
        assert times("corner-takeda", dt.date(2025, 1, 11)) == []  # a Saturday after the end
        assert times("shimogyo", dt.date(2025, 1, 6)) == []

    def test_place_before_its_start_date_has_no_times(self) -> None:
        assert times("center-3f", dt.date(2024, 12, 20)) == []
        assert times("center-3f", dt.date(2024, 12, 23)) == every("09:00", "16:50", 10)

    def test_tenant_closed_day_for_one_place_or_all(self) -> None:
        day = dt.date(2026, 11, 25)
        ClosedDay.objects.create(
            date=day, place=Place.objects.get(code="kita"), reason="システムメンテナンス"
        )
        assert times("kita", day) == []
        assert times("kamigyo", day) != []
        ClosedDay.objects.create(date=day, reason="全庁停電")
        assert times("kamigyo", day) == []

    def test_capacity_comes_from_the_pattern(self) -> None:
        place = Place.objects.get(code="center-3f")
        slots = schedule.day_slots(
            place, place.opening_patterns.filter(service__code="card_issuance"), dt.date(2026, 11, 24), set()
        )
        assert {s.capacity for s in slots} == {6}
        assert slots[-1].ends_at.astimezone(JST).time() == dt.time(17, 0)


class TestWindow:
    rules = BookingSettings(first_days_ahead=1, deadline_days_before=2, deadline_time=dt.time(17, 0))
    place = Place(code="x")

    def test_deadline_is_1700_two_days_before(self) -> None:
        start = dt.datetime(2026, 12, 3, 10, 0, tzinfo=JST)
        assert windows.deadline_for(start, self.rules) == dt.datetime(2026, 12, 1, 17, 0, tzinfo=JST)

    def test_new_booking_only_before_the_deadline(self) -> None:
        start = dt.datetime(2026, 12, 3, 10, 0, tzinfo=JST)
        assert windows.within_window(
            start, dt.datetime(2026, 12, 1, 16, 59, tzinfo=JST), self.rules, self.place
        )
        assert not windows.within_window(
            start, dt.datetime(2026, 12, 1, 17, 0, tzinfo=JST), self.rules, self.place
        )

    def test_bookable_until_tenant_and_place(self) -> None:
        now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=JST)
        start = dt.datetime(2027, 1, 15, 10, 0, tzinfo=JST)
        rules = BookingSettings(
            first_days_ahead=1,
            deadline_days_before=2,
            deadline_time=dt.time(17, 0),
            bookable_until=dt.date(2027, 1, 14),
        )
        assert not windows.within_window(start, now, rules, self.place)
        assert windows.within_window(start, now, rules, Place(code="y", bookable_until=dt.date(2027, 1, 31)))

    def test_a_place_can_open_its_bookings_later(self) -> None:
        now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=JST)
        later = Place(code="z", bookable_from=dt.date(2026, 12, 10))
        assert windows.first_bookable_day(now, self.rules, later) == dt.date(2026, 12, 10)
        assert windows.first_bookable_day(now, self.rules, self.place) == dt.date(2026, 11, 25)
        assert not windows.within_window(dt.datetime(2026, 12, 9, 10, tzinfo=JST), now, self.rules, later)
        assert windows.within_window(dt.datetime(2026, 12, 10, 10, tzinfo=JST), now, self.rules, later)

    def test_past_is_never_bookable(self) -> None:
        now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=JST)
        lenient = BookingSettings(first_days_ahead=0, deadline_days_before=0, deadline_time=dt.time(23, 59))
        assert not windows.within_window(
            dt.datetime(2026, 11, 24, 11, 0, tzinfo=JST), now, lenient, self.place
        )


@pytest.mark.usefixtures("kyoto")
def test_free_slots_start_after_the_deadline_and_stop_at_bookable_until() -> None:
    now = dt.datetime(2026, 11, 24, 18, 0, tzinfo=JST)  # Tuesday evening: the 26th's deadline has passed
    BookingSettings.objects.update_or_create(
        singleton=True, defaults={"bookable_until": dt.date(2026, 12, 4)}
    )
    place, service = Place.objects.get(code="center-3f"), Service.objects.get(code="card_issuance")
    slots = free_slots(place, service, dt.date(2026, 11, 1), dt.date(2026, 12, 31), now=now)
    days = sorted({s.starts_at.astimezone(JST).date() for s in slots})
    assert days[0] == dt.date(2026, 11, 27)
    assert days[-1] == dt.date(2026, 12, 4)
    assert all(s.remaining == 6 for s in slots)
