"""The full export's background work (SO-16), in each tenant's schema."""

from __future__ import annotations

from celery import shared_task

from booking.exports import full_export


@shared_task(name="booking.run_full_export")
def run_full_export(job_id: int) -> None:
    full_export.run(job_id)


@shared_task(name="booking.delete_expired_exports")
def delete_expired_exports() -> int:
    return full_export.do_delete_expired_exports()
