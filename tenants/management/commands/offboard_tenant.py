from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import ProvisioningError, do_offboard_tenant


class Command(BaseCommand):
    help = (
        "End a municipality's use of the service: write its full export, then drop its schema and remove it "
        "(SO-17). Cannot be undone; repeat the schema name with --confirm."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema")
        parser.add_argument("--confirm", default="", help="the schema name again")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            record = do_offboard_tenant(
                options["schema"], confirm=options["confirm"], requested_by=f"manage.py ({getpass.getuser()})"
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{record.name}（{record.schema_name}）のデータを削除しました。最終出力: {record.export_key} "
                f"（{record.export_size:,} バイト） / removed {record.schema_name}; "
                f"final export at {record.export_key}"
            )
        )
