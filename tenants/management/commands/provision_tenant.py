from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from booking.provisioning import PRESETS
from tenants.services import ProvisioningError, do_provision_tenant


class Command(BaseCommand):
    help = (
        "Create a tenant (municipality), its schema, its domain and its preset data. "
        "Idempotent: running it again changes nothing and says so."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="schema name, e.g. kyoto")
        parser.add_argument("--name", required=True, help="the municipality's name, e.g. 京都市")
        parser.add_argument("--domain", required=True, help="host name, e.g. yoyaku.city.kyoto.lg.jp")
        parser.add_argument("--name-en", default="", help="the name in English, e.g. Kyoto City")
        parser.add_argument("--preset", default="blank", choices=sorted(PRESETS))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = do_provision_tenant(
                options["schema"],
                name=options["name"],
                domain=options["domain"],
                preset=options["preset"],
                name_en=options["name_en"],
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        if result.changed:
            for change in result.changes:
                self.stdout.write(f"- {change}")
            self.stdout.write(self.style.SUCCESS(f"Tenant {result.tenant.schema_name} is ready."))
        else:
            self.stdout.write(
                f"Tenant {result.tenant.schema_name} already exists with this name, domain and preset; "
                "nothing changed."
            )
