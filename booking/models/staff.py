"""Staff accounts: roles, profiles, sign-in rules, allowed networks, API tokens (SO-10)."""

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
    # A lock that never ends lets anyone who can name an administrator shut them out for good (finding 4);
    # it ends by itself after this many minutes from StaffProfile.locked_at, or earlier at an unlock.
    lockout_minutes = models.PositiveSmallIntegerField("ロックが自動で解除されるまでの時間（分）", default=15)
    require_totp_for_administrators = models.BooleanField("管理者に二要素認証を必須にする", default=False)
    operation_log_retention_days = models.PositiveSmallIntegerField("操作ログの保存期間（日）", default=366)
    # A staff session ends after this long without a request, and this long after sign-in however busy
    # (finding 7 of issue 13; madoguchi.session_limits): a console left open at a counter closes itself.
    session_idle_minutes = models.PositiveSmallIntegerField(
        "操作がないまま自動でログアウトするまでの時間（分）", default=30
    )
    session_absolute_hours = models.PositiveSmallIntegerField(
        "ログインから自動でログアウトするまでの時間（時間）", default=10
    )

    class Meta:
        verbose_name = "職員ログインの設定"
        constraints = [
            models.CheckConstraint(condition=Q(lockout_threshold__gte=1), name="staff_lockout_positive"),
            models.CheckConstraint(
                condition=Q(lockout_minutes__gte=1, lockout_minutes__lte=1440), name="staff_lockout_period"
            ),
            models.CheckConstraint(
                condition=Q(session_idle_minutes__gte=5, session_idle_minutes__lte=480),
                name="staff_session_idle_range",
            ),
            models.CheckConstraint(
                condition=Q(session_absolute_hours__gte=1, session_absolute_hours__lte=24),
                name="staff_session_absolute_range",
            ),
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
