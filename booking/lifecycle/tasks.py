"""The card lifecycle's background work (AD-03): card-data imports and notice-letter print runs."""

from __future__ import annotations

from celery import shared_task

from booking.audit import oplog
from booking.lifecycle import intake_job, notices


@shared_task(name="booking.run_card_import")
def run_card_import(job_id: int) -> None:
    """A J-LIS / CARDS.csv upload from the staff console: checked and imported, all or nothing."""
    intake_job.run_import_job(job_id)


@shared_task(name="booking.fail_lost_card_imports")
def fail_lost_card_imports() -> int:
    """Card-data uploads hold personal data: a job whose worker died is closed and its file deleted."""
    return intake_job.do_fail_lost_import_jobs()


@shared_task(name="booking.run_notice_print")
def run_notice_print(run_id: int, card_ids: list[int], actor: list[object]) -> None:
    """A print run asked for on the staff console; `actor` is [user id, username, address] of who asked."""
    user_id, username, address = actor
    notices.run_notice_job(
        run_id, card_ids, oplog.Actor(int(str(user_id)) if user_id else None, str(username), str(address))
    )


@shared_task(name="booking.delete_expired_notice_files")
def delete_expired_notice_files() -> int:
    """The letters' files hold passwords: deleted once expired (hourly, from beat)."""
    return notices.do_delete_expired_notice_files()
