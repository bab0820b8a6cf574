"""The one runner of background jobs (a card import, a notice print run, a full export), whatever their kind.

A job moves queued → running → done or failed, and nothing else moves it: `run` claims a queued job and runs
the product's work, which ends with `finish` in its own transaction; a failure (`JobFailed`, or anything
unexpected) becomes `fail`. The job's files live in the export storage (`integrations.storage`), named by the
kind's file fields: they are deleted when a job fails, when it is found lost (`close_lost`: its worker died,
nothing but this sweep would ever close it), and once they expire (`delete_expired_files`). Beat runs `sweep`
for each kind (the task names and schedule of platform/madoguchi/settings.py).

While a job runs its work is one transaction no other connection sees, so it publishes its figures to the
cache (`publish`, `published`; see booking.jobs.progress).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from booking.jobs import progress
from booking.jobs.kinds import Failure, J, JobFailed, JobKind, Reason
from booking.models import JobStatus
from integrations import storage

OPEN = (JobStatus.QUEUED, JobStatus.RUNNING)


def run(
    kind: JobKind[J],
    job_id: int,
    work: Callable[[J], None],
    *,
    claim: Callable[[J], Mapping[str, object]] | None = None,
) -> J:
    """The worker's part: claim the queued job, do `work(job)`, and record how it went; the job as it ends.

    `claim(job)` gives fields written with the move to running, before any work: the names of the files the
    job will write, so that a worker killed midway leaves files the lost-job sweep finds. `work` ends with
    `finish` in its transaction. `JobFailed` from it fails the job with its reason; any other exception fails
    it as unexpected and is raised again for the worker's log (the job is closed: the task is not retried).
    """
    job = kind.rows().get(pk=job_id)
    fields = dict(claim(job)) if claim else {}
    # One conditional UPDATE: a retried delivery of the task, or a second worker, finds the job taken.
    queued = kind.rows().filter(pk=job.pk, status=JobStatus.QUEUED)
    if not queued.update(status=JobStatus.RUNNING, **fields):
        return job
    for name, value in {"status": JobStatus.RUNNING, **fields}.items():
        setattr(job, name, value)
    try:
        work(job)
    except JobFailed as failed:
        fail(kind, job.pk, failed.failure)
    except Exception as exc:
        fail(kind, job.pk, kind.failure(Reason(kind.unexpected, f"unexpected error: {type(exc).__name__}")))
        raise
    finally:
        if kind.files_live is None:  # the files were the job's input: gone whatever happened
            discard_files(kind, job.pk)
    job.refresh_from_db()
    return job


def finish(kind: JobKind[J], job: J, **fields: object) -> None:
    """Running → done with the job's own figures (`fields`); call it inside the transaction of the work.

    The files' download deadline follows from the kind. A job closed meanwhile (found lost) fails the work
    with JobFailed, so that its transaction rolls back rather than finishing a job whose files are gone.
    """
    finished = timezone.now()
    if kind.files_live is not None:
        fields["expires_at"] = finished + kind.files_live
    done = (
        kind.rows()
        .filter(pk=job.pk, status=JobStatus.RUNNING)
        .update(status=JobStatus.DONE, finished_at=finished, error="", **fields)
    )
    if not done:
        raise JobFailed(kind.failure(kind.interrupted))


def fail(kind: JobKind[Any], job_id: int, failure: Failure, *, lost: bool = False) -> bool:
    """An open job → failed, its files deleted, with the worker's operation-log entry, in one transaction.

    False when the job had ended meanwhile (it is left as it is). The files go before the commit: should it
    fail, the row still names files that are gone, which the pages answer as expired, rather than files with
    personal data that nothing points to.
    """
    with transaction.atomic():
        row = kind.rows().select_for_update().filter(pk=job_id, status__in=OPEN).values(*kind.file_fields)
        found = row.first()
        if found is None:
            return False
        _delete(found.values())
        kind.rows().filter(pk=job_id).update(
            status=JobStatus.FAILED,
            error=failure.error,
            finished_at=timezone.now(),
            **dict.fromkeys(kind.file_fields, ""),
            **failure.fields,
        )
        action = (kind.lost_action or kind.failed_action) if lost else kind.failed_action
        kind.log(action, kind.target_of(job_id), dict(failure.detail))
    return True


def discard_files(kind: JobKind[Any], job_id: int, **fields: object) -> bool:
    """Delete a job's stored files and forget their names (with `fields`), whatever the job's status; False
    when it had none left (deleted before, or never made)."""
    with transaction.atomic():
        found = kind.rows().select_for_update().filter(pk=job_id).values(*kind.file_fields).first()
        if found is None:
            return False
        _delete(found.values())
        kind.rows().filter(pk=job_id).update(**dict.fromkeys(kind.file_fields, ""), **fields)
        return any(found.values())


def close_lost(kind: JobKind[Any], now: dt.datetime | None = None) -> int:
    """Fail the jobs still open `kind.lost_after` after they were asked for, delete their files; the count.

    Their worker died (a deploy, an out-of-memory kill): nothing of their work was committed, since the work
    is one transaction, but their rows would say "running" for ever and their files would stay.
    """
    now = now or timezone.now()
    lost = kind.rows().filter(status__in=OPEN, requested_at__lt=now - kind.lost_after)
    failure = kind.failure(kind.interrupted)
    return sum(fail(kind, pk, failure, lost=True) for pk in list(lost.values_list("pk", flat=True)))


def delete_expired_files(kind: JobKind[Any], now: dt.datetime | None = None) -> int:
    """Delete the files of finished jobs whose download deadline has passed; the number of jobs."""
    if kind.files_live is None:
        return 0
    now = now or timezone.now()
    expired = (
        kind.rows()
        .filter(status=JobStatus.DONE, expires_at__lte=now)
        .exclude(**dict.fromkeys(kind.file_fields, ""))
    )
    ids = list(expired.values_list("pk", flat=True))
    for pk in ids:
        discard_files(kind, pk)
    return len(ids)


def sweep(kind: JobKind[Any], now: dt.datetime | None = None) -> int:
    """The periodic clean-up of a kind: expired files, then lost jobs; how many jobs it touched."""
    return delete_expired_files(kind, now) + close_lost(kind, now)


def publish(kind: JobKind[Any], job_id: int, figures: object) -> None:
    """How far the running job has got, for its page (a courtesy: a cache outage fails nothing)."""
    progress.publish(kind.name, job_id, figures)


def published(kind: JobKind[Any], job_id: int, status: str) -> Any:
    """The figures the job last published, while its `status` says it runs; None once it has ended (its row
    then says how far it got) or if there are none."""
    if status != JobStatus.RUNNING:
        return None
    return progress.published(kind.name, job_id)


def _delete(keys: Iterable[object]) -> None:
    target = storage.export_storage()
    for key in keys:
        if key:
            target.delete(str(key))
