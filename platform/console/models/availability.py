"""Availability of each municipality's site (BK-08): the external prober's samples, the outages our operators
record, the probe card the prober signs in with, and the monthly reports mailed (public schema)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProbeSample(models.Model):
    """One check of a municipality's public site by the external prober (`manage.py probe`), the way a
    resident reaches it: the top page, availability, a sign-in with the probe card. `ok` only if all three
    answered as they should; `reason` names the first that did not."""

    at = models.DateTimeField(_("日時"))
    tenant = models.ForeignKey("tenants.Municipality", on_delete=models.CASCADE, related_name="probe_samples")
    ok = models.BooleanField(_("正常"))
    latency_ms = models.PositiveIntegerField(_("応答時間（ミリ秒）"))
    reason = models.CharField(_("失敗の理由"), max_length=300, blank=True)

    # The reason of a municipality's samples while its service is suspended (issue 14 §3): the prober does
    # not call its site, and the report counts those minutes as caused by the municipality, not by us.
    SUSPENDED = "suspended: the municipality's service is suspended (not probed)"

    class Meta:
        ordering = ["-at"]
        verbose_name = _("稼働監視の記録")
        verbose_name_plural = pgettext_lazy("plural", "稼働監視の記録")
        indexes = [models.Index(fields=["tenant", "at"], name="probe_sample_tenant_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.tenant_id} {'ok' if self.ok else 'failed'}"


class Outage(models.Model):
    """A stop of a municipality's site as our operators record it, with its cause. Planned stops are not
    recorded here: they come from the PlannedStop records (kind planned), so one stop is never entered twice.
    A stop caused by the municipality carries the municipality's reference (their request or incident
    number); it is excluded from the stopped time like a planned stop. One we caused is recorded to explain
    the stopped minutes; it changes no figure."""

    class Cause(models.TextChoices):
        MUNICIPALITY = "municipality", _("自治体の原因")
        OURS = "ours", _("当社の原因")

    tenant = models.ForeignKey(
        "tenants.Municipality", on_delete=models.CASCADE, related_name="outages", verbose_name=_("自治体")
    )
    cause = models.CharField(_("原因"), max_length=12, choices=Cause.choices)
    reference = models.CharField(_("自治体の文書・受付番号"), max_length=100, blank=True)
    starts_at = models.DateTimeField(_("停止開始"))
    ends_at = models.DateTimeField(_("停止終了"))
    note = models.CharField(pgettext_lazy("details", "内容"), max_length=300, blank=True)
    recorded_by = models.CharField(_("登録した運用者"), max_length=150)
    recorded_at = models.DateTimeField(_("登録日時"))

    class Meta:
        ordering = ["starts_at"]
        verbose_name = pgettext_lazy("singular", "停止の記録")
        verbose_name_plural = _("停止の記録")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="outage_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(cause="municipality") | ~Q(reference=""),
                name="outage_municipality_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} {self.cause}"


class ProbeAccount(models.Model):
    """The probe card of one municipality: made in its schema through booking.provisioning (a card that can
    sign in but never book, and that staff never see); its password is kept here for the prober. It opens
    nothing: the card holds no personal data and cannot book."""

    tenant = models.OneToOneField(
        "tenants.Municipality", on_delete=models.CASCADE, related_name="probe_account"
    )
    reservation_number = models.CharField(max_length=12)
    password = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("監視用カード")
        verbose_name_plural = pgettext_lazy("plural", "監視用カード")

    def __str__(self) -> str:
        return f"probe card of {self.tenant_id}"


class AvailabilityReportMail(models.Model):
    """A monthly availability report mailed to a municipality: one row per municipality and month, locked
    while the mail goes out, so a retried or repeated run sends it once."""

    tenant = models.ForeignKey("tenants.Municipality", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("対象月（初日）"))
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    recipients = models.TextField(_("送信先"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("送信試行回数"), default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-month"]
        verbose_name = _("稼働率報告のメール")
        verbose_name_plural = pgettext_lazy("plural", "稼働率報告のメール")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="availability_report_once_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.month:%Y-%m}"
