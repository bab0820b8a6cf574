"""Full-export jobs (SO-16)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    """A full export of the tenant's data (SO-16): made in the background, downloadable for a while."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("待機中")
        RUNNING = "running", _("作成中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    requested_by = models.CharField("依頼者", max_length=150)
    requested_at = models.DateTimeField("依頼日時")
    status = models.CharField("状態", max_length=10, choices=Status.choices, default=Status.QUEUED)
    key = models.CharField("保存先", max_length=300, blank=True)
    finished_at = models.DateTimeField("完了日時", null=True, blank=True)
    expires_at = models.DateTimeField("ダウンロード期限", null=True, blank=True)
    size = models.BigIntegerField("サイズ（バイト）", default=0)
    rows = models.JSONField("件数", default=dict)
    error = models.TextField("エラー", blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = "全データ出力"

    def __str__(self) -> str:
        return f"export {self.pk} {self.status}"
