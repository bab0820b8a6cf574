"""Staff accounts, terminal allow-list and the operation log: tenant-schema tables of the staff console.

Imported by booking.models so that they belong to the booking app (one schema per tenant).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class StaffRole(models.TextChoices):
    ADMINISTRATOR = "administrator", _("管理者")
    COUNTER = "counter", _("窓口職員")
    OPERATOR = "operator", _("コールセンターオペレーター")
    VIEWER = "viewer", _("閲覧のみ")


class StaffProfile(models.Model):
    """What the staff console knows of a user beyond Django's auth user: role, password age, lockout."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField("役割", max_length=20, choices=StaffRole.choices)
    password_changed_at = models.DateTimeField("パスワード変更日時", null=True, blank=True)
    must_change_password = models.BooleanField("次回ログイン時にパスワード変更", default=True)
    failed_logins = models.PositiveSmallIntegerField("連続ログイン失敗回数", default=0)
    locked_at = models.DateTimeField("ロック日時", null=True, blank=True)

    class Meta:
        verbose_name = "職員"

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class StaffSecurity(models.Model):
    """The tenant's rules for staff sign-in (SO-10). One row per tenant schema."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    password_expiry_days = models.PositiveSmallIntegerField(
        "パスワードの有効期間（日、0は無期限）", default=90
    )
    lockout_threshold = models.PositiveSmallIntegerField("ロックまでの連続失敗回数", default=5)
    require_totp_for_administrators = models.BooleanField("管理者に二要素認証を必須にする", default=False)
    operation_log_retention_days = models.PositiveSmallIntegerField("操作ログの保存期間（日）", default=366)

    class Meta:
        verbose_name = "職員ログインの設定"
        constraints = [
            models.CheckConstraint(condition=Q(lockout_threshold__gte=1), name="staff_lockout_positive")
        ]

    def __str__(self) -> str:
        return "職員ログインの設定"


class AllowedNetwork(models.Model):
    """A network from which staff functions may be used (LGWAN gateway, call center).

    None listed: no limit (the console warns administrators).
    """

    network = models.CharField("ネットワーク（CIDR）", max_length=64, unique=True)
    label = models.CharField("名称", max_length=100, blank=True)

    class Meta:
        verbose_name = "許可する接続元"
        ordering = ["network"]

    def __str__(self) -> str:
        return f"{self.network} {self.label}".strip()


class StaffToken(models.Model):
    """A bearer token of the staff API; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_tokens")
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="staff_token_expires")]

    def __str__(self) -> str:
        return f"token of {self.user}"


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


class OperationLogAnchor(models.Model):
    """Where the chain starts after a purge: the sequence number and digest of the last purged entry."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    seq = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")
    purged_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"anchor at {self.seq}"
