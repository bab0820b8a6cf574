from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import vendor_log
from tenants.offboarding import do_offboard
from tenants.services import ProvisioningError


class Command(BaseCommand):
    help = (
        "End a municipality's use of the service: suspend it, write its final export, destroy its stored "
        "files and drop its schema, and keep a disposal certificate (SO-17). Cannot be undone; repeat the "
        "schema name with --confirm."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema")
        parser.add_argument("--confirm", default="", help="the schema name again")
        parser.add_argument(
            "--asked-by", default="", help="who at the municipality asked for it (name, office, document)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = vendor_log.Actor(f"manage.py ({getpass.getuser()})", None, "localhost")
        try:
            record = do_offboard(
                actor, options["schema"], confirm=options["confirm"], asked_by=options["asked_by"]
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        if record.status != record.Status.DONE:
            raise CommandError(
                f"解約・データ削除に失敗しました（記録 {record.pk}）: {record.error} / offboarding failed; "
                "nothing was dropped, run the command again"
            )
        rows = sum(int(t["rows"]) for t in record.tables)
        self.stdout.write(
            self.style.SUCCESS(
                f"{record.name}（{record.schema_name}）のデータを削除しました。最終出力: {record.export_key} "
                f"（{record.export_size:,} バイト, SHA-256 {record.export_sha256}） / removed "
                f"{record.schema_name}: {len(record.tables)} tables ({rows} rows), "
                f"{len(record.files)} files; "
                f"final export at {record.export_key}; certificate #{record.pk} in the vendor console"
            )
        )
