"""The full export of a tenant's data (SO-16): one CSV per kind in a zip, streamed into the export
storage (S3-compatible, or a local folder) so memory stays flat however many rows there are.

The columns of every file are documented in docs/formats/full-export.md; keep the two in step. An export is
a kind of `booking.jobs` job (`EXPORTS`): the runner moves it, deletes its zip once the download expires, and
closes an export whose worker died.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from booking.audit import oplog
from booking.jobs import runner
from booking.jobs.enqueue import queue_on_commit
from booking.jobs.kinds import JobKind, Reason
from booking.lib.dates import TOKYO
from booking.models import (
    AllowedNetwork,
    Booking,
    BookingEvent,
    BookingSettings,
    Card,
    CardEvent,
    ClosedDay,
    ExportJob,
    OpeningPattern,
    OperationLogEntry,
    Place,
    Service,
    StaffProfile,
)
from integrations import csv_export, storage
from tenants.db import tenant_connection

DOWNLOAD_DAYS = 7
CHUNK = 2000

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


@dataclass(frozen=True)
class Kind:
    filename: str
    header: list[str]
    rows: Callable[[], Iterable[list[object]]]


def _each(queryset: QuerySet[Any], row: Callable[[Any], list[object]]) -> Iterator[list[object]]:
    for item in queryset.iterator(chunk_size=CHUNK):
        yield row(item)


def kinds() -> list[Kind]:
    return [
        Kind(
            "services.csv",
            ["code", "name", "name_en", "web_bookable", "needs_reservation_number"],
            lambda: _each(
                Service.objects.order_by("pk"),
                lambda s: [s.code, s.name, s.name_en, s.web_bookable, s.needs_reservation_number],
            ),
        ),
        Kind(
            "places.csv",
            [
                "code",
                "name",
                "name_en",
                "kind",
                "address",
                "starts_on",
                "ends_on",
                "bookable_from",
                "bookable_until",
                "display_order",
            ],
            lambda: _each(
                Place.objects.order_by("pk"),
                lambda p: [
                    p.code,
                    p.name,
                    p.name_en,
                    p.kind,
                    p.address,
                    p.starts_on,
                    p.ends_on,
                    p.bookable_from,
                    p.bookable_until,
                    p.display_order,
                ],
            ),
        ),
        Kind(
            "opening_patterns.csv",
            [
                "place",
                "service",
                "weekdays",
                "opens_at",
                "closes_at",
                "last_reception_at",
                "slot_minutes",
                "capacity",
            ],
            lambda: _each(
                OpeningPattern.objects.select_related("place", "service").order_by("pk"),
                lambda o: [
                    o.place.code,
                    o.service.code,
                    " ".join(str(d) for d in o.weekdays),
                    o.opens_at,
                    o.closes_at,
                    o.last_reception_at,
                    o.slot_minutes,
                    o.capacity,
                ],
            ),
        ),
        Kind(
            "closed_days.csv",
            ["date", "place", "reason"],
            lambda: _each(
                ClosedDay.objects.select_related("place").order_by("date"),
                lambda c: [c.date, c.place.code if c.place else "", c.reason],
            ),
        ),
        Kind(
            "booking_settings.csv",
            [
                "first_days_ahead",
                "bookable_until",
                "deadline_days_before",
                "deadline_time",
                "hold_minutes",
                "phone_requirement",
                "email_requirement",
                "text_top",
                "text_bring",
                "text_done",
                "confirmation_mail_text",
                "reminder_mail_text",
                "text_top_en",
                "text_bring_en",
                "text_done_en",
                "confirmation_mail_text_en",
                "reminder_mail_text_en",
            ],
            lambda: _each(
                BookingSettings.objects.all(),
                lambda b: [
                    b.first_days_ahead,
                    b.bookable_until,
                    b.deadline_days_before,
                    b.deadline_time,
                    b.hold_minutes,
                    b.phone_requirement,
                    b.email_requirement,
                    b.text_top,
                    b.text_bring,
                    b.text_done,
                    b.confirmation_mail_text,
                    b.reminder_mail_text,
                    b.text_top_en,
                    b.text_bring_en,
                    b.text_done_en,
                    b.confirmation_mail_text_en,
                    b.reminder_mail_text_en,
                ],
            ),
        ),
        Kind(
            "cards.csv",
            [
                "application_id",
                "reservation_number",
                "name",
                "name_kana",
                "birth_date",
                "postal_code",
                "address",
                "imported_at",
                "state",
                "state_changed_at",
                "notice_sent_on",
                "at_place",
            ],
            lambda: _each(
                Card.objects.select_related("at_place").order_by("pk"),
                lambda c: [
                    c.application_id,
                    c.reservation_number,
                    c.name,
                    c.name_kana,
                    c.birth_date,
                    c.postal_code,
                    c.address,
                    c.imported_at,
                    c.state,
                    c.state_changed_at,
                    c.notice_sent_on,
                    c.at_place.code if c.at_place else "",
                ],
            ),
        ),
        Kind(
            "card_events.csv",
            ["application_id", "at", "from_state", "to_state", "place", "actor", "note"],
            lambda: _each(
                CardEvent.objects.select_related("card", "place").order_by("pk"),
                lambda e: [
                    e.card.application_id,
                    e.at,
                    e.from_state,
                    e.to_state,
                    e.place.code if e.place else "",
                    e.actor,
                    e.note,
                ],
            ),
        ),
        Kind(
            "bookings.csv",
            [
                "booking_id",
                "application_id",
                "caller_name_kana",
                "place",
                "service",
                "start",
                "end",
                "status",
                "channel",
                "contact_phone",
                "contact_email",
                "created_at",
                "changed_at",
                "cancelled_at",
                "checked_in_at",
                "outcome",
                "outcome_at",
                "language",
            ],
            lambda: _each(
                Booking.objects.select_related("card", "slot__place", "slot__service").order_by("pk"),
                lambda b: [
                    b.pk,
                    b.card.application_id if b.card else "",
                    b.caller_name_kana,
                    b.slot.place.code,
                    b.slot.service.code,
                    b.slot.starts_at,
                    b.slot.ends_at,
                    b.status,
                    b.channel,
                    b.contact_phone,
                    b.contact_email,
                    b.created_at,
                    b.changed_at,
                    b.cancelled_at,
                    b.checked_in_at,
                    b.outcome,
                    b.outcome_at,
                    b.language,
                ],
            ),
        ),
        Kind(
            "booking_events.csv",
            [
                "booking_id",
                "at",
                "kind",
                "channel",
                "actor",
                "from_start",
                "from_place",
                "to_start",
                "to_place",
            ],
            lambda: _each(
                BookingEvent.objects.select_related("from_slot__place", "to_slot__place").order_by("pk"),
                lambda e: [
                    e.booking_id,
                    e.at,
                    e.kind,
                    e.channel,
                    e.actor,
                    e.from_slot.starts_at if e.from_slot else "",
                    e.from_slot.place.code if e.from_slot else "",
                    e.to_slot.starts_at if e.to_slot else "",
                    e.to_slot.place.code if e.to_slot else "",
                ],
            ),
        ),
        Kind(
            "staff.csv",
            ["username", "role", "active", "last_login", "password_changed_at"],
            lambda: _each(
                StaffProfile.objects.select_related("user").order_by("pk"),
                lambda s: [
                    s.user.username,
                    s.role,
                    s.user.is_active,
                    s.user.last_login,
                    s.password_changed_at,
                ],
            ),
        ),
        Kind(
            "allowed_networks.csv",
            ["network", "label"],
            lambda: _each(AllowedNetwork.objects.order_by("network"), lambda n: [n.network, n.label]),
        ),
        Kind(
            "operation_log.csv",
            [
                "seq",
                "at",
                "user_id",
                "username",
                "address",
                "action",
                "target",
                "detail",
                "previous_digest",
                "digest",
            ],
            lambda: _each(
                OperationLogEntry.objects.order_by("seq"),
                lambda e: [
                    e.seq,
                    e.at,
                    e.user_id_snapshot,
                    e.username,
                    e.address,
                    e.action,
                    e.target,
                    e.detail,
                    e.previous_digest,
                    e.digest,
                ],
            ),
        ),
    ]


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
        for kind in kinds():
            stats = csv_export.ExportStats()
            yield (
                kind.filename,
                _counted(
                    csv_export.iter_csv(kind.header, kind.rows(), "utf-8-sig", stats),
                    counts,
                    kind.filename,
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
