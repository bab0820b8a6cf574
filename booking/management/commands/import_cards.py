from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from booking import card_import
from booking.card_import import CardImportError, ImportResult
from tenants.queries import customer_tenants


class Command(BaseCommand):
    help = (
        "Import My Number Card applications from CARDS.csv into a tenant and write the notice letters' data "
        "(reservation numbers and passwords) to LETTERS.csv. All or nothing: any error in the file is "
        "reported with its line and nothing is imported. Format: docs/formats/cards-csv.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schema", help="the tenant's schema name, e.g. kyoto")
        parser.add_argument("cards", type=Path, metavar="CARDS.csv", help="the applications (UTF-8 CSV)")
        parser.add_argument(
            "--letters",
            type=Path,
            required=True,
            metavar="LETTERS.csv",
            help="where to write the letters' data; it holds clear passwords (written with mode 0600)",
        )
        parser.add_argument(
            "--reissue",
            action="store_true",
            help="give applications already imported a new password and update their data from the file",
        )
        parser.add_argument("--force", action="store_true", help="overwrite an existing LETTERS.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        schema: str = options["schema"]
        letters: Path = options["letters"]
        force: bool = options["force"]
        self._check_tenant(schema)
        try:
            rows = card_import.parse_cards(
                card_import.read_cards_file(options["cards"]), today=timezone.localdate()
            )
            card_import.check_letters_path(letters, cards_path=options["cards"], force=force)
            with schema_context(schema):
                result = card_import.do_import_cards(rows, reissue=options["reissue"])
        except CardImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(card_import.summary(result))
        # The passwords leave the database only once the cards they belong to are committed.
        transaction.on_commit(lambda: self._write_letters(result, letters, force))

    def _check_tenant(self, schema: str) -> None:
        tenants = customer_tenants()
        if not tenants.filter(schema_name=schema).exists():
            listed = ", ".join(tenant.schema_name for tenant in tenants[:30]) or "-"
            raise CommandError(
                f"スキーマ {schema!r} のテナントはありません（登録済み: {listed}） / "
                f"no tenant with schema {schema!r} (known: {listed})"
            )

    def _write_letters(self, result: ImportResult, path: Path, force: bool) -> None:
        if not result.letters:
            self.stdout.write(card_import.no_letters(path))
            return
        try:
            card_import.write_letters(path, result.letters, force=force)
        except CardImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(card_import.letters_written(path, len(result.letters))))
