"""The call center's reports (CC-05), sent from beat. Any failure is retried (SMTP refusals are not all
OSErrors); the Report row makes a retry send once."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from booking.reports import services


@shared_task(name="booking.send_daily_report", autoretry_for=(Exception,), retry_backoff=60, max_retries=5)
def send_daily_report(day: str | None = None) -> int:
    """The beat's run (no `day`): the day that just ended, and recent days whose retries all failed.
    With `day` (YYYY-MM-DD), that day only: for sending a missed day by hand; a sent day is never resent."""
    if day:
        return int(services.do_send_daily_report(dt.date.fromisoformat(day)))
    return services.do_send_due_daily_reports()


@shared_task(name="booking.send_monthly_report", autoretry_for=(Exception,), retry_backoff=60, max_retries=5)
def send_monthly_report() -> bool:
    return services.do_send_previous_monthly_report()
