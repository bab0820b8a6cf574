"""Writes of the availability report (BK-08): the prober's samples, its probe cards, the outage records and
the monthly mail."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from booking import provisioning
from console import availability, vendor_log
from console.models import AvailabilityReportMail, Outage, ProbeAccount, ProbeSample
from integrations.csv_export import iter_csv
from tenants.lifecycle import in_schema_of
from tenants.models import Municipality
from tenants.queries import customer_tenants

logger = logging.getLogger(__name__)

SAMPLE_RETENTION = dt.timedelta(days=800)  # two years of reports, and a month's margin
MAIL_LANGUAGE = "ja"
MAIL_TIMEOUT_SECONDS = 60
MAX_ERROR_CHARS = 2000
PROBER = vendor_log.Actor("prober")


@dataclass(frozen=True)
class Sample:
    """One check's result, before it is written."""

    at: dt.datetime
    tenant_id: int
    ok: bool
    latency_ms: int
    reason: str = ""


def do_record_samples(samples: Iterable[Sample]) -> int:
    """Write the prober's samples (one INSERT); samples of municipalities gone meanwhile are dropped."""
    rows = list(samples)
    known = set(Municipality.objects.filter(pk__in={s.tenant_id for s in rows}).values_list("pk", flat=True))
    made = ProbeSample.objects.bulk_create(
        [
            ProbeSample(
                at=s.at,
                tenant_id=s.tenant_id,
                ok=s.ok,
                latency_ms=min(s.latency_ms, 2**31 - 1),
                reason=s.reason[:300],
            )
            for s in rows
            if s.tenant_id in known
        ]
    )
    return len(made)


def do_purge_samples(now: dt.datetime | None = None) -> int:
    deleted, _counts = ProbeSample.objects.filter(at__lt=(now or timezone.now()) - SAMPLE_RETENTION).delete()
    return deleted


def do_ensure_probe_account(tenant: Municipality, *, renew: bool = False) -> ProbeAccount:
    """The municipality's probe card, made in its schema through booking.provisioning if it has none (or
    given a new password with `renew`), its number and password kept here; one transaction, one log entry."""
    existing = ProbeAccount.objects.filter(tenant=tenant).first()
    if existing is not None and not renew:
        return existing
    with transaction.atomic():
        with in_schema_of(tenant):
            number, password = provisioning.probe_card()
        account, _created = ProbeAccount.objects.update_or_create(
            tenant=tenant, defaults={"reservation_number": number, "password": password}
        )
        vendor_log.record(PROBER, "probe.card", tenant.schema_name, renewed=existing is not None)
    return account


# --- outage records ---


def outage_problems(outage: Outage) -> dict[str, str]:
    """What is wrong with this record, field by field (empty: it may be recorded)."""
    problems: dict[str, str] = {}
    if outage.cause not in Outage.Cause.values:
        problems["cause"] = _("原因を選んでください。")
    if outage.starts_at and outage.ends_at and outage.ends_at <= outage.starts_at:
        problems["ends_at"] = _("停止終了は停止開始より後にしてください。")
    if outage.cause == Outage.Cause.MUNICIPALITY and not (outage.reference or "").strip():
        problems["reference"] = _("自治体の原因による停止には、自治体の文書・受付番号を入力してください。")
    earliest = availability.month_bounds(2000, 1)[0]
    latest = availability.month_bounds(2099, 12)[1]
    for name in ("starts_at", "ends_at"):
        # the reports' range; a year 1 start is stored as BC in UTC, and reading it back breaks every report
        value = getattr(outage, name)
        if value and not earliest <= value <= latest:
            problems.setdefault(name, _("日時は2000年から2099年までの間で入力してください。"))
    if outage.starts_at and outage.starts_at > timezone.now():
        problems["starts_at"] = _(
            "停止の記録には、始まった停止だけを登録できます（予定は計画停止として登録）。"
        )
    return problems


def do_record_outage(outage: Outage, *, actor: vendor_log.Actor) -> Outage:
    """Record an outage with its vendor-log entry; ValidationError({field: message}) and nothing written when
    outage_problems finds anything."""
    problems = outage_problems(outage)
    if problems:
        raise ValidationError(problems)
    outage.reference = outage.reference.strip()
    outage.recorded_by = actor.name[:150]
    outage.recorded_at = timezone.now()
    with transaction.atomic():
        outage.save()
        _log_outage(actor, "outage.record", outage)
    return outage


def _log_outage(actor: vendor_log.Actor, action: str, outage: Outage, **extra: str) -> None:
    """The vendor-log entry of an outage record: everything it says, so a withdrawn one is still known."""
    vendor_log.record(
        actor,
        action,
        f"{outage._meta.label_lower}:{outage.pk} {outage}",
        tenant=outage.tenant.schema_name,
        cause=outage.cause,
        reference=outage.reference,
        starts_at=outage.starts_at.isoformat(),
        ends_at=outage.ends_at.isoformat(),
        note=outage.note,
        **extra,
    )


def do_withdraw_outage(outage: Outage, *, actor: vendor_log.Actor) -> None:
    """Withdraw a record made in error; the vendor-log entry keeps everything it said (the log cannot be
    changed), in the same transaction."""
    with transaction.atomic():
        locked = Outage.objects.select_for_update().select_related("tenant").get(pk=outage.pk)
        _log_outage(actor, "outage.withdraw", locked, recorded_by=locked.recorded_by)
        locked.delete()


# --- the monthly mail to the municipality's report addresses ---


def report_csv_bytes(report: availability.MonthReport) -> bytes:
    return b"".join(
        iter_csv(availability.csv_header(), availability.csv_rows(report), "utf-8-sig", excel=True)
    )


def do_send_availability_report(
    tenant: Municipality, year: int, month: int, now: dt.datetime | None = None
) -> bool:
    """Mail the month's report to the municipality's report addresses, once, after the month ended. False when
    not sent: the month has not ended, no addresses, or already sent. Raises when the mail backend fails."""
    now = now or timezone.now()
    start, end = availability.month_bounds(year, month)
    if now < end or tenant.created_at >= end:  # not over yet, or not yet a customer that month
        return False
    with in_schema_of(tenant):
        recipients = provisioning.report_addresses()
    if not recipients:
        return False
    with translation.override(MAIL_LANGUAGE):
        report = availability.month_report(tenant.pk, year, month, now)
        context = {"report": report, "tenant": tenant, "target": availability.TARGET}
        subject = _("【Madoguchi】%(name)s 稼働率報告 %(month)s") % {
            "name": tenant.name,
            "month": report.label,
        }
        body = render_to_string("console/availability_mail.txt", context)
        attachment = report_csv_bytes(report)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or MAIL_TIMEOUT_SECONDS),
    )
    message.attach(f"availability-{tenant.schema_name}-{report.label}.csv", attachment, "text/csv")
    first = start.date()
    AvailabilityReportMail.objects.get_or_create(tenant=tenant, month=first)
    try:
        with transaction.atomic():
            row = AvailabilityReportMail.objects.select_for_update().get(tenant=tenant, month=first)
            if row.sent_at is not None:
                return False
            row.attempts += 1
            row.sent_at = now
            row.recipients = "\n".join(recipients)
            row.save(update_fields=["attempts", "sent_at", "recipients"])
            message.send()
    except Exception as error:
        AvailabilityReportMail.objects.filter(tenant=tenant, month=first, sent_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        )
        raise
    return True


def do_send_availability_reports(now: dt.datetime | None = None) -> int:
    """The beat's morning run (from the 1st; a later day catches up a month not yet mailed): last month's
    report to every municipality. Each is tried even if one fails;
    the first failure is raised afterwards so that Celery retries the run (those sent are skipped then)."""
    now = now or timezone.now()
    year, month = availability.previous_month(now)
    sent = 0
    failure: Exception | None = None
    for tenant in customer_tenants():
        try:
            sent += do_send_availability_report(tenant, year, month, now)
        except Exception as error:
            logger.exception(
                "availability report of %s failed for %s", f"{year}-{month:02d}", tenant.schema_name
            )
            failure = failure or error
    if failure is not None:
        raise failure
    return sent
