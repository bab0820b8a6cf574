"""The monthly availability report (BK-08): a month built from known samples, outages and stops gives each
term and the figure exact to the minute; the command, the vendor console's page and CSV, the outage record,
the mail on the 1st, and the municipality's own staff page (its own report only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from booking.models import BookingSettings
from console import availability
from console.availability_services import do_send_availability_report, do_send_availability_reports
from console.models import AvailabilityReportMail, Outage, PlannedStop, ProbeSample, VendorLogEntry
from tenants.models import Municipality
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in
from tests.vendor_helpers import make_operator, operator_client

pytestmark = pytest.mark.django_db

TOKYO = availability.TOKYO
FEB = dt.datetime(2026, 2, 1, tzinfo=TOKYO)
AFTER_FEB = dt.datetime(2026, 3, 5, 12, 0, tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _customers_since_2025(tenants: Tenants) -> None:
    """The months here are in the past: the municipalities were customers then (a report is only sent for a
    month that ends after the municipality was made)."""
    since = dt.datetime(2025, 1, 1, tzinfo=TOKYO)
    Municipality.objects.exclude(schema_name="public").update(created_at=since)
    for tenant in (tenants.kyoto, tenants.mihon):
        tenant.refresh_from_db()


def at(day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 2, day, hour, minute, second, tzinfo=TOKYO)


def minutes(start: dt.datetime, count: int) -> set[dt.datetime]:
    return {start + dt.timedelta(minutes=i) for i in range(count)}


def build_february(tenants: Tenants) -> None:
    """A sample at second 20 of every minute of February 2026 (40 320 minutes), with known failures, a gap,
    a planned stop, an emergency stop and a municipality-caused outage."""
    failed = (
        minutes(at(3, 10, 0), 30)  # 30 minutes nobody recorded: ours
        | minutes(at(10, 2, 0), 60)  # inside the planned stop 02:00–04:00 (the site was back at 03:00)
        | minutes(at(15, 12, 0), 20)  # inside the municipality's outage 12:00–12:45
        | minutes(at(25, 1, 0), 15)  # during an emergency stop: not planned, so ours
    )
    gap = minutes(at(20, 5, 0), 10)  # no sample 05:00–05:09: 05:00 takes 04:59's result, 9 stopped
    rows = []
    for i in range(28 * 1440):
        minute = FEB + dt.timedelta(minutes=i)
        if minute in gap:
            continue
        rows.append(
            ProbeSample(
                at=minute + dt.timedelta(seconds=20),
                tenant=tenants.kyoto,
                ok=minute not in failed,
                latency_ms=120,
                reason="top: HTTP 502 (expected 200)" if minute in failed else "",
            )
        )
    # two samples in one minute, one failed: the minute is up
    rows.append(ProbeSample(at=at(27, 9, 0, 50), tenant=tenants.kyoto, ok=False, latency_ms=9000, reason="x"))
    # Mihon's failures and outage never reach Kyoto's report
    rows += [ProbeSample(at=at(3, 10, m), tenant=tenants.mihon, ok=False, latency_ms=1) for m in range(50)]
    ProbeSample.objects.bulk_create(rows)
    PlannedStop.objects.create(
        tenant=None,  # every municipality
        starts_at=at(10, 2, 0),
        ends_at=at(10, 4, 0),
        approved_by="情報政策課長",
        approval_reference="京情第123号",
        approved_on=dt.date(2026, 1, 5),
    )
    PlannedStop.objects.create(
        tenant=tenants.kyoto,
        kind=PlannedStop.Kind.EMERGENCY,
        starts_at=at(25, 1, 0),
        ends_at=at(25, 1, 15),
        reason="緊急のメンテナンスのため",
    )
    for tenant, cause in (
        (tenants.kyoto, Outage.Cause.MUNICIPALITY),
        (tenants.mihon, Outage.Cause.MUNICIPALITY),
    ):
        Outage.objects.create(
            tenant=tenant,
            cause=cause,
            reference="京情第200号",
            starts_at=at(15, 12, 0),
            ends_at=at(15, 12, 45),
            note="自治体のネットワーク工事",
            recorded_by="ops",
            recorded_at=at(16, 9, 0),
        )
    Outage.objects.create(
        tenant=tenants.kyoto,
        cause=Outage.Cause.OURS,
        starts_at=at(3, 10, 0),
        ends_at=at(3, 10, 30),
        note="ゲートウェイの障害",
        recorded_by="ops",
        recorded_at=at(3, 11, 0),
    )


def test_a_known_month_gives_each_term_and_the_figure_exact_to_the_minute(tenants: Tenants) -> None:
    build_february(tenants)
    report = availability.month_report(tenants.kyoto.pk, 2026, 2, now=AFTER_FEB)
    t = report.totals
    assert t.provided == 28 * 1440 == 40320
    assert t.stopped == 30 + 60 + 20 + 9 + 15 == 134
    assert t.no_sample == 9
    assert t.planned == 60  # the planned stop's second hour the site was up: nothing taken off
    assert t.city == 20
    assert t.counted == 134 - (60 + 20) == 54
    # (40320 − (134 − (60 + 20))) / 40320 = 99.86607…% → shown rounded down
    assert t.availability == Decimal("99.866")
    assert t.met is True
    assert report.complete and report.samples == 40320 - 10 + 1 and report.failed_samples == 126
    day3 = report.days[2].minutes
    assert (day3.provided, day3.stopped, day3.counted) == (1440, 30, 30)
    assert [(s.starts_at, s.minutes, s.counted) for s in report.seen] == [
        (at(3, 10, 0), 30, 30),
        (at(10, 2, 0), 60, 0),
        (at(15, 12, 0), 20, 0),
        (at(20, 5, 1), 9, 9),
        (at(25, 1, 0), 15, 15),
    ]
    causes = [(r.cause, r.minutes, r.stopped) for r in report.records]
    assert causes == [("ours", 30, 30), ("planned", 120, 60), ("municipality", 45, 20), ("emergency", 15, 15)]
    # Mihon: its own samples only; measuring began with its first sample, and after its last (failed) one
    # every minute is stopped for want of a sample, the planned stop and its own outage taken off in full
    mihon = availability.month_report(tenants.mihon.pk, 2026, 2, now=AFTER_FEB).totals
    assert mihon.provided == 40320 - (2 * 1440 + 10 * 60) == 36840
    assert (mihon.stopped, mihon.no_sample, mihon.planned, mihon.city) == (36840, 36840 - 51, 120, 45)


def test_the_month_so_far_counts_from_the_first_sample_to_the_last_whole_minute(tenants: Tenants) -> None:
    ProbeSample.objects.bulk_create(
        ProbeSample(at=at(5, 9, m, 5), tenant=tenants.kyoto, ok=m != 3, latency_ms=50) for m in range(10)
    )
    report = availability.month_report(tenants.kyoto.pk, 2026, 2, now=at(5, 9, 10, 30))
    assert not report.complete
    assert report.measured_from == at(5, 9, 0)
    assert (report.totals.provided, report.totals.stopped) == (10, 1)
    assert report.totals.availability == Decimal("90.000")
    # a month before any sample: nothing provided, no figure
    before = availability.month_report(tenants.kyoto.pk, 2026, 1, now=at(5, 9, 10))
    assert before.measured_from is None and before.totals.provided == 0 and before.totals.availability is None
    assert availability.report_months(tenants.kyoto.pk, now=dt.datetime(2026, 4, 2, tzinfo=TOKYO)) == [
        (2026, 4),
        (2026, 3),
        (2026, 2),
    ]


def test_the_command_prints_each_term_and_writes_an_excel_safe_csv(tenants: Tenants, tmp_path: Path) -> None:
    build_february(tenants)
    out = StringIO()
    target = tmp_path / "feb.csv"
    call_command("availability_report", "kyoto", "--month", "2026-02", "--csv", str(target), stdout=out)
    text = out.getvalue()
    for line in (
        "provided       40320",
        "stopped          134",
        "planned           60",
        "city-caused       20",
    ):
        assert line in text, text
    assert "99.866 %" in text and "met" in text
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = data.decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 28 + 1
    assert rows[3].startswith("2026-02-03,1440,30,0,0,0,30,")
    assert rows[-1].split(",")[1:] == ["40320", "134", "9", "60", "20", "54", "99.866"]
    with pytest.raises(Exception, match="YYYY-MM"):
        call_command("availability_report", "kyoto", "--month", "2026-13", stdout=StringIO())
    with pytest.raises(Exception, match="no municipality"):
        call_command("availability_report", "nowhere", "--month", "2026-02", stdout=StringIO())


def test_the_vendor_console_shows_the_report_chart_and_csv(tenants: Tenants) -> None:
    build_february(tenants)
    client = operator_client(*make_operator())
    page = client.get("/availability/kyoto/2026-02/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "99.866" in html and "<svg" in html and "京情第200号" in html and "<caption>" in html
    assert client.get("/availability/").status_code == 200
    download = client.get("/availability/kyoto/2026-02/csv/")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert download.content.startswith(b"\xef\xbb\xbf")
    bad = client.get("/availability/kyoto/2026-2x/")
    assert bad.status_code == 400 and "YYYY-MM" in bad.content.decode()
    assert client.get("/availability/nowhere/2026-02/").status_code == 404
    # signed out: to the sign-in page
    assert Client(HTTP_HOST="localhost").get("/availability/kyoto/2026-02/").status_code == 302


def test_an_outage_is_recorded_with_its_log_entry_and_bad_input_changes_nothing(tenants: Tenants) -> None:
    client = operator_client(*make_operator())
    url = "/availability/kyoto/2026-02/"
    form = {
        "cause": "municipality",
        "starts_at": "2026-02-15T12:00",
        "ends_at": "2026-02-15T12:45",
        "note": "工事",
    }
    refused = client.post(url, form)  # no reference
    assert refused.status_code == 400 and "文書・受付番号を入力してください" in refused.content.decode()
    backwards = client.post(url, {**form, "reference": "A-1", "ends_at": "2026-02-15T11:00"})
    assert backwards.status_code == 400 and "停止終了は停止開始より後" in backwards.content.decode()
    assert not Outage.objects.exists()
    done = client.post(url, {**form, "reference": "京情第200号"})
    assert done.status_code == 302
    outage = Outage.objects.get()
    assert outage.starts_at == at(15, 12, 0) and outage.recorded_by == "ops"
    entry = VendorLogEntry.objects.order_by("-seq").first()
    assert (
        entry is not None and entry.action == "outage.record" and entry.detail["reference"] == "京情第200号"
    )
    # a record made in error is withdrawn (POST only); the log keeps what it said
    page = client.get(url).content.decode()
    withdraw = f"/availability/kyoto/2026-02/outages/{outage.pk}/withdraw/"
    assert withdraw in page
    assert client.get(withdraw).status_code == 405
    assert client.post(f"/availability/mihon/2026-02/outages/{outage.pk}/withdraw/").status_code == 404
    assert client.post(withdraw).status_code == 302 and not Outage.objects.exists()
    entry = VendorLogEntry.objects.order_by("-seq").first()
    assert entry is not None and entry.action == "outage.withdraw" and entry.detail["note"] == "工事"


def test_the_report_is_mailed_once_to_the_municipalitys_report_addresses(tenants: Tenants) -> None:
    build_february(tenants)
    with schema_context("kyoto"):
        BookingSettings.objects.update(report_emails="joho@city.example.jp\nnot an address")
    # not before the month has ended
    assert not do_send_availability_report(tenants.kyoto, 2026, 2, now=at(28, 23, 59))
    assert (
        do_send_availability_reports(now=dt.datetime(2026, 3, 1, 8, 30, tzinfo=TOKYO)) == 1
    )  # Mihon: no address
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["joho@city.example.jp"] and "2026-02" in sent.subject and "99.866" in sent.body
    assert sent.attachments[0][0] == "availability-kyoto-2026-02.csv"
    assert AvailabilityReportMail.objects.get(tenant=tenants.kyoto).sent_at is not None
    # a retried run sends nothing twice, nor does the next morning's
    assert do_send_availability_reports(now=dt.datetime(2026, 3, 1, 9, 0, tzinfo=TOKYO)) == 0
    assert do_send_availability_reports(now=dt.datetime(2026, 3, 2, 8, 30, tzinfo=TOKYO)) == 0
    assert len(mail.outbox) == 1


def test_a_month_the_first_missed_is_mailed_the_next_morning_and_none_before_the_customer(
    tenants: Tenants,
) -> None:
    """Beat down on the 1st: the 2nd's run sends the month. A municipality that joined after a month ended
    (no sample in it) gets no report of that month, whichever morning it is."""
    build_february(tenants)
    ProbeSample.objects.filter(tenant=tenants.mihon).delete()
    Municipality.objects.filter(pk=tenants.mihon.pk).update(created_at=dt.datetime(2026, 3, 1, tzinfo=TOKYO))
    with schema_context("mihon"):
        BookingSettings.objects.update(report_emails="mihon@city.example.jp")
    with schema_context("kyoto"):
        BookingSettings.objects.update(report_emails="joho@city.example.jp")
    assert do_send_availability_reports(now=dt.datetime(2026, 3, 2, 8, 30, tzinfo=TOKYO)) == 1
    assert [m.to for m in mail.outbox] == [["joho@city.example.jp"]]


def test_the_municipalitys_administrators_see_their_own_report_only(tenants: Tenants) -> None:
    build_february(tenants)
    with schema_context("kyoto"):
        make_staff("avail_admin", "administrator")
        make_staff("avail_counter", "counter")
    with schema_context("mihon"):
        make_staff("mihon_admin", "administrator")
    kyoto = sign_in("avail_admin")
    page = kyoto.get("/staff/availability/?month=2026-02")
    assert page.status_code == 200 and "99.866" in page.content.decode()
    assert "/withdraw/" not in page.content.decode()  # staff read the report; only our operators change it
    kyoto.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = kyoto.get("/staff/availability/?month=2026-02").content.decode()
    assert "Availability report" in text and "Stops caused by the municipality" in text
    # the chart carries its own text alternative; the same figures are in the table beside it
    assert 'role="img"' in text and "Availability per day in 2026-02" in text
    kyoto.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    csv = kyoto.get("/staff/availability/csv/?month=2026-02")
    assert csv.status_code == 200 and b"40320" in csv.content
    assert kyoto.get("/staff/availability/?month=2026-99").status_code == 400
    # Mihon's administrator sees Mihon's figures (its own failures), never Kyoto's
    mihon = sign_in("mihon_admin", host=MIHON_HOST).get("/staff/availability/?month=2026-02").content.decode()
    assert "99.866" not in mihon and "京情第200号" in mihon  # the outage recorded for Mihon itself
    assert "ゲートウェイの障害" not in mihon  # Kyoto's own record
    # Kyoto's session on Mihon's host is no session there; counter staff may not; signed out: sign in
    assert kyoto.get("/staff/availability/", HTTP_HOST=MIHON_HOST).status_code == 302
    assert sign_in("avail_counter").get("/staff/availability/").status_code == 403
    assert Client(HTTP_HOST=KYOTO_HOST).get("/staff/availability/").status_code == 302


def test_a_month_past_the_calendar_is_a_400_not_a_500(tenants: Tenants) -> None:
    """9999-12 reads as a month, but its end (year 10000) is past datetime's last year."""
    with pytest.raises(ValueError, match="YYYY-MM"):
        availability.parse_month("9999-12")
    client = operator_client(*make_operator())
    assert client.get("/availability/kyoto/9999-12/").status_code == 400
    assert client.get("/availability/kyoto/9999-12/csv/").status_code == 400
    with schema_context("kyoto"):
        make_staff("far_admin", "administrator")
    staff = sign_in("far_admin")
    assert staff.get("/staff/availability/?month=9999-12").status_code == 400
    assert staff.get("/staff/availability/csv/?month=9999-12").status_code == 400


def test_an_outage_outside_the_reports_years_is_refused_not_stored(tenants: Tenants) -> None:
    """Year 1 in Tokyo is BC in UTC: once stored, reading it back broke every report of the municipality."""
    client = operator_client(*make_operator())
    url = "/availability/kyoto/2026-02/"
    form = {"cause": "ours", "starts_at": "0001-01-01T00:00", "ends_at": "2026-02-15T12:45"}
    refused = client.post(url, form)
    assert refused.status_code == 400 and "2000年から2099年" in refused.content.decode()
    assert not Outage.objects.exists()
    assert client.get(url).status_code == 200


def test_month_edges_in_tokyo_split_a_stop_and_keep_the_first_and_last_minute(tenants: Tenants) -> None:
    """A planned stop across midnight of Feb 28 (Tokyo) is split between the months; the first minute of
    March, without a sample, takes Feb 28 23:59's; the last minute of March counts."""
    mar = dt.datetime(2026, 3, 1, tzinfo=TOKYO)
    failed = minutes(mar - dt.timedelta(minutes=30), 29) | minutes(mar + dt.timedelta(minutes=1), 29)
    last = dt.datetime(2026, 3, 31, 23, 59, tzinfo=TOKYO)
    failed.add(last)
    rows = []
    for i in range(-1440, 31 * 1440):
        minute = mar + dt.timedelta(minutes=i)
        if minute == mar:
            continue  # no sample: 23:59's (ok) stands for it
        ok = minute not in failed and minute != mar - dt.timedelta(minutes=1)
        rows.append(
            ProbeSample(at=minute + dt.timedelta(seconds=59), tenant=tenants.kyoto, ok=ok, latency_ms=1)
        )
    ProbeSample.objects.bulk_create(rows)
    PlannedStop.objects.create(
        tenant=tenants.kyoto,
        starts_at=mar - dt.timedelta(minutes=30),
        ends_at=mar + dt.timedelta(minutes=30),
        approved_by="課長",
        approval_reference="A-1",
        approved_on=dt.date(2026, 1, 5),
    )
    feb = availability.month_report(tenants.kyoto.pk, 2026, 2, now=dt.datetime(2026, 4, 2, tzinfo=TOKYO))
    march = availability.month_report(tenants.kyoto.pk, 2026, 3, now=dt.datetime(2026, 4, 2, tzinfo=TOKYO))
    # Feb 28 23:30–23:59 failed: 30 stopped, all planned
    assert (feb.totals.stopped, feb.totals.planned, feb.totals.counted) == (30, 30, 0)
    # Mar 1 00:00 takes 23:59's failed sample; 00:01–00:29 failed: 30 planned; 23:59 on the 31st counted
    assert march.totals.provided == 31 * 1440
    assert (march.totals.stopped, march.totals.planned, march.totals.counted) == (31, 30, 1)
    assert march.totals.no_sample == 0
    assert [r.minutes for r in march.records] == [30] and [r.minutes for r in feb.records] == [30]


def test_a_month_without_samples_is_mailed_as_unmeasured_not_as_missed(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        BookingSettings.objects.update(report_emails="joho@city.example.jp")
    assert do_send_availability_report(tenants.kyoto, 2026, 2, now=AFTER_FEB)
    body = mail.outbox[0].body
    assert "目標 99.5 %: —" in body and "未達成" not in body


def test_a_failing_purge_never_holds_the_monthly_mail_back(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console import tasks

    def purge() -> int:
        raise RuntimeError("canceling statement due to statement timeout")

    monkeypatch.setattr(tasks, "do_purge_samples", purge)
    with schema_context("kyoto"):
        BookingSettings.objects.update(report_emails="joho@city.example.jp")
    with pytest.raises(RuntimeError):
        tasks.send_availability_reports()  # the retry runs the purge again; the mail is not sent twice
    assert len(mail.outbox) == 1


def test_an_emergency_stop_refusing_bookings_is_stopped_though_the_prober_got_through(
    tenants: Tenants,
) -> None:
    """The prober never books: during an emergency stop that refuses residents' bookings its pages and
    sign-in still answer. Those minutes are stopped and, not being planned, count; one that kept the site
    up (site_down off) takes nothing."""
    ProbeSample.objects.bulk_create(
        ProbeSample(at=FEB + dt.timedelta(minutes=i, seconds=5), tenant=tenants.kyoto, ok=True, latency_ms=1)
        for i in range(28 * 1440)
    )
    for site_down, hour in ((True, 1), (False, 3)):
        PlannedStop.objects.create(
            tenant=tenants.kyoto,
            kind=PlannedStop.Kind.EMERGENCY,
            site_down=site_down,
            starts_at=at(25, hour, 0),
            ends_at=at(25, hour, 15),
            reason="緊急のメンテナンスのため",
        )
    t = availability.month_report(tenants.kyoto.pk, 2026, 2, now=AFTER_FEB).totals
    assert (t.stopped, t.planned, t.city, t.counted, t.no_sample) == (15, 0, 0, 15, 0)


def test_the_csvs_are_closed_to_the_signed_out_and_to_other_hosts(tenants: Tenants) -> None:
    build_february(tenants)
    for host in ("localhost", KYOTO_HOST):
        anonymous = Client(HTTP_HOST=host).get("/availability/kyoto/2026-02/csv/")
        assert anonymous.status_code in (302, 404) and b"40320" not in anonymous.content
    with schema_context("kyoto"):
        make_staff("csv_admin", "administrator")
    kyoto = sign_in("csv_admin")
    other = kyoto.get("/staff/availability/csv/?month=2026-02", HTTP_HOST=MIHON_HOST)
    assert other.status_code == 302 and b"40320" not in other.content
    assert Client(HTTP_HOST=KYOTO_HOST).get("/staff/availability/csv/?month=2026-02").status_code == 302


def test_minutes_while_suspended_are_the_municipalitys_not_ours(tenants: Tenants) -> None:
    """A suspended municipality's samples say so (the prober does not call it): those minutes are stopped
    and city-caused, so a suspension never reads as our outage; a real failure beside them still counts."""
    suspended, failed = minutes(at(12, 9, 0), 90), minutes(at(12, 11, 0), 5)
    ProbeSample.objects.bulk_create(
        ProbeSample(
            at=minute + dt.timedelta(seconds=5),
            tenant=tenants.kyoto,
            ok=minute not in suspended | failed,
            latency_ms=1,
            reason=ProbeSample.SUSPENDED
            if minute in suspended
            else "top: HTTP 502"
            if minute in failed
            else "",
        )
        for minute in (FEB + dt.timedelta(minutes=i) for i in range(28 * 1440))
    )
    t = availability.month_report(tenants.kyoto.pk, 2026, 2, now=AFTER_FEB).totals
    assert (t.stopped, t.planned, t.city, t.counted, t.no_sample) == (95, 0, 90, 5, 0)
