"""Slots (capacity, kept by triggers), bookings, their events and holds."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from booking.models.cards import Card
from booking.models.places import Place, Service


class Slot(models.Model):
    """One bookable time at a place for a service, made when first needed.

    `taken` counts confirmed bookings and live holds. Database triggers keep it in step with the
    booking and hold tables, and the check constraint refuses any write that would put more people in
    the slot than its capacity (BK-09): the database, not Python, keeps the invariant.
    """

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="slots")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField("開始")
    ends_at = models.DateTimeField("終了")
    capacity = models.PositiveSmallIntegerField("定員")
    taken = models.PositiveSmallIntegerField("予約済み", default=0)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = "予約枠"
        indexes = [models.Index(fields=["starts_at"], name="slot_starts_at")]
        constraints = [
            models.UniqueConstraint(fields=["place", "service", "starts_at"], name="slot_unique_start"),
            models.CheckConstraint(condition=Q(taken__lte=F("capacity")), name="slot_taken_within_capacity"),
            models.CheckConstraint(condition=Q(taken__gte=0), name="slot_taken_not_negative"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.place} {self.starts_at:%Y-%m-%d %H:%M}"


class Booking(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("予約済み")
        CANCELLED = "cancelled", _("取消済み")

    class Channel(models.TextChoices):
        WEB = "web", _("ウェブ")
        PHONE = "phone", _("電話")

    class Outcome(models.TextChoices):
        VISITED = "visited", _("来庁（交付済み）")
        NO_SHOW = "no_show", _("来庁なし")

    class Language(models.TextChoices):
        JA = "ja", _("日本語")
        EN = "en", _("英語")

    # A card's booking (card issuance), or a caller's visit for a phone-only service: then only the name in
    # kana and a phone number identify it (BK-06, BK-11).
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="bookings", null=True, blank=True)
    caller_name_kana = models.CharField("来庁者氏名（カナ）", max_length=100, blank=True, db_default="")
    # No index of its own: booking_slot_status (slot, status) below serves every lookup by slot, and a
    # second index on the column only cost each booking an insertion (issue 12, migration 0025).
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings", db_index=False)
    status = models.CharField("状態", max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    channel = models.CharField("受付経路", max_length=8, choices=Channel.choices, default=Channel.WEB)
    contact_phone = models.CharField("電話番号", max_length=20, blank=True)
    contact_email = models.EmailField("メールアドレス", blank=True)
    created_at = models.DateTimeField("予約日時", auto_now_add=True)
    changed_at = models.DateTimeField("変更日時", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消日時", null=True, blank=True)
    reminder_sent_at = models.DateTimeField("リマインド送信日時", null=True, blank=True)
    # At the counter: arrival, then the end of the visit (the card handed over, or nobody came).
    checked_in_at = models.DateTimeField("受付日時", null=True, blank=True)
    outcome = models.CharField(
        "来庁結果", max_length=8, choices=Outcome.choices, blank=True, default="", db_default=""
    )
    outcome_at = models.DateTimeField("来庁結果の記録日時", null=True, blank=True)
    outcome_by = models.CharField("来庁結果の記録者", max_length=150, blank=True, default="", db_default="")
    # The language the person used when booking (web: the page's; phone: the operator's choice); every mail
    # about the booking is written in it.
    language = models.CharField(
        "言語", max_length=2, choices=Language.choices, default=Language.JA, db_default=Language.JA
    )

    class Meta:
        ordering = ["slot__starts_at"]
        verbose_name = "予約"
        constraints = [
            # One active booking per card (BK-09).
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(status="confirmed", outcome=""),
                name="booking_one_active_per_card",
            ),
            # A visit's outcome ends a confirmed booking; a cancelled one has none.
            models.CheckConstraint(
                condition=Q(outcome="") | Q(status="confirmed", outcome__in=["visited", "no_show"]),
                name="booking_outcome_of_confirmed",
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False) | Q(status="confirmed"),
                name="booking_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(card__isnull=False) | (~Q(caller_name_kana="") & ~Q(contact_phone="")),
                name="booking_identifies_a_person",
            ),
            models.CheckConstraint(condition=Q(language__in=["ja", "en"]), name="booking_language_known"),
        ]
        indexes = [
            models.Index(fields=["slot", "status"], name="booking_slot_status"),
            models.Index(fields=["created_at"], name="booking_created"),
            models.Index(
                fields=["caller_name_kana"],
                name="booking_caller_kana_prefix",
                opclasses=["varchar_pattern_ops"],
                condition=Q(card__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card or self.caller_name_kana} {self.slot}"

    @property
    def name_kana(self) -> str:
        return whom_kana(self.card.name_kana if self.card else None, self.caller_name_kana)


def whom_kana(card_name_kana: str | None, caller_name_kana: str) -> str:
    """Whom a booking is for: the card holder (None: the booking has no card), or the caller of a phone-only
    service. A function of its own for the lists that read bookings as values, not models."""
    return caller_name_kana if card_name_kana is None else card_name_kana


class BookingEvent(models.Model):
    """What happened to a booking, by whom and through which channel: the history staff see (AD-08)."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("予約")
        CHANGED = "changed", _("変更")
        CANCELLED = "cancelled", _("取消")

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("日時")
    kind = models.CharField("内容", max_length=12, choices=Kind.choices)
    channel = models.CharField("経路", max_length=8, choices=Booking.Channel.choices)
    actor = models.CharField("操作者", max_length=150, blank=True, help_text="職員のユーザーID。空欄は本人")
    from_slot = models.ForeignKey(Slot, on_delete=models.PROTECT, null=True, related_name="+")
    to_slot = models.ForeignKey(Slot, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "予約の履歴"

    def __str__(self) -> str:
        return f"{self.booking_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Hold(models.Model):
    """A time held for a person while they fill in and confirm (counts against capacity until it expires)."""

    card = models.OneToOneField(Card, on_delete=models.CASCADE, related_name="hold")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="holds")
    expires_at = models.DateTimeField("期限")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "仮押さえ"
        indexes = [models.Index(fields=["expires_at"], name="hold_expires")]

    def __str__(self) -> str:
        return f"{self.card} {self.slot} until {self.expires_at:%H:%M}"
