"""Our own operations: the worker heartbeat and planned stops (public schema)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Heartbeat(models.Model):
    """A minute-by-minute record that the worker, the database and Redis were up.

    The gaps between heartbeats are the service's measured stops: the raw data of the monthly
    availability report (BK-08).
    """

    recorded_at = models.DateTimeField(_("記録日時"), db_index=True)
    database_ok = models.BooleanField(default=True)
    cache_ok = models.BooleanField(default=True)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("ハートビート")
        verbose_name_plural = pgettext_lazy("plural", "ハートビート")

    def __str__(self) -> str:
        return f"{self.recorded_at:%Y-%m-%d %H:%M}"


class PlannedStop(models.Model):
    """A stop of the service, for one municipality or all of them (SO-01, MT-03).

    Planned stops need the municipality's written approval 30 days ahead (who approved, the document's
    number, the date: `console.services.do_record_stop` refuses a later one); an emergency stop needs none
    and is recorded as such, so that it never counts as planned. The notice shows on every page of the
    affected municipalities from `announced_from` until the stop ends; while a `site_down` stop runs,
    residents' booking writes are refused (staff and the call center keep working).
    """

    class Kind(models.TextChoices):
        PLANNED = "planned", _("計画停止（30日前までに自治体の承認）")
        EMERGENCY = "emergency", _("緊急停止（承認なし、計画停止に数えない）")

    tenant = models.ForeignKey(
        "tenants.Municipality",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="planned_stops",
        verbose_name=_("自治体"),
        help_text=_("空欄なら全ての自治体"),
    )
    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices, default=Kind.PLANNED)
    starts_at = models.DateTimeField(_("停止開始"))
    ends_at = models.DateTimeField(_("停止終了"))
    site_down = models.BooleanField(
        _("住民の予約を止める"),
        default=True,
        help_text=_(
            "オン: 停止中は住民のウェブとAPIからの予約・変更・取消を断る。"
            "オフ: サイトは動き続け、何も断らない。"
        ),
    )
    announced_from = models.DateTimeField(
        _("お知らせの表示開始"),
        default=timezone.now,
        help_text=_("この日時から停止終了まで、全ての画面に表示する"),
    )
    reason = models.CharField(_("お知らせ（日本語）"), max_length=200, default="システムメンテナンスのため")
    reason_en = models.CharField(_("お知らせ（英語）"), max_length=200, default="for system maintenance")
    approved_by = models.CharField(_("承認した自治体の担当者（氏名・役職）"), max_length=200, blank=True)
    approval_reference = models.CharField(_("承認文書の番号"), max_length=100, blank=True)
    approved_on = models.DateField(_("自治体の承認日"), null=True, blank=True)
    recorded_by = models.CharField(_("登録した運用者"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("計画停止")
        verbose_name_plural = pgettext_lazy("plural", "計画停止")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="stop_ends_after_start"
            ),
            # the rest of the approval (who, which document, 30 days ahead) is checked by do_record_stop
            models.CheckConstraint(
                condition=models.Q(kind="emergency") | models.Q(approved_on__isnull=False),
                name="planned_stop_has_approval_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} {self.tenant or 'all'}"
