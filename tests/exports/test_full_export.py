"""The full export (SO-16): every kind of data in one zip, made in the background, downloadable for a while,
streaming so that memory does not grow with the number of rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.engine.services import do_book
from booking.exports import full_export
from booking.exports.tables import CHUNK, tables
from booking.models import Booking, ExportJob
from tests import factories
from tests.conftest import Tenants
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def kyoto(tenants: Tenants, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    with schema_context("kyoto"):
        yield


def read_zip(data: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in archive.namelist()
        }


def test_an_administrator_exports_everything_and_downloads_it(
    kyoto: None, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_staff("admin1", "administrator")
    slot = factories.next_free_slot()
    booking = do_book(
        factories.issue_card("ヤマダ タロウ").card,
        factories.place(),
        factories.card_issuance(),
        slot.starts_at,
        contact_email="=cmd@example.jp",
    )
    client = sign_in("admin1")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/staff/exports/new/")["Location"] == "/staff/exports/"
    job = ExportJob.objects.get()
    assert job.status == "done" and job.size > 0 and job.expires_at is not None
    assert "ダウンロード" in client.get("/staff/exports/").content.decode()

    response: Any = client.get(f"/staff/exports/{job.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    tokyo = timezone.localtime(job.requested_at)  # the file named in the municipality's time, not UTC
    assert f"madoguchi-export-{tokyo:%Y%m%d-%H%M%S}.zip" in response["Content-Disposition"]
    files = read_zip(b"".join(response.streaming_content))
    assert set(files) == {table.filename for table in tables()}
    assert len(files["places.csv"]) == 1 + 21
    bookings = files["bookings.csv"]
    assert bookings[0][:4] == ["booking_id", "application_id", "caller_name_kana", "place"]
    assert bookings[1][0] == str(booking.pk) and bookings[1][10] == "'=cmd@example.jp"
    assert dict(zip(bookings[0], bookings[1], strict=True))["language"] == "ja"  # issue 15
    settings_row = dict(zip(*files["booking_settings.csv"], strict=True))
    assert settings_row["text_bring_en"].startswith("Your notice letter")  # the Kyoto preset's English
    assert files["booking_events.csv"][1][2] == "booked"
    cards = dict(zip(files["cards.csv"][0], files["cards.csv"][1], strict=True))
    assert cards["state"] == "booked" and cards["at_place"] == ""
    card_moves = [(row[2], row[3]) for row in files["card_events.csv"][1:]]
    assert card_moves == [("received", "set_up"), ("set_up", "notice_sent"), ("notice_sent", "booked")]
    assert files["staff.csv"][0][:5] == ["username", "role", "active", "last_login", "password_changed_at"]
    assert not any("password_digest" in rows[0] or "token_digest" in rows[0] for rows in files.values())
    for name in ("call_log.csv", "mails.csv", "reports.csv", "notice_runs.csv", "card_imports.csv"):
        assert name in files  # "all data" (issue 14 §4)
    settings_columns = files["booking_settings.csv"][0]
    assert {"callcenter_script", "report_emails", "transfer_cutoff_time", "card_waiting_days"} <= set(
        settings_columns
    )
    assert "lockout_threshold" in files["staff_security.csv"][0]
    assert not any("argon2" in "".join(row) for rows in files.values() for row in rows)  # no password hashes
    assert job.rows["bookings.csv"] == 1
    assert {"export.request", "export.done", "export.download"} <= set(
        oplog.OperationLogEntry.objects.values_list("action", flat=True)
    )


def test_the_download_expires(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    job = full_export.run(ExportJob.objects.create(requested_by="admin1", requested_at=timezone.now()).pk)
    client = sign_in("admin1")
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(f"/staff/exports/{job.pk}/download/").status_code == 410
    assert full_export.do_delete_expired_exports() == 1
    assert ExportJob.objects.get(pk=job.pk).key == ""


def test_only_administrators_export_everything(kyoto: None) -> None:
    make_staff("clerk", "counter")
    client = sign_in("clerk")
    assert client.get("/staff/exports/").status_code == 403
    assert client.post("/staff/exports/new/").status_code == 403


def insert_bookings(count: int) -> None:
    """Many bookings at once, straight in SQL (the triggers still count them into their slots)."""
    place, service = factories.place(), factories.card_issuance()
    with connection.cursor() as cursor:
        # Test data in bulk, not a request: the 30-second limit on statements (madoguchi.database) is for
        # requests, and a loaded CI machine has taken longer than that to write these rows.
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            "SELECT coalesce(max(starts_at), %s) FROM booking_slot",
            [dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)],
        )
        start = cursor.fetchone()[0] + dt.timedelta(minutes=10)
        cursor.execute("SELECT coalesce(max(id), 0) FROM booking_card")
        base = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO booking_slot (place_id, service_id, starts_at, ends_at, capacity, taken) "
            "SELECT %s, %s, %s + make_interval(mins => 10 * g), "
            "%s + make_interval(mins => 10 * g + 10), 200, 0 "
            "FROM generate_series(1, %s) g",
            [place.pk, service.pk, start, start, count // 100 + 1],
        )
        cursor.execute(
            "INSERT INTO booking_card (application_id, reservation_number, password_digest, name, name_kana, "
            "birth_date, postal_code, address, imported_at) "
            "SELECT '9' || lpad((%s + g)::text, 22, '0'), '8' || lpad((%s + g)::text, 11, '0'), '', "
            "'京都 太郎' || g, "
            "'キョウト タロウ', '1960-01-01', '604-8571', '京都市中京区' || g || '番地', now() "
            "FROM generate_series(1, %s) g",
            [base, base, count],
        )
        cursor.execute(
            "INSERT INTO booking_booking (card_id, slot_id, status, channel, contact_phone, contact_email, "
            "created_at) SELECT c.id, s.id, 'confirmed', 'web', '0752223111', '', now() "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM booking_card WHERE id > %s) c "
            "JOIN (SELECT id, row_number() OVER (ORDER BY starts_at) - 1 AS n FROM booking_slot "
            "WHERE starts_at >= %s) s ON s.n = c.n / 100",
            [base, start],
        )


def export_peak(job_owner: str) -> tuple[int, ExportJob]:
    job = ExportJob.objects.create(requested_by=job_owner, requested_at=timezone.now())
    tracemalloc.start()
    try:
        done = full_export.run(job.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, done


def test_memory_stays_flat_as_the_data_grows(kyoto: None) -> None:
    # Both sizes span several fetches of CHUNK rows: a fetch holds the previous chunk until the next one
    # arrives, so one chunk's worth of data is not the baseline to compare with.
    insert_bookings(3 * CHUNK)
    small_peak, small = export_peak("bench")
    insert_bookings(12 * CHUNK)
    large_peak, large = export_peak("bench")
    assert small.rows["bookings.csv"] == 6_000 and large.rows["bookings.csv"] == 30_000
    assert Booking.objects.count() == 30_000
    # Five times the rows, about the same memory: the export streams rather than holding what it writes.
    assert large_peak < small_peak * 1.5 + 2_000_000, (small_peak, large_peak)
