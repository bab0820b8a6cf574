"""The tenant (municipality) and its domains. These live in the public schema (the control plane)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import schema_exists

from tenants import template_schema


class Municipality(TenantMixin):
    """One customer municipality; all its data lives in the PostgreSQL schema named `schema_name`."""

    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("名称（英語）"), max_length=100, blank=True)
    # The preset that seeded the tenant's schema; empty until the preset has been applied in full.
    preset = models.CharField(_("プリセット"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    # Suspension (issue 14 §3): while set, every site of the municipality answers "suspended"
    # (madoguchi.suspension); who and why are kept here, each change in the vendor operation log.
    suspended_at = models.DateTimeField(_("利用停止日時"), null=True, blank=True)
    suspended_by = models.CharField(_("利用停止した運用者"), max_length=150, blank=True)
    suspension_reason = models.CharField(_("利用停止の理由"), max_length=500, blank=True)

    auto_create_schema = True
    auto_drop_schema = False  # a schema is only dropped by the offboarding procedure, never by a delete

    class Meta:
        verbose_name = _("自治体")
        verbose_name_plural = pgettext_lazy("plural", "自治体")
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    def delete(self, force_drop: bool = False, *args: Any, **kwargs: Any) -> Any:
        """Only offboarding (tenants.offboarding) deletes a municipality, with force_drop after its final
        export and the destruction of its files. Any other delete (django-tenants' `delete_tenant` command,
        a shell) would leave its stored files, or its whole schema, with no disposal certificate."""
        if not force_drop:
            raise PermissionError(
                f"municipality {self.schema_name} can only be removed by offboarding "
                "(manage.py offboard_tenant or the vendor console)"
            )
        return super().delete(force_drop, *args, **kwargs)

    def create_schema(
        self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1
    ) -> Any:
        """A new schema is made from the template schema (tenants.template_schema), not by every migration."""
        if not sync_schema or schema_exists(self.schema_name):  # an existing schema is never touched here
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        template_schema.create_schema(self.schema_name, verbosity)
        return True

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    # Provisioned: the last step of provisioning (tenants.services.do_provision_tenant), its preset, is
    # applied. Until then a provisioning is under way or was cut off, and the schema may be missing or half
    # made: such a run is finished by running it again, while a provisioned municipality without its schema
    # has lost it (a restore).
    @property
    def provisioned(self) -> bool:
        return bool(self.preset)

    @property
    def label(self) -> str:
        """The name in the request's language: the English name on English pages, where there is one."""
        if self.name_en and (get_language() or "ja").startswith("en"):
            return self.name_en
        return self.name


class Domain(DomainMixin):
    """A host name that routes to a tenant, e.g. yoyaku.city.kyoto.lg.jp or kyoto.localhost."""

    class Meta:
        verbose_name = pgettext_lazy("singular", "ドメイン")
        verbose_name_plural = _("ドメイン")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class OffboardingRecord(models.Model):
    """That a municipality left and its data was destroyed (SO-17): the only thing kept of it, with where its
    final export was stored for handing over. Made when the offboarding is asked for (the console queues it
    for a worker; the command runs it at once) and filled in as it runs: done, it is the disposal
    certificate."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("受付済み")
        RUNNING = "running", _("実行中")
        DONE = "done", _("完了")
        FAILED = "failed", _("失敗")

    schema_name = models.CharField(_("スキーマ"), max_length=63)
    name = models.CharField(_("名称"), max_length=100)
    status = models.CharField(_("状態"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    error = models.TextField(_("エラー"), blank=True)
    offboarded_at = models.DateTimeField(_("削除日時"), null=True, blank=True)
    export_key = models.CharField(_("最終出力の保存先"), max_length=300, blank=True)
    export_size = models.BigIntegerField(_("最終出力のサイズ"), default=0)
    requested_by = models.CharField(_("実施者"), max_length=150)
    # The disposal certificate (issue 14 §3): what was destroyed, when, at whose request.
    export_sha256 = models.CharField(_("最終出力のSHA-256"), max_length=64, blank=True)
    asked_by = models.CharField(_("依頼者（自治体）"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("開始日時"), null=True, blank=True)
    tables = models.JSONField(_("削除した表と行数"), default=list, blank=True)  # [{"table", "rows"}]
    files = models.JSONField(_("削除したファイル"), default=list, blank=True)  # [{"key", "size"}]

    class Meta:
        verbose_name = pgettext_lazy("singular", "解約・データ削除の記録")
        verbose_name_plural = _("解約・データ削除の記録")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.schema_name} #{self.pk} {self.status}"


class OplogCheckpoint(models.Model):
    """A signed note, kept outside the tenant's schema, of how far a tenant's operation log reached (SO-06).

    `kind` "head": entry `seq` with `digest` existed at `at`, so no later verify may find the log shorter.
    "anchor": a retention purge removed every entry up to `seq`, whose digest was `digest`, so the chain's
    anchor must be exactly this. `signature` is an HMAC under a key the database never holds
    (`tenants.checkpoints`): a row someone inserted by hand does not verify. A trigger (migration 0003)
    refuses UPDATE, DELETE and TRUNCATE, so rows are only ever added.
    """

    schema_name = models.CharField(_("スキーマ"), max_length=63)
    kind = models.CharField(_("種類"), max_length=10)
    seq = models.BigIntegerField(_("番号"))
    digest = models.CharField(max_length=64)
    at = models.DateTimeField(_("日時"))
    signature = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("操作ログのチェックポイント")
        verbose_name_plural = pgettext_lazy("plural", "操作ログのチェックポイント")
        indexes = [models.Index(fields=["schema_name", "seq"], name="tenants_checkpoint_schema_seq")]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.kind} {self.seq}"


def _label(model: type[models.Model], name: str, label: Any) -> None:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    field.verbose_name = label


# django-tenants' own fields carry no labels (the console's admin showed "Schema name", "Domain", "Is primary"
# in English on Japanese pages). Labelled here rather than by redefining the fields: `verbose_name` only, not
# the field's recorded argument (`_verbose_name`), so the migrations' state does not change.
_label(Municipality, "schema_name", _("スキーマ名"))
_label(Domain, "domain", pgettext_lazy("singular", "ドメイン"))
_label(Domain, "tenant", _("自治体"))
_label(Domain, "is_primary", _("主ドメイン"))
