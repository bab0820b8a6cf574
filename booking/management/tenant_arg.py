"""The `schema` argument of the commands that work in one tenant's schema (import_cards, print_notices,
import_legacy): named alike, and refused alike before anything is read or written."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from tenants.queries import customer_tenants, schema_present

KNOWN_SHOWN = 30  # tenants named in the refusal, so a typo is easy to see


def add_schema_argument(parser: CommandParser) -> None:
    parser.add_argument("schema", help="the tenant's schema name, e.g. kyoto")


def check_tenant(schema: str) -> None:
    """CommandError naming the known tenants unless a municipality has this schema."""
    tenants = customer_tenants()
    if not tenants.filter(schema_name=schema).exists():
        listed = ", ".join(tenant.schema_name for tenant in tenants[:KNOWN_SHOWN]) or "-"
        raise CommandError(
            f"スキーマ {schema!r} のテナントはありません（登録済み: {listed}） / "
            f"no tenant with schema {schema!r} (known: {listed})"
        )
    if not tenants.filter(schema_name=schema).filter(schema_present()).exists():
        # its search_path would fall through to the public schema's tables of the same names
        raise CommandError(
            f"テナント {schema!r} のスキーマがありません。"
            "provision_tenant で作成を完了するか、復元してください / "
            f"tenant {schema!r} has no schema: finish it with provision_tenant, or restore it"
        )
