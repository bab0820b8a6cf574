"""The staff console's card data import (AD-03): upload, background import with progress, every problem shown,
administrators only, each municipality its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.lifecycle import intake_job
from booking.lifecycle import views_intake as views
from booking.models import Card, CardEvent, CardImportJob, JobStatus
from booking.rules.card_states import CardState
from integrations import jlis, storage
from tests.conftest import MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
URL = "/staff/cards/import/"


def app_id(n: int) -> str:
    return f"{50_000_000_000_000_000_000_000 + n:023d}"


def row(n: int, **changes: str) -> dict[str, str]:
    return {
        "application_id": app_id(n),
        "name": f"京都 花子{n}",
        "name_kana": "キョウト ハナコ",
        "birth_date": "19700101",
        "postal_code": "6048571",
        "address": "京都市中京区",
    } | changes


def fixed(*rows: dict[str, str]) -> bytes:
    return jlis.fixed_width_file(rows, created_on=dt.date(2026, 11, 20))


def upload(client: Client, data: bytes, name: str = "JLIS.txt", **fields: str) -> Any:
    return client.post(URL, {"file": SimpleUploadedFile(name, data), **fields})


@pytest.fixture
def exports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    return tmp_path


@pytest.fixture
def admin(tenants: Tenants, exports_dir: Path) -> Iterator[Client]:
    with schema_context("kyoto"):
        make_staff("admin1", "administrator")
    yield sign_in("admin1")


def in_english(client: Client, url: str) -> str:
    """The page as someone who switched the site to English sees it."""
    english = Client(HTTP_HOST=client.defaults["HTTP_HOST"])
    english.cookies.update(client.cookies)
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return english.get(url).content.decode()


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_an_administrator_uploads_a_file_and_it_is_imported_in_the_background(
    admin: Client, exports_dir: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    assert admin.get(URL).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin, fixed(row(1), row(2)), encoding="cp932")
    with schema_context("kyoto"):
        job = CardImportJob.objects.get()
        assert response.status_code == 302 and response["Location"] == f"{URL}{job.pk}/"
        assert (job.status, job.created, job.unchanged, job.rows_total) == (JobStatus.DONE, 2, 0, 2)
        assert (job.file_format, job.encoding, job.filename, job.file_key) == (
            "jlis-fixed",
            "cp932",
            "JLIS.txt",
            "",
        )
        cards = list(Card.objects.filter(application_id__in=[app_id(1), app_id(2)]))
        assert {(card.state, card.password_digest, card.import_job_id) for card in cards} == {
            (CardState.RECEIVED, "", job.pk)
        }
        events = set(
            CardEvent.objects.filter(card__in=cards).values_list("from_state", "to_state", "actor", "note")
        )
        assert events == {("", "received", "admin1", f"J-LIS取込 job {job.pk}")}
        actions = list(oplog.OperationLogEntry.objects.values_list("action", flat=True))
        assert {"cards.import_request", "cards.import_done"} <= set(actions)
    assert stored_files(exports_dir) == []  # the residents' data is not kept once imported

    page = admin.get(f"{URL}{job.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "Refresh" not in page
    assert "取込が完了しました。" in text and "新規: 2 件" in text
    assert "JLIS.txt" in admin.get(URL).content.decode()


def test_a_file_with_errors_imports_nothing_and_shows_every_problem(
    admin: Client, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    bad = [row(n, birth_date="19701301") for n in range(1, 206)]
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin, fixed(row(900), *bad))
    with schema_context("kyoto"):
        job = CardImportJob.objects.get()
        assert job.status == JobStatus.FAILED
        assert (
            job.error == "205件の誤りがあります。何も取り込んでいません / 205 error(s); nothing was imported"
        )
        assert len(job.problems) == 201 and job.problems[-1]["en"] == "and 5 more"
        assert not Card.objects.filter(application_id__startswith="5000").exists()
        assert "cards.import_failed" in oplog.OperationLogEntry.objects.values_list("action", flat=True)

    text = admin.get(f"{URL}{job.pk}/").content.decode()
    assert "取込できませんでした。何も取り込んでいません。" in text
    assert "存在しない日付です（19701301）" in text and "no such date" not in text  # the page's language only
    assert "no such date (19701301)" in in_english(admin, f"{URL}{job.pk}/")
    assert "生年月日（birth_date）" in text and "<td>3</td>" in text
    assert "ほか5件" in text


def test_a_known_application_with_other_data_is_listed_on_success(
    admin: Client, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin, fixed(row(1)))
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin, fixed(row(1, address="京都市左京区"), row(2)))
    with schema_context("kyoto"):
        job = CardImportJob.objects.order_by("pk").last()
        assert job is not None and (job.status, job.created, job.unchanged) == (JobStatus.DONE, 1, 1)
        assert Card.objects.get(application_id=app_id(1)).address == "京都市中京区"
    text = admin.get(f"{URL}{job.pk}/").content.decode()
    assert "登録済みで内容が異なる申請（変更していません）" in text
    assert "already registered with different data (address)" in in_english(admin, f"{URL}{job.pk}/")


def test_the_same_file_twice_is_all_unchanged(
    admin: Client, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    data = fixed(row(1), row(2))
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            upload(admin, data)
    with schema_context("kyoto"):
        second = CardImportJob.objects.order_by("pk").last()
        assert second is not None and (second.created, second.unchanged) == (0, 2)
        assert Card.objects.filter(application_id__startswith="5000").count() == 2


def test_a_running_import_shows_its_progress_and_reloads_itself(admin: Client) -> None:
    with schema_context("kyoto"):
        job = CardImportJob.objects.create(
            requested_by="admin1",
            requested_at=dt.datetime.now(dt.UTC),
            filename="x.txt",
            status=JobStatus.RUNNING,
        )
        intake_job.publish_progress(job.pk, 2500, 10000)

    response = admin.get(f"{URL}{job.pk}/")

    text = response.content.decode()
    assert response["Refresh"] == "3"
    assert '<progress id="import-progress" max="10000" value="2500">25%</progress>' in text
    assert '<label for="import-progress">' in text


@pytest.mark.parametrize(
    ("data", "name", "ja", "en"),
    [
        (b"", "empty.txt", "ファイルが空です。", None),
        (
            b"PK\x03\x04 a workbook",
            "cards.xlsx",
            "Excel のブック（.xlsx / .xls）は読めません。",
            "an Excel workbook (.xlsx/.xls) cannot be read",
        ),
        ("氏名だけ\r\n".encode("cp932"), "notes.csv", "ファイルの形式がわかりません", "unknown file layout"),
        (b"application_id,name\r\n\x82\xa0\r\n", "cards.csv", "UTF-8 ではありません", "not UTF-8 (line 2)"),
    ],
)
def test_a_bad_upload_is_refused_at_once_in_the_pages_language(
    admin: Client, exports_dir: Path, data: bytes, name: str, ja: str, en: str | None
) -> None:
    response = upload(admin, data, name)
    assert response.status_code == 400
    assert ja in response.content.decode()
    if en is not None:
        assert en not in response.content.decode()
        english = Client(HTTP_HOST=admin.defaults["HTTP_HOST"])
        english.cookies.update(admin.cookies)
        english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        answer = upload(english, data, name).content.decode()
        assert en in answer and ja not in answer
    with schema_context("kyoto"):
        assert not CardImportJob.objects.exists()
    assert stored_files(exports_dir) == []


def test_no_file_and_a_too_large_file_are_refused(
    admin: Client, exports_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "ファイルを選んでください。" in admin.post(URL, {}).content.decode()
    monkeypatch.setattr(views, "MAX_UPLOAD_BYTES", 100)
    response = upload(admin, fixed(row(1)))
    assert response.status_code == 400
    assert "ファイルが大きすぎます（1,323 バイト、上限 100 バイト）" in response.content.decode()
    with schema_context("kyoto"):
        assert not CardImportJob.objects.exists()


def test_a_storage_failure_is_a_clear_answer(admin: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(storage.LocalExportStorage, "save_stream", broken)
    response = upload(admin, fixed(row(1)))
    assert response.status_code == 400
    assert "ファイルを保存できなかったため、取込を開始していません。" in response.content.decode()
    with schema_context("kyoto"):
        assert not CardImportJob.objects.exists()


@pytest.mark.parametrize("role", ["counter", "viewer", "operator"])
def test_only_administrators_import_cards(tenants: Tenants, exports_dir: Path, role: str) -> None:
    with schema_context("kyoto"):
        make_staff("clerk", role)
        job = CardImportJob.objects.create(
            requested_by="x", requested_at=dt.datetime.now(dt.UTC), filename="x"
        )
    client = sign_in("clerk")
    assert client.get(URL).status_code == 403
    assert upload(client, fixed(row(1))).status_code == 403
    assert client.get(f"{URL}{job.pk}/").status_code == 403
    with schema_context("kyoto"):
        assert CardImportJob.objects.count() == 1
    assert stored_files(exports_dir) == []


def test_another_municipality_cannot_see_or_use_this_ones_imports(
    admin: Client, exports_dir: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin, fixed(row(1)))
    with schema_context("kyoto"):
        job = CardImportJob.objects.get()
    with schema_context("mihon"):
        make_staff("mihon-admin", "administrator")
        assert not CardImportJob.objects.exists()
        assert not Card.objects.filter(application_id=app_id(1)).exists()

    mihon = sign_in("mihon-admin", host=MIHON_HOST)
    assert mihon.get(f"{URL}{job.pk}/").status_code == 404
    assert "JLIS.txt" not in mihon.get(URL).content.decode()
    # Kyoto's session means nothing on Mihon's host.
    kyoto_cookie = admin.cookies
    stranger = Client(HTTP_HOST=MIHON_HOST)
    stranger.cookies = kyoto_cookie
    assert stranger.get(f"{URL}{job.pk}/").status_code == 302


def test_uploads_are_stored_under_the_tenants_own_key(
    admin: Client, exports_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_job, "run_import_job", lambda job_id, **_: None)
    upload(admin, fixed(row(1)))  # queued (the on-commit callback never runs in the test transaction)
    with schema_context("kyoto"):
        job = CardImportJob.objects.get()
    assert job.file_key.startswith("kyoto/card-imports/")
    assert (exports_dir / job.file_key).read_bytes() == fixed(row(1))


def test_a_job_lost_by_its_worker_is_closed_and_its_file_deleted(admin: Client, exports_dir: Path) -> None:
    from booking.models import CardImportJob

    response = upload(admin, fixed(row(1)))  # the task is never sent: as if the worker died
    assert response.status_code == 302
    with schema_context("kyoto"):
        job = CardImportJob.objects.get()
        assert job.status == "queued" and stored_files(exports_dir)
        assert intake_job.do_fail_lost_import_jobs() == 0  # not lost yet
        later = job.requested_at + intake_job.LOST_AFTER + dt.timedelta(minutes=1)
        assert intake_job.do_fail_lost_import_jobs(now=later) == 1
        job.refresh_from_db()
        assert job.status == "failed" and job.file_key == "" and "中断" in job.error
    assert not stored_files(exports_dir)
