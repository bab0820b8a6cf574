"""The tenant (municipality) and its domains. These live in the public schema (the control plane)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django_tenants.models import DomainMixin, TenantMixin


class Municipality(TenantMixin):
    """One customer municipality; all its data lives in the PostgreSQL schema named `schema_name`."""

    name = models.CharField("名称", max_length=100)
    name_en = models.CharField("名称（英語）", max_length=100, blank=True)
    # The preset that seeded the tenant's schema; empty until the preset has been applied in full.
    preset = models.CharField("プリセット", max_length=20, blank=True)
    created_at = models.DateTimeField("作成日時", auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False  # a schema is only dropped by the offboarding procedure, never by a delete

    class Meta:
        verbose_name = "自治体"
        verbose_name_plural = "自治体"
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def label(self) -> str:
        """The name in the request's language: the English name on English pages, where there is one."""
        if self.name_en and (get_language() or "ja").startswith("en"):
            return self.name_en
        return self.name


class Domain(DomainMixin):
    """A host name that routes to a tenant, e.g. yoyaku.city.kyoto.lg.jp or kyoto.localhost."""

    class Meta:
        verbose_name = "ドメイン"
        verbose_name_plural = "ドメイン"
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class OffboardingRecord(models.Model):
    """That a municipality left and its data was destroyed (SO-17): the only thing kept of it, with where its
    final export was stored for handing over."""

    schema_name = models.CharField("スキーマ", max_length=63)
    name = models.CharField("名称", max_length=100)
    offboarded_at = models.DateTimeField("削除日時")
    export_key = models.CharField("最終出力の保存先", max_length=300)
    export_size = models.BigIntegerField("最終出力のサイズ")
    requested_by = models.CharField("実施者", max_length=150)

    class Meta:
        verbose_name = "解約・データ削除の記録"
        ordering = ["-offboarded_at"]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.offboarded_at:%Y-%m-%d}"


class OplogCheckpoint(models.Model):
    """A signed note, kept outside the tenant's schema, of how far a tenant's operation log reached (SO-06).

    `kind` "head": entry `seq` with `digest` existed at `at`, so no later verify may find the log shorter.
    "anchor": a retention purge removed every entry up to `seq`, whose digest was `digest`, so the chain's
    anchor must be exactly this. `signature` is an HMAC under a key the database never holds
    (`tenants.checkpoints`): a row someone inserted by hand does not verify. A trigger (migration 0003)
    refuses UPDATE, DELETE and TRUNCATE, so rows are only ever added.
    """

    schema_name = models.CharField("スキーマ", max_length=63)
    kind = models.CharField("種類", max_length=10)
    seq = models.BigIntegerField("番号")
    digest = models.CharField(max_length=64)
    at = models.DateTimeField("日時")
    signature = models.CharField(max_length=64)

    class Meta:
        verbose_name = "操作ログのチェックポイント"
        indexes = [models.Index(fields=["schema_name", "seq"], name="tenants_checkpoint_schema_seq")]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.kind} {self.seq}"
