"""Who may use the vendor console and what they did there (public schema)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OperatorSignIn(models.Model):
    """An operator's failed sign-ins in a row, and the lock they lead to (issue 13, finding 3).

    In the database, not in Redis: a lock on an account that reaches every municipality must survive a cache
    flush. The count is raised by one `UPDATE … RETURNING`, so concurrent failures are never lost.
    """

    user = models.OneToOneField(
        "auth.User",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="vendor_sign_in",
        verbose_name=_("運用者"),
    )
    failures = models.PositiveIntegerField(_("続けて失敗した回数"), default=0)
    locked_until = models.DateTimeField(_("ロックの期限"), null=True, blank=True)

    class Meta:
        verbose_name = _("運用者のサインイン状態")
        verbose_name_plural = pgettext_lazy("plural", "運用者のサインイン状態")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.failures}"


class VendorLogEntry(models.Model):
    """One vendor-console action (the vendor operation log), chained by HMAC like a tenant's operation log.

    Django admin's LogEntry is kept too (the admin's object history uses it), but it is not enough: it is
    written only for add/change/delete through ModelAdmin, not for sign-ins, locks or second-factor set-up,
    and any row can be edited or deleted unseen. These rows are numbered without gaps, a trigger refuses
    UPDATE and DELETE, and each digest covers the previous one, so an edit or a removed entry is named.
    """

    seq = models.PositiveBigIntegerField(_("番号"), unique=True)
    at = models.DateTimeField(_("日時"), db_index=True)
    actor = models.CharField(_("運用者"), max_length=150)
    actor_id = models.BigIntegerField(null=True, blank=True)
    address = models.CharField(_("接続元"), max_length=45, blank=True)
    action = models.CharField(_("操作"), max_length=40)
    target = models.CharField(_("対象"), max_length=200, blank=True)
    detail = models.JSONField(pgettext_lazy("details", "内容"), default=dict, blank=True)
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("運用操作ログ")
        verbose_name_plural = _("運用操作ログ")

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
