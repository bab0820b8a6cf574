"""The `schema` argument of the commands that work in one tenant's schema (import_cards, print_notices,
import_legacy): named alike, and refused alike before anything is read or written."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from tenants.queries import customer_tenants

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
