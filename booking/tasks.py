"""Celery tasks of the booking domain; each runs in its tenant's schema (tenant-schemas-celery)."""

from __future__ import annotations

from celery import shared_task

from booking import notifications, services
from booking.models import Booking
from booking.staff import full_export, oplog


@shared_task(
    name="booking.send_booking_confirmation", autoretry_for=(OSError,), retry_backoff=30, max_retries=5
)
def send_booking_confirmation(booking_id: int) -> None:
    booking = Booking.objects.select_related("slot__place").filter(pk=booking_id).first()
    if booking is not None:
        notifications.send_confirmation(booking)


@shared_task(name="booking.send_day_before_reminders")
def send_day_before_reminders() -> int:
    return notifications.do_send_day_before_reminders()


@shared_task(name="booking.purge_operation_log")
def purge_operation_log() -> int:
    return oplog.purge_expired()


@shared_task(name="booking.run_full_export")
def run_full_export(job_id: int) -> None:
    full_export.run(job_id)


@shared_task(name="booking.run_card_import")
def run_card_import(job_id: int) -> None:
    """A J-LIS / CARDS.csv upload from the staff console (AD-03): checked and imported, all or nothing."""
    from booking import card_import  # imported here, as in the report tasks below

    card_import.run_import_job(job_id)


@shared_task(name="booking.delete_expired_exports")
def delete_expired_exports() -> int:
    return full_export.do_delete_expired_exports()


# --- notice letters (AD-03) -------------------------------------------------------------------------------


@shared_task(name="booking.run_notice_print")
def run_notice_print(run_id: int, card_ids: list[int], actor: list[object]) -> None:
    """A print run asked for on the staff console; `actor` is [user id, username, address] of who asked."""
    from booking.lifecycle import notices  # imported here, as in the report tasks below

    user_id, username, address = actor
    notices.run_notice_job(
        run_id, card_ids, oplog.Actor(int(str(user_id)) if user_id else None, str(username), str(address))
    )


@shared_task(name="booking.delete_expired_notice_files")
def delete_expired_notice_files() -> int:
    """The letters' files hold passwords: deleted once expired (hourly, from beat)."""
    from booking.lifecycle import notices

    return notices.do_delete_expired_notice_files()


@shared_task(name="booking.fail_lost_card_imports")
def fail_lost_card_imports() -> int:
    """Card-data uploads hold personal data: a job whose worker died is closed and its file deleted."""
    from booking import card_import

    return card_import.do_fail_lost_import_jobs()


@shared_task(name="booking.release_expired_holds")
def release_expired_holds() -> int:
    return services.do_release_expired_holds()


# --- reports (CC-05) -------------------------------------------------------------------------------------
# Any failure is retried (SMTP refusals are not all OSErrors); the Report row makes a retry send once.


@shared_task(name="booking.send_daily_report", autoretry_for=(Exception,), retry_backoff=60, max_retries=5)
def send_daily_report(day: str | None = None) -> int:
    """The beat's run (no `day`): the day that just ended, and recent days whose retries all failed.
    With `day` (YYYY-MM-DD), that day only: for sending a missed day by hand; a sent day is never resent."""
    import datetime as dt  # imports here: appended to a module whose header other work owns

    from booking import reports

    if day:
        return int(reports.do_send_daily_report(dt.date.fromisoformat(day)))
    return reports.do_send_due_daily_reports()


@shared_task(name="booking.send_monthly_report", autoretry_for=(Exception,), retry_backoff=60, max_retries=5)
def send_monthly_report() -> bool:
    from booking import reports

    return reports.do_send_previous_monthly_report()
