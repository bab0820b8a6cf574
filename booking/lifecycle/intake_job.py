"""The background card import staff start from the console (AD-03): the upload is stored, a worker checks and
imports it all or nothing (`booking.lifecycle.intake`), and the job's row says how it went, every problem
included. The job is a kind of `booking.jobs` job: the runner moves it, publishes its progress, and the sweep
closes it should its worker die. The uploaded file holds residents' personal data: it is deleted as soon as
the job ends, whatever happened (a failed file is corrected and uploaded again).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from functools import partial

from django.db import transaction
from django.utils import timezone

from booking.audit import oplog
from booking.cards import notes
from booking.jobs import runner
from booking.jobs.enqueue import queue_on_commit
from booking.jobs.kinds import Failure, JobFailed, JobKind, Reason
from booking.lifecycle.intake import LAYOUT_NAMES, MAX_PROBLEMS_KEPT, do_import_cards, parse_card_file
from booking.models import CardImportJob
from integrations import storage
from integrations.jlis import CardImportError, Layout, Problem
from tenants.db import tenant_connection


def kept_problems(problems: Sequence[Problem]) -> list[dict[str, object]]:
    """The first MAX_PROBLEMS_KEPT as the job keeps them, then one entry saying how many more there were."""
    kept = [problem.as_dict() for problem in problems[:MAX_PROBLEMS_KEPT]]
    more = len(problems) - MAX_PROBLEMS_KEPT
    if more > 0:
        kept.append(Problem(f"ほか{more}件", f"and {more} more").as_dict())
    return kept


def _failure(problems: Sequence[Problem]) -> Failure:
    """A failed import keeps its problems (up to MAX_PROBLEMS_KEPT) for its page, the first line as error."""
    return Failure(
        error=CardImportError(problems).message.split("\n", 1)[0],
        fields={"problems": kept_problems(problems)},
        detail={"problems": len(problems)},
    )


CARD_IMPORTS: JobKind[CardImportJob] = JobKind(
    name="card-import",
    model=CardImportJob,
    target="card import",
    file_fields=("file_key",),
    files_live=None,
    # An import of 100,000 rows takes seconds: a job not finished by then lost its worker.
    lost_after=dt.timedelta(hours=12),
    unexpected="予期しないエラーで取り込めませんでした",
    interrupted=Reason(
        "処理が中断されました。何も取り込んでいません。もう一度アップロードしてください",
        "the import was interrupted; nothing was imported, upload the file again",
    ),
    failed_action="cards.import_failed",
    log=partial(oplog.record, oplog.WORKER),
    failure=lambda reason: _failure([Problem(reason.ja, reason.en)]),
)
LOST_AFTER = CARD_IMPORTS.lost_after


def publish_progress(job_id: int, done: int, total: int) -> None:
    runner.publish(CARD_IMPORTS, job_id, {"done": done, "total": total})


def job_progress(job: CardImportJob) -> tuple[int, int]:
    """(rows done, rows in all) of a job: the published figures while it runs, the job's own after."""
    published = runner.published(CARD_IMPORTS, job.pk, job.status)
    if published:
        return int(published["done"]), int(published["total"])
    return job.rows_done, job.rows_total


def do_request_card_import(
    actor: oplog.Actor,
    chunks: Iterable[bytes],
    *,
    filename: str,
    layout: Layout | None = None,
    encoding: str | None = None,
    now: dt.datetime | None = None,
) -> CardImportJob:
    """Store the upload under the tenant's own key and queue its import; the job says how it goes."""
    now = now or timezone.now()
    key = f"{tenant_connection().schema_name}/card-imports/{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.dat"
    target = storage.export_storage()
    size = target.save_stream(key, chunks)
    try:
        with transaction.atomic():
            job = CardImportJob.objects.create(
                requested_by=actor.username,
                requested_at=now,
                filename=filename[:255],
                file_key=key,
                file_format=layout or "",
                encoding=encoding or "",
            )
            oplog.record(
                actor,
                "cards.import_request",
                f"card import {job.pk}",
                {"filename": filename[:200], "bytes": size},
            )
            queue_on_commit("booking.run_card_import", job.pk)
    except BaseException:
        target.delete(key)
        raise
    return job


def run_import_job(job_id: int, *, today: dt.date | None = None) -> CardImportJob:
    """Check and import the job's file, all or nothing; the job records the outcome and every problem."""
    return runner.run(CARD_IMPORTS, job_id, partial(_import, today=today or timezone.localdate()))


def _import(job: CardImportJob, *, today: dt.date) -> None:
    try:
        with storage.export_storage().open(job.file_key) as stored:
            parsed = parse_card_file(
                stored.read(),
                today=today,
                layout=Layout(job.file_format) if job.file_format else None,
                encoding=job.encoding or None,
            )
        total = len(parsed.rows)
        CardImportJob.objects.filter(pk=job.pk).update(
            file_format=parsed.layout, encoding=parsed.encoding, rows_total=total
        )
        publish_progress(job.pk, 0, total)
        with transaction.atomic():
            result = do_import_cards(
                parsed.rows,
                actor=job.requested_by,
                note=notes.import_note(LAYOUT_NAMES[parsed.layout], job.pk),
                job=job,
                progress=lambda done, _total: publish_progress(job.pk, done, total),
            )
            runner.finish(
                CARD_IMPORTS,
                job,
                rows_done=total,
                created=result.new,
                unchanged=result.unchanged,
                problems=kept_problems(result.differing),
            )
            oplog.record(
                oplog.WORKER,
                "cards.import_done",
                f"card import {job.pk}",
                {"created": result.new, "unchanged": result.unchanged, "differing": len(result.differing)},
            )
    except CardImportError as exc:
        raise JobFailed(_failure(exc.problems)) from exc
    publish_progress(job.pk, total, total)


def do_fail_lost_import_jobs(now: dt.datetime | None = None) -> int:
    """Close the jobs whose worker died and delete their uploaded files (residents' personal data).

    Nothing of such a job was imported: the import is one transaction, rolled back with the worker.
    """
    return runner.sweep(CARD_IMPORTS, now)
