"""Background work of the booking engine; each task runs in its tenant's schema (tenant-schemas-celery).
Tasks are thin callers of services; services queue them by name (`booking.jobs.enqueue`)."""

from __future__ import annotations

from celery import shared_task

from booking.engine import notifications, services
from booking.models import Booking


@shared_task(
    name="booking.send_booking_confirmation", autoretry_for=(OSError,), retry_backoff=30, max_retries=5
)
def send_booking_confirmation(booking_id: int, kind: str = notifications.BOOKED) -> None:
    """The mail about a booking made, changed or cancelled (`kind`); the task keeps its first name, a wire
    format, and a message queued before `kind` existed is a confirmation."""
    booking = Booking.objects.select_related("slot__place").filter(pk=booking_id).first()
    if booking is not None and kind in notifications.MAIL_KINDS:
        notifications.send_booking_mail(booking, kind)


@shared_task(name="booking.send_day_before_reminders")
def send_day_before_reminders() -> int:
    return notifications.do_send_day_before_reminders()


@shared_task(name="booking.release_expired_holds")
def release_expired_holds() -> int:
    return services.do_release_expired_holds()
