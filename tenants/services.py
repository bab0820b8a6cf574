"""Writes on the control plane: provisioning tenants. Runs in the public schema. The rest of a tenant's
life (invitation, domains, suspension, exports, offboarding) is in tenants.lifecycle.

The tenant's own schema is only touched through booking.provisioning, the named interface the
control plane uses to seed a tenant's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from booking import provisioning
from tenants.models import Domain, Municipality
from tenants.routing import forget_routes

SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
RESERVED_SCHEMA_NAMES = {"public", "information_schema"}


class ProvisioningError(Exception):
    """A provisioning request that cannot be carried out as asked; the message says why and what to do, in the
    active language (Japanese on the command line, the page's language in the vendor console)."""


@dataclass
class ProvisionResult:
    tenant: Municipality
    created: bool
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def validate_host(host: str) -> str:
    host = normalise_host(host)
    labels = host.split(".")
    if not host or len(host) > 253 or not all(HOST_LABEL_RE.match(label) for label in labels):
        message = _("ドメイン名が正しくありません: %(host)s（英小文字・数字・ハイフンとドットのみ）")
        raise ProvisioningError(message % {"host": host})
    return host


def validate_schema_name(schema_name: str) -> str:
    if (
        not SCHEMA_NAME_RE.match(schema_name)
        or schema_name in RESERVED_SCHEMA_NAMES
        or schema_name.startswith("pg_")
    ):
        raise ProvisioningError(
            _(
                "スキーマ名が正しくありません: %(schema)s（英小文字で始まる2〜40文字の英小文字・数字・_。"
                "public と pg_ で始まる名前は使えません）"
            )
            % {"schema": schema_name}
        )
    return schema_name


def ensure_public_tenant() -> ProvisionResult:
    """The public schema's tenant row and the vendor console's domain (BASE_DOMAIN)."""
    public_name = get_public_schema_name()
    changes = []
    tenant = Municipality.objects.filter(schema_name=public_name).first()
    created = tenant is None
    if tenant is None:
        tenant = Municipality(
            schema_name=public_name, name="Madoguchi platform", name_en="Madoguchi platform"
        )
        tenant.save()
        changes.append(f"created the public tenant (schema {public_name})")
    base_domain = validate_host(settings.BASE_DOMAIN)
    if not Domain.objects.filter(domain=base_domain).exists():
        Domain.objects.create(domain=base_domain, tenant=tenant, is_primary=True)
        forget_routes()
        changes.append(f"routed {base_domain} to the vendor console")
    return ProvisionResult(tenant=tenant, created=created, changes=changes)


def do_provision_tenant(
    schema_name: str, *, name: str, domain: str, preset: str = "blank", name_en: str = ""
) -> ProvisionResult:
    """Create the tenant, its schema, its domain and its preset data; idempotent.

    Running it again with the same arguments changes nothing. A half-finished earlier run is completed:
    the municipality's row made but not its schema (the process ended while the schema was being made: the
    row is written first, the schema in a transaction of its own), or the schema made but not the domain
    or the preset. A municipality whose preset was applied has had its schema: if it is gone, that is a loss
    for a restore, not a run to finish, and it is refused.

    Callers hold `tenants.lifecycle.one_provisioning_at_a_time` (do_provision, and through it the command
    and the console, do): two runs at once would make the same schema twice.
    """
    schema_name = validate_schema_name(schema_name.strip())
    host = validate_host(domain)
    name = name.strip()
    if not name:
        raise ProvisioningError(_("名称を入力してください。"))
    if preset not in provisioning.PRESETS:
        raise ProvisioningError(
            _("プリセット %(preset)s はありません。%(choices)s から選んでください。")
            % {"preset": preset, "choices": ", ".join(sorted(provisioning.PRESETS))}
        )

    public = ensure_public_tenant()
    changes = list(public.changes)

    owner = Domain.objects.filter(domain=host).select_related("tenant").first()
    if owner is not None and owner.tenant.schema_name != schema_name:
        raise ProvisioningError(
            _("ドメイン %(host)s は既に %(owner)s で使われています。")
            % {"host": host, "owner": owner.tenant.schema_name}
        )

    tenant = Municipality.objects.filter(schema_name=schema_name).first()
    created = tenant is None
    if tenant is None:
        # Creating the schema runs the tenant migrations; it cannot share one transaction with the rows.
        tenant = Municipality(schema_name=schema_name, name=name, name_en=name_en.strip())
        tenant.save(verbosity=0)
        changes.append(f"created tenant {schema_name} ({name}) and its schema")
    elif tenant.name != name:
        # Nothing renames a municipality (the console and its admin do not, nor any command): say what the
        # operator can do, finish this one under its name or make another under another schema name.
        raise ProvisioningError(
            _(
                "自治体 %(schema)s は既に「%(name)s」という名称で作成されています"
                "（名称は後から変更できません）。"
                "この自治体の作成を続けるときは、名称に「%(name)s」を入力してください。"
                "別の自治体を作るときは、別のスキーマ名を使ってください。"
            )
            % {"schema": schema_name, "name": tenant.name}
        )
    elif name_en.strip() and not tenant.name_en:
        tenant.name_en = name_en.strip()
        tenant.save(update_fields=["name_en"])
        forget_routes()  # the host routing hands out the municipality's row
        changes.append(f"set the English name of {schema_name} to {tenant.name_en}")
    if not created and not schema_exists(schema_name):
        if tenant.provisioned:
            raise ProvisioningError(
                _(
                    "自治体 %(schema)s は作成済みですが、スキーマがありません（データの消失）。"
                    "空のスキーマを作ると消失が見えなくなるため、作りません。"
                    "バックアップから復元してください（運用手順書 3.2）。"
                )
                % {"schema": schema_name}
            )
        tenant.create_schema(check_if_exists=True, verbosity=0)
        changes.append(f"made the schema of {schema_name} (an earlier run ended before it)")

    with transaction.atomic():
        if owner is None:
            is_first = not tenant.domains.exists()
            Domain.objects.create(domain=host, tenant=tenant, is_primary=is_first)
            forget_routes()  # a host looked up before it was routed is remembered as unknown
            changes.append(f"routed {host} to {schema_name}")

        if tenant.provisioned and tenant.preset != preset:
            raise ProvisioningError(
                _(
                    "自治体 %(schema)s には既にプリセット %(preset)s が適用されています"
                    "（後から変更できません）。"
                    "プリセットに %(preset)s を指定してください。"
                )
                % {"schema": schema_name, "preset": tenant.preset}
            )
        if not tenant.provisioned:
            with schema_context(tenant.schema_name):
                summary = provisioning.apply_preset(preset)
            tenant.preset = preset
            tenant.save(update_fields=["preset"])
            forget_routes()
            changes.append(f"applied preset {preset}: {summary}")

    return ProvisionResult(tenant=tenant, created=created, changes=changes)
