"""Background work of the booking engine; each task runs in its tenant's schema (tenant-schemas-celery).
Tasks are thin callers of services; services queue them by name (`booking.jobs.enqueue`)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from booking.engine import idempotency, notifications, outbox, services
from booking.models import Booking


@shared_task(name="booking.relay_mail_outbox")
def relay_mail_outbox() -> int:
    """Send the tenant's due mails (kicked after a booking commits, and by beat every minute)."""
    return outbox.do_relay_outbox()


@shared_task(name="booking.send_booking_confirmation")
def send_booking_confirmation(booking_id: int, kind: str = notifications.BOOKED) -> None:
    """A message queued before the outbox existed (the name is a wire format): its mail goes into the
    outbox and is relayed from there; a message queued before `kind` existed is a confirmation."""
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is not None and kind in notifications.MAIL_KINDS:
        with transaction.atomic():
            outbox.queue_booking_mail(booking, kind)


@shared_task(name="booking.send_day_before_reminders")
def send_day_before_reminders() -> int:
    """Queue tomorrow's reminders in the outbox, then relay them at once."""
    queued = outbox.do_queue_day_before_reminders()
    outbox.do_relay_outbox()
    return queued


@shared_task(name="booking.release_expired_holds")
def release_expired_holds() -> int:
    return services.do_release_expired_holds()


@shared_task(name="booking.purge_idempotent_requests")
def purge_idempotent_requests() -> int:
    """Forget the answers kept for repeated booking writes once they are a day old (issue 11)."""
    return idempotency.do_purge_expired()
