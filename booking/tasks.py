"""Celery tasks of the booking domain; each runs in its tenant's schema (tenant-schemas-celery)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from booking import notifications, services
from booking.models import Booking


@shared_task(
    name="booking.send_booking_confirmation", autoretry_for=(OSError,), retry_backoff=30, max_retries=5
)
def send_booking_confirmation(booking_id: int) -> None:
    booking = Booking.objects.select_related("slot__place").filter(pk=booking_id).first()
    if booking is not None:
        notifications.send_confirmation(booking)


@shared_task(name="booking.send_day_before_reminders")
def send_day_before_reminders() -> int:
    sent = 0
    for booking in notifications.reminders_due():
        # Marked before sending: a crash between the two loses one reminder rather than sending it twice.
        services.do_mark_reminded([booking.pk], timezone.now())
        notifications.send_reminder(booking)
        sent += 1
    return sent


@shared_task(name="booking.release_expired_holds")
def release_expired_holds() -> int:
    return services.do_release_expired_holds()
