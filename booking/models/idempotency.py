"""The answers kept for repeated booking writes (issue 11): an API request's Idempotency-Key, or the one-time
token of a web form, with the answer its first request got, so a retry gets that answer again and never
writes twice."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotentRequest(models.Model):
    """One booking write done under a key. The row is inserted in the write's own transaction, before the
    write, so a concurrent duplicate waits on the unique (scope, key) until the first commits (or rolls back,
    taking its row with it): a committed row always holds the answer of a committed write."""

    # Whose key: "card:<pk>" (a resident, API or web) or "staff:<pk>" (an operator); one client's key never
    # names another's answer.
    scope = models.CharField("範囲", max_length=64)
    key = models.CharField("キー", max_length=255)
    # sha256 of method, path and the request body: the same key with another request is refused, not replayed
    fingerprint = models.CharField("リクエストの指紋", max_length=64)
    status_code = models.PositiveSmallIntegerField("ステータス")
    # What the first answer showed its owner (the API's JSON, or the booking a web form made), nothing more.
    body = models.JSONField("応答", null=True, blank=True)
    redirect_to = models.CharField("移動先", max_length=500, blank=True)
    created_at = models.DateTimeField("作成日時", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "冪等キー"
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="booking_idempotency_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:16]}"
