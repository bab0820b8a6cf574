"""The mail outbox (issue 11): each mail to a resident is a row written in the transaction of the change it
tells about, so a booking and its mail are committed together or not at all; a relay sends the rows later
(`booking/engine/outbox.py`). A Redis or SMTP outage delays a mail, it never loses one."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models.bookings import Booking


class OutboxMail(models.Model):
    class Kind(models.TextChoices):
        BOOKED = "booked", _("予約確認")
        CHANGED = "changed", _("予約変更")
        CANCELLED = "cancelled", _("予約取消")
        REMINDER = "reminder", _("前日のお知らせ")

    class Status(models.TextChoices):
        PENDING = "pending", _("送信待ち")
        SENDING = "sending", _("送信中")
        SENT = "sent", _("送信済み")
        # Nothing to send any more: the booking lost its address, or changed state before the mail went out
        # (a booking cancelled before its confirmation gets only the cancellation).
        SKIPPED = "skipped", _("送信不要")
        FAILED = "failed", _("送信失敗")

    # A mail about a booking is written from the booking when it is sent (its current address, the tenant's
    # current wording); `recipient` is for a mail that has no booking. One of the two is always there.
    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="outbox_mails", null=True, blank=True
    )
    recipient = models.EmailField("宛先", blank=True, default="")
    kind = models.CharField("種類", max_length=12, choices=Kind.choices)
    language = models.CharField(
        "言語", max_length=2, choices=Booking.Language.choices, default=Booking.Language.JA
    )
    status = models.CharField("状態", max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("送信試行回数", default=0)
    # When the relay may (re)try: now for a new mail, later after an error, the end of the claim while a
    # worker sends it (a worker that died leaves the row to be taken again then).
    next_attempt_at = models.DateTimeField("次の送信予定", default=timezone.now)
    # The error's kind and SMTP code only: the message of an SMTP error may name the address.
    last_error = models.CharField("最後のエラー", max_length=200, blank=True, default="")
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    sent_at = models.DateTimeField("送信日時", null=True, blank=True)

    class Meta:
        verbose_name = "送信待ちメール"
        indexes = [
            # The relay's query: the due rows still to send, oldest first; sent rows are not in the index.
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due",
                condition=Q(status__in=["pending", "sending"]),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(booking__isnull=False) | ~Q(recipient=""), name="outbox_has_recipient"
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                name="outbox_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} #{self.pk}"
