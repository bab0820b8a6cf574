"""The operation log's retention purge (daily) and its checkpoints (every 5 minutes), from beat, in each
tenant's schema."""

from __future__ import annotations

from celery import shared_task

from booking.audit import oplog


@shared_task(name="booking.purge_operation_log")
def purge_operation_log() -> int:
    return oplog.purge_expired()


@shared_task(name="booking.checkpoint_operation_log")
def checkpoint_operation_log() -> int | None:
    return oplog.checkpoint()
