"""The operation log and its chain's anchor (SO-14, SO-06)."""

from __future__ import annotations

from django.db import models


class OperationLogEntry(models.Model):
    """One operation on an authenticated function (SO-14), chained by HMAC to the one before it (SO-06).

    `digest` = HMAC-SHA256(OPLOG_KEY, previous digest + this entry's canonical fields). `seq` has no gaps:
    it is the last one plus one, taken under a lock held to the end of the operation's transaction (a
    sequence would skip numbers on rollback). A trigger refuses UPDATE, and DELETE outside the retention
    purge; altering or removing a row by other means breaks the chain, which `manage.py verify_oplog` reports.
    """

    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField("日時", db_index=True)
    user_id_snapshot = models.BigIntegerField("ユーザーID", null=True)
    username = models.CharField("ユーザー", max_length=150, db_index=True)
    address = models.CharField("接続元", max_length=64)
    action = models.CharField("操作", max_length=60, db_index=True)
    target = models.CharField("対象", max_length=200, blank=True)
    detail = models.JSONField("詳細", default=dict)
    previous_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)

    class Meta:
        verbose_name = "操作ログ"
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.seq} {self.at:%Y-%m-%d %H:%M} {self.username} {self.action}"


class OperationLogAnchor(models.Model):
    """Where the chain starts after a purge: the sequence number and digest of the last purged entry."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    seq = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")
    purged_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"anchor at {self.seq}"
