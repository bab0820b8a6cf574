"""The call center's log of calls (CC-05)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CallLogEntry(models.Model):
    """One call the call center took, by kind (CC-05): one click per call."""

    class Kind(models.TextChoices):
        NEW_BOOKING = "new_booking", _("新規予約")
        CHANGE = "change", _("変更・取消")
        QUESTION = "question", _("問い合わせ")
        OTHER = "other", _("その他")

    at = models.DateTimeField("日時", db_index=True)
    kind = models.CharField("種別", max_length=12, choices=Kind.choices)
    operator = models.CharField("オペレーター", max_length=150)

    class Meta:
        ordering = ["-at"]
        verbose_name = "受電記録"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"
