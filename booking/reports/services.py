"""Sending the reports, each once, to the tenant's report addresses.

Each report has one `Report` row per period. Sending locks that row and marks it sent in the same
transaction as the mail goes out, so two workers (a beat run and a retry, or two beats) send one mail
between them, and a failed send leaves the row unsent, with its error, for the retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from booking.engine.queries import booking_rules
from booking.lib.dates import TOKYO
from booking.models import Report
from booking.reports.days import (
    DAILY_REPORT_TIME,
    is_operating_day,
    latest_due_day,
    next_month,
    previous_month,
    start_of,
)
from booking.reports.formatting import monthly_csv_bytes, monthly_csv_stem
from booking.reports.mail import render_daily, render_monthly
from booking.reports.queries import daily_figures, monthly_figures
from tenants.db import tenant_connection

logger = logging.getLogger(__name__)

# A daily report that failed on all its retries is tried again by the next runs for this many days.
CATCH_UP_DAYS = 7
MAIL_LANGUAGE = "ja"
MAX_ERROR_CHARS = 2000
# The report's row stays locked while the mail is handed over: never wait on a silent SMTP server for ever.
MAIL_TIMEOUT_SECONDS = 60
ADDRESS_SEPARATORS = re.compile(r"[\r\n,;、，；]+")


def report_recipients() -> list[str]:
    """The tenant's report addresses (one a line; commas tolerated). A word that is not an address is
    skipped and logged rather than failing the whole report."""
    found: list[str] = []
    for part in ADDRESS_SEPARATORS.split(booking_rules().report_emails):
        word = part.strip()
        if not word:
            continue
        try:
            validate_email(word)
        except ValidationError:
            logger.warning(
                "report address skipped (not an e-mail address) in schema %s", tenant_connection().schema_name
            )
            continue
        if word.lower() not in {address.lower() for address in found}:
            found.append(word)
    return found


def _mail_connection() -> Any:
    """The configured backend, with a bounded timeout unless EMAIL_TIMEOUT sets one."""
    return get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or MAIL_TIMEOUT_SECONDS)


def _send_once(period: str, starts_on: dt.date, message: EmailMessage, now: dt.datetime) -> bool:
    """Send `message` unless the period's report has been sent.

    The Report row is locked, marked sent and the mail handed to the backend in one transaction: a
    concurrent sender waits for the lock and then sees it sent; if the backend raises, the mark is rolled
    back and the attempt and its error are recorded in a short transaction of their own for the retry.
    """
    Report.objects.get_or_create(period=period, starts_on=starts_on)
    try:
        with transaction.atomic():
            report = Report.objects.select_for_update().get(period=period, starts_on=starts_on)
            if report.sent_at is not None:
                return False
            report.attempts += 1
            report.sent_at = now
            report.save(update_fields=["attempts", "sent_at"])
            message.send()
    except Exception as error:
        Report.objects.filter(period=period, starts_on=starts_on, sent_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        )
        raise
    return True


def do_send_daily_report(day: dt.date, now: dt.datetime | None = None) -> bool:
    """Mail `day`'s report to the tenant's addresses, once. False when not sent: not an operating day,
    not yet due, no addresses, or already sent. Raises when the mail backend fails (Celery retries)."""
    now = now or timezone.now()
    if not is_operating_day(day) or now < dt.datetime.combine(day, DAILY_REPORT_TIME, tzinfo=TOKYO):
        return False
    recipients = report_recipients()
    if not recipients:
        return False
    with translation.override(MAIL_LANGUAGE):
        subject, text = render_daily(daily_figures(day))
    message = EmailMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=_mail_connection(),
    )
    return _send_once(Report.Period.DAY, day, message, now)


def do_send_due_daily_reports(now: dt.datetime | None = None) -> int:
    """The beat's daily run: the latest due day, and any recent day whose every retry failed.

    Every day is tried even if one fails; the first failure is raised afterwards so that Celery retries
    the run (days already sent are skipped then)."""
    now = now or timezone.now()
    due = latest_due_day(now)
    failed = Report.objects.filter(
        period=Report.Period.DAY,
        sent_at__isnull=True,
        attempts__gt=0,
        starts_on__gte=due - dt.timedelta(days=CATCH_UP_DAYS),
        starts_on__lt=due,
    ).values_list("starts_on", flat=True)
    sent = 0
    failure: Exception | None = None
    for day in sorted({*failed, due}):
        try:
            sent += do_send_daily_report(day, now)
        except Exception as error:
            logger.exception("daily report of %s failed in schema %s", day, tenant_connection().schema_name)
            failure = failure or error
    if failure is not None:
        raise failure
    return sent


def do_send_monthly_report(year: int, month: int, now: dt.datetime | None = None) -> bool:
    """Mail the month's report (text, HTML with the chart, the CSV attached) once, after the month ended."""
    now = now or timezone.now()
    if now < start_of(next_month(year, month)):
        return False
    recipients = report_recipients()
    if not recipients:
        return False
    with translation.override(MAIL_LANGUAGE):
        figures = monthly_figures(year, month)
        subject, text, html = render_monthly(figures)
        attachment = (f"{monthly_csv_stem(figures)}.csv", monthly_csv_bytes(figures, "utf-8-sig"))
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=_mail_connection(),
    )
    message.attach_alternative(html, "text/html")
    message.attach(attachment[0], attachment[1], "text/csv")
    return _send_once(Report.Period.MONTH, dt.date(year, month, 1), message, now)


def do_send_previous_monthly_report(now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return do_send_monthly_report(*previous_month(now), now=now)
