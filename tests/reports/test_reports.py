"""Call-center reports (CC-05): the daily report's numbers match the day's log, it goes to each configured
address once, never on a day off, a failed send is retried and never duplicated (also under concurrency);
the monthly page with its chart, the CSV in both encodings, roles, and tenants kept apart."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends import locmem
from django.db import connections
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.callcenter import services as callcenter
from booking.engine.queries import booking_rules
from booking.engine.services import do_book, do_book_visit, do_cancel, do_change
from booking.lib.dates import TOKYO
from booking.models import Booking, Report, Service
from booking.reports import chart, days, formatting, queries, services
from booking.reports.tasks import send_daily_report
from booking.rules import schedule
from tests import factories
from tests.conftest import MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
Committed = Callable[[Callable[[], Any]], Any]

REPORT_DAY = dt.date(2026, 11, 20)  # a Friday; Monday the 23rd is a national holiday (勤労感謝の日)
OPERATOR = oplog.Actor(None, "op1", "127.0.0.1")
ADDRESSES = "kyoto-cc@example.jp\nshimin@example.jp\n\nnot an address\nKYOTO-CC@example.jp\n"


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=TOKYO)


AFTER_CLOSE = at(REPORT_DAY, 18, 5)


@pytest.fixture
def recipients(kyoto: None) -> None:
    rules = booking_rules()
    rules.report_emails = ADDRESSES
    rules.save()


class FailingOnceBackend(locmem.EmailBackend):
    """The outbox, after refusing the next `failures` sends as a dropped SMTP connection would."""

    failures = 0

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        if FailingOnceBackend.failures > 0:
            FailingOnceBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")
        return super().send_messages(messages)


class SlowBackend(locmem.EmailBackend):
    """The outbox, slowly: a second sender surely arrives while the first still holds the report."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        time.sleep(0.5)
        return super().send_messages(messages)


def first_slot(place_code: str, service_code: str, day: dt.date) -> dt.datetime:
    place = factories.place(place_code)
    patterns = list(place.opening_patterns.filter(service__code=service_code))
    slots = schedule.day_slots(place, patterns, day, set())
    assert slots, (place_code, service_code, day)
    return slots[0].starts_at


def log_calls(day: dt.date, kinds: dict[str, int]) -> None:
    for kind, count in kinds.items():
        for minute in range(count):
            callcenter.do_log_call(OPERATOR, kind, now=at(day, 9, minute))


def make_the_days_activity() -> None:
    """On REPORT_DAY: 7 calls; new bookings 1 web + 2 phone (one a phone-only visit); 1 change, 1 cancel.
    Around it, activity on the days before and after that the report must not count."""
    log_calls(REPORT_DAY, {"new_booking": 3, "change": 2, "question": 1, "other": 1})
    callcenter.do_log_call(OPERATOR, "question", now=at(REPORT_DAY, 0) - dt.timedelta(seconds=1))
    callcenter.do_log_call(OPERATOR, "other", now=at(REPORT_DAY + dt.timedelta(days=1), 0))
    kita, center, issuance = factories.place("kita"), factories.place("center-3f"), factories.card_issuance()
    wed, thu = dt.date(2026, 11, 25), dt.date(2026, 11, 26)
    the_day_before = at(REPORT_DAY, 10) - dt.timedelta(days=1)
    moving, leaving, web, phone = factories.issue_cards(4)
    do_book(
        moving, kita, issuance, first_slot("kita", "card_issuance", dt.date(2026, 11, 30)), now=the_day_before
    )
    do_book(leaving, kita, issuance, first_slot("kita", "card_issuance", wed), now=the_day_before)

    do_book(web, kita, issuance, first_slot("kita", "card_issuance", wed), now=at(REPORT_DAY, 10))
    do_book(
        phone,
        center,
        issuance,
        first_slot("center-3f", "card_issuance", thu),
        channel=Booking.Channel.PHONE,
        actor="op1",
        now=at(REPORT_DAY, 11),
    )
    do_book_visit(
        kita,
        Service.objects.get(code="ecert_renewal"),
        first_slot("kita", "ecert_renewal", wed),
        caller_name_kana="デンワ ハナコ",
        contact_phone="075-000-0000",
        actor="op1",
        now=at(REPORT_DAY, 11, 30),
    )
    do_change(moving, kita, first_slot("kita", "card_issuance", dt.date(2026, 12, 1)), now=at(REPORT_DAY, 12))
    do_cancel(leaving, now=at(REPORT_DAY, 13))


def counts(tallies: Sequence[queries.Tally]) -> dict[str, int]:
    return {tally.key: tally.count for tally in tallies}


# --- days -----------------------------------------------------------------------------------------------


def test_operating_days_are_weekdays_without_holidays_and_the_new_year_break() -> None:
    assert days.is_operating_day(REPORT_DAY)
    assert not days.is_operating_day(dt.date(2026, 11, 21))  # Saturday
    assert not days.is_operating_day(dt.date(2026, 11, 23))  # 勤労感謝の日 (a Monday)
    assert not days.is_operating_day(dt.date(2026, 12, 29))  # a Tuesday in the New Year break
    assert not days.is_operating_day(dt.date(2027, 1, 1))
    assert days.is_operating_day(dt.date(2026, 12, 28)) and days.is_operating_day(dt.date(2027, 1, 4))
    # a Friday's report looks over the weekend and the holiday to the third operating day
    assert days.following_days(REPORT_DAY) == [dt.date(2026, 11, d) for d in range(21, 27)]


# --- the daily report -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("kyoto")
def test_the_daily_figures_match_what_was_logged_that_day() -> None:
    make_the_days_activity()

    figures = queries.daily_figures(REPORT_DAY)

    assert counts(figures.calls) == {"new_booking": 3, "change": 2, "question": 1, "other": 1}
    assert figures.calls_total == 7
    assert counts(figures.new_by_channel) == {"web": 1, "phone": 2}
    assert counts(figures.new_by_service) == {
        "card_issuance": 2,
        "ecert_renewal": 1,
        "pin_reset": 0,
        "face_auth_switch": 0,
    }
    assert (figures.changes, figures.cancellations) == (1, 1)
    # Coming days: operating days always, the weekend and the holiday only when something is booked.
    assert figures.ahead_days == (dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26))
    ahead = {place.name: place.counts for place in figures.ahead}
    assert ahead == {
        factories.place("center-3f").name: (0, 0, 1),
        factories.place("kita").name: (0, 2, 0),  # the web booking and the visit; not the cancelled one
    }
    assert figures.ahead_totals == (0, 2, 1)
    # the log of the day itself, as the call-center screen counts it
    assert sum(callcenter.call_tallies(REPORT_DAY).values()) == figures.calls_total


@pytest.mark.usefixtures("recipients")
def test_the_daily_report_is_sent_once_to_each_configured_address() -> None:
    make_the_days_activity()

    assert services.do_send_daily_report(REPORT_DAY, now=at(REPORT_DAY, 17, 59)) is False  # not over yet
    assert mail.outbox == []
    assert services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE) is True
    assert services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE) is False

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["kyoto-cc@example.jp", "shimin@example.jp"]  # the bad line and the repeat skipped
    assert message.subject == "【日報】京都市 2026年11月20日（金） 受電7件・新規予約3件"
    body = message.body
    assert isinstance(body, str)
    for line in ("新規予約: 3件", "変更・取消: 2件", "問い合わせ: 1件", "ウェブ: 1件", "電話: 2件"):
        assert line in body
    assert "電子証明書の更新・発行: 1件" in body and "予約の変更: 1件" in body and "予約の取消: 1件" in body
    assert "2026年11月25日（水）: 計 2件" in body and "北区役所 カード交付コーナー: 2件" in body
    report = Report.objects.get(period="day", starts_on=REPORT_DAY)
    assert (report.sent_at, report.attempts, report.last_error) == (AFTER_CLOSE, 1, "")


@pytest.mark.usefixtures("recipients")
@pytest.mark.parametrize(
    "day",
    [dt.date(2026, 11, 23), dt.date(2026, 12, 30), dt.date(2026, 11, 21)],
    ids=["national-holiday", "new-year-break", "saturday"],
)
def test_no_daily_report_on_a_day_off(day: dt.date) -> None:
    log_calls(day, {"question": 2})
    assert services.do_send_daily_report(day, now=at(day, 20)) is False
    assert mail.outbox == []
    assert not Report.objects.exists()


@pytest.mark.usefixtures("kyoto")
def test_no_addresses_no_mail() -> None:
    rules = booking_rules()
    rules.report_emails = ""
    rules.save()
    assert services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE) is False
    assert mail.outbox == [] and not Report.objects.exists()


@pytest.mark.usefixtures("recipients")
@override_settings(EMAIL_BACKEND="tests.reports.test_reports.FailingOnceBackend")
def test_a_failed_send_is_recorded_retried_once_and_never_duplicated() -> None:
    FailingOnceBackend.failures = 1

    with pytest.raises(smtplib.SMTPServerDisconnected):
        services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE)
    assert mail.outbox == []
    report = Report.objects.get(period="day", starts_on=REPORT_DAY)
    assert report.sent_at is None and report.attempts == 1
    assert report.last_error.startswith("SMTPServerDisconnected")

    retry_at = AFTER_CLOSE + dt.timedelta(minutes=1)
    assert services.do_send_daily_report(REPORT_DAY, now=retry_at) is True
    assert services.do_send_daily_report(REPORT_DAY, now=retry_at) is False
    assert len(mail.outbox) == 1
    report.refresh_from_db()
    assert (report.sent_at, report.attempts) == (retry_at, 2)


@pytest.mark.usefixtures("recipients", "eager_celery")
@override_settings(EMAIL_BACKEND="tests.reports.test_reports.FailingOnceBackend")
def test_the_celery_task_retries_a_failed_send_once() -> None:
    FailingOnceBackend.failures = 1
    send_daily_report.apply(kwargs={"day": REPORT_DAY.isoformat()}).get()  # fails, is retried, sends
    send_daily_report.apply(kwargs={"day": REPORT_DAY.isoformat()}).get()  # already sent: nothing
    assert len(mail.outbox) == 1
    assert Report.objects.get(period="day", starts_on=REPORT_DAY).attempts == 2


@pytest.mark.usefixtures("recipients")
@override_settings(EMAIL_BACKEND="tests.reports.test_reports.FailingOnceBackend")
def test_a_day_whose_retries_all_failed_is_sent_by_the_next_run() -> None:
    FailingOnceBackend.failures = 1
    with pytest.raises(smtplib.SMTPServerDisconnected):
        services.do_send_due_daily_reports(now=AFTER_CLOSE)
    assert mail.outbox == []

    # Monday's run (the 23rd is a holiday, the 24th the next operating day) sends Friday's and its own.
    assert services.do_send_due_daily_reports(now=at(dt.date(2026, 11, 24), 18)) == 2
    assert sorted(m.subject.split()[1] for m in mail.outbox) == [
        "2026年11月20日（金）",
        "2026年11月24日（火）",
    ]
    assert services.do_send_due_daily_reports(now=at(dt.date(2026, 11, 24), 18, 30)) == 0
    # before 18:00 the latest due day is the day before
    assert days.latest_due_day(at(dt.date(2026, 11, 25), 9)) == dt.date(2026, 11, 24)


@pytest.mark.concurrency
@override_settings(EMAIL_BACKEND="tests.reports.test_reports.SlowBackend")
def test_two_concurrent_senders_send_one_mail(committed_kyoto: Committed) -> None:
    """Two workers on connections of their own, released together: the locked Report row lets one send."""

    def set_addresses() -> None:
        rules = booking_rules()
        rules.report_emails = ADDRESSES
        rules.save()

    def clean_up() -> None:
        Report.objects.filter(period="day", starts_on=REPORT_DAY).delete()

    committed_kyoto(set_addresses)
    barrier = threading.Barrier(2)

    def send() -> bool:
        try:
            with schema_context("kyoto"):
                barrier.wait(timeout=30)
                return services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE)
        finally:
            connections.close_all()

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcome = Counter(pool.map(lambda _n: send(), range(2)))
        assert outcome == Counter({True: 1, False: 1})
        assert len(mail.outbox) == 1
        report = committed_kyoto(lambda: Report.objects.get(period="day", starts_on=REPORT_DAY))
        assert report.attempts == 1 and report.sent_at == AFTER_CLOSE
    finally:
        committed_kyoto(clean_up)


# --- the monthly report ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("kyoto")
def test_monthly_figures_add_up_day_by_day() -> None:
    make_the_days_activity()
    figures = queries.monthly_figures(2026, 11)

    assert len(figures.rows) == 30
    by_day = {row.day: row.counts for row in figures.rows}
    friday, thursday = by_day[REPORT_DAY], by_day[REPORT_DAY - dt.timedelta(days=1)]
    assert (friday.calls, friday.new, friday.changes, friday.cancellations) == ((3, 2, 1, 1), (1, 2), 1, 1)
    assert (thursday.calls_total, thursday.new_total) == (1, 2)  # the call at 23:59:59 and two web bookings
    assert by_day[REPORT_DAY + dt.timedelta(days=1)].calls == (0, 0, 0, 1)  # the call at 00:00 Saturday
    assert (figures.totals.calls_total, figures.totals.new_total) == (9, 5)
    rows = list(formatting.monthly_csv_rows(figures))
    assert rows[-1][0] == "合計" and rows[-1][3:] == [3, 2, 2, 2, 9, 3, 2, 5, 1, 1]
    assert chart._axis(0) == (1, 1) and chart._axis(7) == (2, 8) and chart._axis(37) == (10, 40)


@pytest.mark.usefixtures("recipients")
def test_the_monthly_report_is_mailed_once_with_the_chart_and_the_csv() -> None:
    make_the_days_activity()
    assert services.do_send_monthly_report(2026, 11, now=at(dt.date(2026, 11, 30), 23)) is False  # not over
    first_of_december = at(dt.date(2026, 12, 1), 8)
    assert services.do_send_previous_monthly_report(now=first_of_december) is True
    assert services.do_send_previous_monthly_report(now=first_of_december) is False

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "【月報】京都市 2026年11月 受電9件・新規予約5件"
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in html and "<table" in html
    name, content, mimetype = message.attachments[0]
    assert name == "月報_2026年11月.csv" and mimetype == "text/csv"
    assert "受電 計" in content and content.rstrip().splitlines()[-1].startswith("合計")


# --- the screens ----------------------------------------------------------------------------------------


@pytest.fixture
def admin(kyoto: None) -> Client:
    make_staff("admin1", "administrator")
    return sign_in("admin1")


def test_the_reports_page_shows_the_days_tallies(admin: Client) -> None:
    make_the_days_activity()
    page = admin.get("/staff/reports/", {"day": REPORT_DAY.isoformat()})
    assert page.status_code == 200
    text = page.content.decode()
    assert "受電件数（計 7件）" in text and "新規予約（計 3件）" in text
    assert "?month=" in text
    # the coming days' table names each place in its row header (it was empty: a new user's walk)
    kita = factories.place("kita").name
    assert f'<th scope="row">{kita}</th><td>0</td><td>2</td><td>0</td>' in text
    assert "11/25（水）" in text
    assert admin.get("/staff/reports/").status_code == 200  # today


def test_the_monthly_page_has_an_accessible_chart_and_the_table(admin: Client) -> None:
    make_the_days_activity()
    page = admin.get("/staff/reports/monthly/", {"month": "2026-11"})
    assert page.status_code == 200
    text = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="monthly-chart-title' in text
    assert '<title id="monthly-chart-title">' in text and "<table" in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)  # the chart needs no script (only files, deferred)
    assert "style=" not in text  # the content security policy allows no inline styles
    assert admin.get("/staff/reports/monthly/").status_code == 200  # the previous month


@pytest.mark.parametrize(("encoding", "codec"), [("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")])
def test_the_monthly_csv_downloads_in_both_encodings(admin: Client, encoding: str, codec: str) -> None:
    make_the_days_activity()
    response = admin.get("/staff/reports/monthly.csv", {"month": "2026-11", "encoding": encoding})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    rows = list(csv.reader(io.StringIO(body.decode(codec))))
    assert rows[0][:4] == ["日付", "曜日", "備考", "受電（新規予約）"]
    assert len(rows) == 1 + 30 + 1
    assert rows[20][0] == "2026-11-20" and rows[20][7] == "7"
    assert rows[23][2] == "勤労感謝の日"


@pytest.mark.parametrize(
    "path",
    [
        "/staff/reports/?day=2026-02-30",
        "/staff/reports/?day=yesterday",
        "/staff/reports/?day=1800-01-01",
        "/staff/reports/monthly/?month=2026-13",
        "/staff/reports/monthly/?month=2026-1",
        "/staff/reports/monthly.csv?month=2026-11&encoding=latin-1",
        "/staff/reports/monthly.csv?month=99999-01",
    ],
)
def test_bad_parameters_are_a_400_with_a_message(admin: Client, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/staff/reports/monthly/?month=0000-01",  # the year 0 made a date that cannot be: a 500 before
        "/staff/reports/monthly.csv?month=0000-12",
        "/staff/reports/?day=0000-01-01",
        "/staff/reports/?day=2026-W49-7",
        "/staff/reports/?day=20261206",
    ],
)
def test_a_year_zero_or_another_form_is_a_400_with_a_message(admin: Client, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_a_day_and_a_month_in_full_width_digits_are_read(admin: Client) -> None:
    wide = str.maketrans("0123456789-", "０１２３４５６７８９－")
    assert admin.get("/staff/reports/", {"day": REPORT_DAY.isoformat().translate(wide)}).status_code == 200
    page = admin.get("/staff/reports/monthly/", {"month": "2026-11".translate(wide)})
    assert page.status_code == 200 and "2026年11月の月報" in page.content.decode()


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("operator", 403), ("counter", 200)])
def test_who_may_see_the_reports(kyoto: None, role: str, status: int) -> None:
    make_staff(f"user-{role}", role)
    client = sign_in(f"user-{role}")
    for path in ("/staff/reports/", "/staff/reports/monthly/?month=2026-11", "/staff/reports/monthly.csv"):
        assert client.get(path).status_code == status, path


def test_each_tenant_reports_only_its_own_numbers(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        log_calls(REPORT_DAY, {"question": 4})
    with schema_context("mihon"):
        rules = booking_rules()
        rules.report_emails = "mihon@example.jp"
        rules.save()
        assert queries.daily_figures(REPORT_DAY).calls_total == 0
        assert queries.monthly_figures(2026, 11).totals.calls_total == 0
        assert services.do_send_daily_report(REPORT_DAY, now=AFTER_CLOSE) is True
        make_staff("mihon-admin", "administrator")
    assert mail.outbox[0].to == ["mihon@example.jp"] and "受電0件" in mail.outbox[0].subject
    client = sign_in("mihon-admin", host=MIHON_HOST)
    assert (
        "受電件数（計 0件）"
        in client.get("/staff/reports/", {"day": REPORT_DAY.isoformat()}).content.decode()
    )
    with schema_context("kyoto"):
        assert queries.daily_figures(REPORT_DAY).calls_total == 4
        assert not Report.objects.exists()  # mihon's report is mihon's row
