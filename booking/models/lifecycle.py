"""The card lifecycle's tables: each card's history, and the background jobs staff start.

Imported by booking.models so that they belong to the booking app (one schema per tenant).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from booking.rules.card_states import CardState


class CardEvent(models.Model):
    """One move of a card (or a reprint of its notice), with who made it and when (AD-03)."""

    # No index of its own: card_event_card_at (card, at) serves every lookup by card (migration 0025).
    card = models.ForeignKey("booking.Card", on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField("日時")
    from_state = models.CharField("変更前", max_length=12, choices=CardState.choices, blank=True)
    to_state = models.CharField("変更後", max_length=12, choices=CardState.choices)
    actor = models.CharField("操作者", max_length=150, blank=True, help_text="職員のユーザーID。空欄は本人")
    note = models.CharField("備考", max_length=200, blank=True)
    place = models.ForeignKey(
        "booking.Place",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="場所",
    )

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "カードの履歴"
        indexes = [models.Index(fields=["card", "at"], name="card_event_card_at")]

    def __str__(self) -> str:
        return f"{self.card_id} {self.from_state}→{self.to_state}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("待機中")
    RUNNING = "running", _("処理中")
    DONE = "done", _("完了")
    FAILED = "failed", _("失敗")


class CardImportJob(models.Model):
    """An upload of J-LIS card-creation data, checked and imported in the background with its progress."""

    requested_by = models.CharField("依頼者", max_length=150)
    requested_at = models.DateTimeField("依頼日時")
    filename = models.CharField("ファイル名", max_length=255)
    file_key = models.CharField("保存先", max_length=300, blank=True)
    file_format = models.CharField("形式", max_length=20, blank=True)
    encoding = models.CharField("文字コード", max_length=20, blank=True)
    status = models.CharField("状態", max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    rows_total = models.PositiveIntegerField("行数", default=0)
    rows_done = models.PositiveIntegerField("処理済み行数", default=0)
    created = models.PositiveIntegerField("新規", default=0)
    unchanged = models.PositiveIntegerField("変更なし", default=0)
    problems = models.JSONField("誤り", default=list)
    error = models.TextField("エラー", blank=True)
    finished_at = models.DateTimeField("完了日時", null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = "カードデータ取込"

    def __str__(self) -> str:
        return f"import {self.pk} {self.status}"


class NoticeRun(models.Model):
    """A print run of notice letters (交付通知書): the PDF and the print vendor's CSV, kept for a while.

    The files hold the cards' new passwords (the only clear copy), so they expire and are then deleted.
    """

    requested_by = models.CharField("依頼者", max_length=150)
    requested_at = models.DateTimeField("依頼日時")
    status = models.CharField("状態", max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    letters = models.PositiveIntegerField("通数", default=0)
    letters_done = models.PositiveIntegerField("作成済み", default=0)
    pdf_key = models.CharField("PDFの保存先", max_length=300, blank=True)
    csv_key = models.CharField("CSVの保存先", max_length=300, blank=True)
    finished_at = models.DateTimeField("完了日時", null=True, blank=True)
    expires_at = models.DateTimeField("ダウンロード期限", null=True, blank=True)
    error = models.TextField("エラー", blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = "交付通知書の印刷"

    def __str__(self) -> str:
        return f"notice run {self.pk} {self.status}"


class TransferConfirmation(models.Model):
    """Staff confirmed moving a counter's cards for a day from the back office (BK-13)."""

    place = models.ForeignKey("booking.Place", on_delete=models.PROTECT, related_name="+")
    day = models.DateField("来庁日")
    confirmed_at = models.DateTimeField("確定日時")
    confirmed_by = models.CharField("確定者", max_length=150)
    cards = models.PositiveIntegerField("枚数", default=0)

    class Meta:
        ordering = ["-confirmed_at"]
        verbose_name = "移送の確定"
        indexes = [models.Index(fields=["place", "day"], name="transfer_place_day")]

    def __str__(self) -> str:
        return f"{self.place_id} {self.day} ({self.cards})"
