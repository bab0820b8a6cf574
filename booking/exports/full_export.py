"""The full export of a tenant's data (SO-16): one CSV per kind in a zip, streamed into the export
storage (S3-compatible, or a local folder) so memory stays flat however many rows there are.

The files and their columns are declared in `booking.exports.tables` and documented in
docs/formats/full-export.md (a test keeps the three in step with the models). An export is
a kind of `booking.jobs` job (`EXPORTS`): the runner moves it, deletes its zip once the download expires, and
closes an export whose worker died.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import partial

from django.db import transaction
from django.utils import timezone

from booking.audit import oplog
from booking.exports.tables import tables
from booking.jobs import runner
from booking.jobs.enqueue import queue_on_commit
from booking.jobs.kinds import JobKind, Reason
from booking.lib.dates import TOKYO
from booking.models import ExportJob
from integrations import csv_export, storage
from tenants.db import tenant_connection

DOWNLOAD_DAYS = 7

EXPORTS: JobKind[ExportJob] = JobKind(
    name="export",
    model=ExportJob,
    target="export",
    file_fields=("key",),
    files_live=dt.timedelta(days=DOWNLOAD_DAYS),
    # Streaming keeps an export of the largest city within minutes: one still open after this lost its worker.
    lost_after=dt.timedelta(hours=12),
    unexpected="予期しないエラーで出力できませんでした",
    interrupted=Reason(
        "処理が中断されました。もう一度出力してください", "the export was interrupted; request it again"
    ),
    failed_action="export.failed",
    lost_action="export.interrupted",
    log=partial(oplog.record, oplog.WORKER),
)


def do_request_full_export(actor: oplog.Actor) -> ExportJob:
    with transaction.atomic():
        job = ExportJob.objects.create(requested_by=actor.username, requested_at=timezone.now())
        oplog.record(actor, "export.request", f"export {job.pk}")
        queue_on_commit("booking.run_full_export", job.pk)
    return job


def run(job_id: int, now: dt.datetime | None = None) -> ExportJob:
    """Write the zip; the job says how it went. A failed run leaves no half file behind."""
    now = now or timezone.now()
    # Japan time in the file's name, as the page shows the time (the download's file name comes from it).
    stamp = f"{now.astimezone(TOKYO):%Y%m%dT%H%M%S}"
    # The key is written with the claim, before the file, so that the lost-job sweep finds what a killed
    # worker left; the download is offered for done jobs only.
    return runner.run(
        EXPORTS,
        job_id,
        _export,
        claim=lambda job: {"key": f"{tenant_connection().schema_name}/exports/{stamp}-{job.pk}.zip"},
    )


def _export(job: ExportJob) -> None:
    counts: dict[str, int] = {}

    def members() -> Iterator[tuple[str, Iterable[bytes]]]:
        for table in tables():
            stats = csv_export.ExportStats()
            yield (
                table.filename,
                _counted(
                    csv_export.iter_csv(table.header, table.rows(), "utf-8-sig", stats),
                    counts,
                    table.filename,
                    stats,
                ),
            )

    size = storage.save_zip(storage.export_storage(), job.key, members())
    with transaction.atomic():
        runner.finish(EXPORTS, job, size=size, rows=counts)
        oplog.record(oplog.WORKER, "export.done", f"export {job.pk}", {"rows": counts})


def _counted(
    chunks: Iterator[bytes], counts: dict[str, int], name: str, stats: csv_export.ExportStats
) -> Iterator[bytes]:
    yield from chunks
    counts[name] = stats.rows


def do_delete_expired_exports(now: dt.datetime | None = None) -> int:
    """Delete the zips whose download expired, and close the exports whose worker died; the count."""
    return runner.sweep(EXPORTS, now)
