"""The one runner of background jobs (booking.jobs.runner), for each of the three kinds alike: a job moves
queued → running → done or failed once, a lost job is closed and its files deleted, expired files go."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import models, transaction
from django.utils import timezone

from booking.audit import oplog
from booking.exports.full_export import EXPORTS
from booking.jobs import runner
from booking.jobs.kinds import Failure, JobFailed, JobKind
from booking.lifecycle.intake_job import CARD_IMPORTS
from booking.lifecycle.notices import NOTICE_RUNS
from booking.models import Card, JobStatus
from tests import factories

pytestmark = pytest.mark.django_db

KINDS: list[JobKind[Any]] = [CARD_IMPORTS, NOTICE_RUNS, EXPORTS]
WITH_DOWNLOADS = [kind for kind in KINDS if kind.files_live is not None]


@pytest.fixture
def stored(kyoto: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The export storage as a folder of the test's own."""
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    yield tmp_path


def make_job(kind: JobKind[Any], folder: Path, *, status: str, asked: dt.datetime, **fields: Any) -> Any:
    """A job of the kind with a file under each of its file fields, written to the storage."""
    job = kind.model._default_manager.create(
        requested_by="admin1", requested_at=asked, status=status, **fields
    )
    keys = {name: f"kyoto/{kind.name}/{job.pk}-{name}.dat" for name in kind.file_fields}
    for key in keys.values():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(b"residents' personal data")
    kind.rows().filter(pk=job.pk).update(**keys)
    job.refresh_from_db()
    return job


def files_of(kind: JobKind[Any], job: models.Model) -> list[str]:
    return [getattr(job, name) for name in kind.file_fields]


def actions() -> list[str]:
    return list(oplog.OperationLogEntry.objects.order_by("seq").values_list("action", flat=True))


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_a_lost_job_of_each_kind_is_closed_and_its_files_deleted(
    stored: Path, kind: JobKind[Any], status: str
) -> None:
    asked = timezone.now() - kind.lost_after - dt.timedelta(minutes=1)
    lost = make_job(kind, stored, status=status, asked=asked)
    recent = make_job(kind, stored, status=status, asked=timezone.now())
    keys = files_of(kind, lost)

    assert runner.sweep(kind) == 1

    lost.refresh_from_db()
    assert lost.status == JobStatus.FAILED and lost.finished_at is not None
    assert lost.error.startswith(kind.interrupted.ja) and kind.interrupted.en in lost.error
    assert files_of(kind, lost) == [""] * len(kind.file_fields)
    assert not any((stored / key).exists() for key in keys)
    assert actions()[-1] == (kind.lost_action or kind.failed_action)
    recent.refresh_from_db()
    assert recent.status == status and all((stored / key).is_file() for key in files_of(kind, recent))
    assert runner.sweep(kind) == 0  # closed once


@pytest.mark.parametrize("kind", WITH_DOWNLOADS, ids=lambda kind: kind.name)
def test_expired_files_are_deleted_and_the_job_stays_done(stored: Path, kind: JobKind[Any]) -> None:
    now = timezone.now()
    expired = make_job(
        kind, stored, status=JobStatus.DONE, asked=now, expires_at=now - dt.timedelta(seconds=1)
    )
    valid = make_job(kind, stored, status=JobStatus.DONE, asked=now, expires_at=now + dt.timedelta(days=1))
    keys = files_of(kind, expired)

    assert runner.delete_expired_files(kind) == 1

    expired.refresh_from_db()
    assert expired.status == JobStatus.DONE and files_of(kind, expired) == [""] * len(kind.file_fields)
    assert not any((stored / key).exists() for key in keys)
    assert all((stored / key).is_file() for key in files_of(kind, valid))
    assert runner.delete_expired_files(kind) == 0  # nothing left to delete
    later = now + dt.timedelta(days=2)
    assert runner.delete_expired_files(kind, later) == 1


def test_a_kind_whose_files_are_input_has_nothing_to_expire(stored: Path) -> None:
    assert CARD_IMPORTS.files_live is None
    assert runner.delete_expired_files(CARD_IMPORTS, timezone.now() + dt.timedelta(days=365)) == 0


def test_a_job_runs_once_and_is_done_with_its_figures(stored: Path) -> None:
    job = make_job(EXPORTS, stored, status=JobStatus.QUEUED, asked=timezone.now())
    calls: list[str] = []

    def work(running: Any) -> None:
        calls.append(running.status)
        runner.finish(EXPORTS, running, size=7)

    done = runner.run(EXPORTS, job.pk, work)
    again = runner.run(EXPORTS, job.pk, work)  # a retried delivery of the same task

    assert calls == [JobStatus.RUNNING]
    assert done.status == again.status == JobStatus.DONE and done.size == 7 and done.error == ""
    assert done.expires_at is not None and done.finished_at is not None
    assert done.expires_at - done.finished_at == EXPORTS.files_live


def test_a_failure_staff_can_act_on_is_kept_and_the_files_deleted(stored: Path) -> None:
    job = make_job(NOTICE_RUNS, stored, status=JobStatus.QUEUED, asked=timezone.now())
    keys = files_of(NOTICE_RUNS, job)

    def work(_: Any) -> None:
        raise JobFailed(Failure("カードが変わりました / cards changed"))

    failed = runner.run(NOTICE_RUNS, job.pk, work)

    assert failed.status == JobStatus.FAILED and failed.error == "カードが変わりました / cards changed"
    assert (failed.pdf_key, failed.csv_key) == ("", "")
    assert not any((stored / key).exists() for key in keys)
    assert actions()[-1] == NOTICE_RUNS.failed_action


def test_an_unexpected_error_fails_the_job_and_is_raised_for_the_workers_log(stored: Path) -> None:
    job = make_job(EXPORTS, stored, status=JobStatus.QUEUED, asked=timezone.now())

    def work(_: Any) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runner.run(EXPORTS, job.pk, work)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.key == ""
    assert job.error == "予期しないエラーで出力できませんでした / unexpected error: OSError"
    assert "disk full" not in job.error  # the page shows no internals


def test_a_card_imports_upload_is_deleted_when_the_job_ends_whatever_happened(stored: Path) -> None:
    done = make_job(CARD_IMPORTS, stored, status=JobStatus.QUEUED, asked=timezone.now())
    failed = make_job(CARD_IMPORTS, stored, status=JobStatus.QUEUED, asked=timezone.now())
    uploads = [done.file_key, failed.file_key]

    def refused(_: Any) -> None:
        raise JobFailed(Failure("誤りがあります / errors"))

    runner.run(CARD_IMPORTS, done.pk, lambda job: runner.finish(CARD_IMPORTS, job, rows_done=0))
    runner.run(CARD_IMPORTS, failed.pk, refused)

    ended = CARD_IMPORTS.rows().filter(pk__in=[done.pk, failed.pk]).order_by("pk")
    assert list(ended.values_list("status", "file_key")) == [(JobStatus.DONE, ""), (JobStatus.FAILED, "")]
    assert not any((stored / key).exists() for key in uploads)


def test_work_finishing_a_job_closed_meanwhile_is_rolled_back(stored: Path) -> None:
    """A worker that comes back after the sweep closed its job (and deleted its files) changes nothing."""
    job = make_job(NOTICE_RUNS, stored, status=JobStatus.QUEUED, asked=timezone.now())
    card = factories.issue_card().card

    def work(running: Any) -> None:
        runner.fail(NOTICE_RUNS, running.pk, NOTICE_RUNS.failure(NOTICE_RUNS.interrupted), lost=True)
        with transaction.atomic():
            Card.objects.filter(pk=card.pk).update(name="書き換え")
            runner.finish(NOTICE_RUNS, running, letters_done=1)

    closed = runner.run(NOTICE_RUNS, job.pk, work)

    assert closed.status == JobStatus.FAILED and "interrupted" in closed.error
    assert Card.objects.get(pk=card.pk).name == card.name
