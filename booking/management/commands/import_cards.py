from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.cards import notes
from booking.lifecycle import intake as card_import
from booking.lifecycle import intake_letters
from booking.lifecycle.intake import CardImportError, ImportResult
from booking.management.tenant_arg import add_schema_argument, check_tenant
from integrations import jlis
from integrations.jlis import Layout

AUTO = "auto"
ACTOR = "import_cards"  # who the cards' history names


class Command(BaseCommand):
    help = (
        "Import My Number Card applications into a tenant from CARDS.csv (docs/formats/cards-csv.md) or a "
        "J-LIS card-creation data file, CSV or fixed-width (docs/formats/jlis-import.md); the format and "
        "encoding are detected. All or nothing: any error in the file is reported with its line and nothing "
        "is imported. Cards arrive 'received' without a password; with --letters they get their passwords "
        "now and the notice letters' data is written to LETTERS.csv."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser)
        parser.add_argument("cards", type=Path, metavar="FILE", help="CARDS.csv or a J-LIS file")
        parser.add_argument(
            "--letters",
            type=Path,
            metavar="LETTERS.csv",
            help="issue the passwords now and write the letters' data here; it holds clear passwords "
            "(written with mode 0600). Without it the cards wait, without a password, for the notice run",
        )
        parser.add_argument(
            "--reissue",
            action="store_true",
            help="with --letters: give applications already imported a new password and update their data "
            "from the file",
        )
        parser.add_argument("--force", action="store_true", help="overwrite an existing LETTERS.csv")
        parser.add_argument(
            "--format",
            choices=[AUTO, *(layout.value for layout in Layout)],
            default=AUTO,
            help="the file's layout (default: detected from its first line)",
        )
        parser.add_argument(
            "--encoding",
            default=AUTO,
            help="utf-8 or cp932 (Shift_JIS) (default: UTF-8 if the file is valid UTF-8, else cp932)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema: str = options["schema"]
        letters: Path | None = options["letters"]
        force: bool = options["force"]
        reissue: bool = options["reissue"]
        check_tenant(schema)
        if reissue and letters is None:
            raise CommandError(
                "--reissue は新しいパスワードを発行するため --letters が必要です / "
                "--reissue issues new passwords, so it needs --letters"
            )
        try:
            parsed = card_import.parse_card_file(
                card_import.read_file(options["cards"]),
                today=timezone.localdate(),
                layout=None if options["format"] == AUTO else Layout(options["format"]),
                encoding=self._encoding(options["encoding"]),
            )
            if letters is not None:
                intake_letters.check_letters_path(letters, cards_path=options["cards"], force=force)
            with schema_context(schema), transaction.atomic():
                result = card_import.do_import_cards(
                    parsed.rows,
                    actor=ACTOR,
                    note=notes.import_note(card_import.LAYOUT_NAMES[parsed.layout]),
                    letters=letters is not None,
                    reissue=reissue,
                )
                oplog.record(
                    oplog.Actor(None, f"manage.py import_cards ({getpass.getuser()})", "localhost"),
                    "cards.import",
                    options["cards"].name[:200],
                    {"format": parsed.layout, "created": result.new, "reissued": result.reissued},
                )
        except CardImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"形式 / format: {parsed.layout} ({parsed.encoding})")
        self.stdout.write(intake_letters.summary(result))
        if letters is None:
            if result.new:
                self.stdout.write(
                    f"{result.new}件はパスワード未発行で「受領」状態です。"
                    "パスワードは通知書の印刷時に発行します / "
                    f"{result.new} card(s) are 'received' without a password; it is made when the notice "
                    "letters are printed"
                )
            return
        # The passwords leave the database only once the cards they belong to are committed.
        transaction.on_commit(lambda: self._write_letters(result, letters, force))

    def _encoding(self, raw: str) -> str | None:
        if raw == AUTO:
            return None
        try:
            return jlis.encoding_name(raw)
        except ValueError as exc:
            raise CommandError(f"文字コード {raw!r} は使えません（utf-8 または cp932） / {exc}") from exc

    def _write_letters(self, result: ImportResult, path: Path, force: bool) -> None:
        if not result.letters:
            self.stdout.write(intake_letters.no_letters(path))
            return
        try:
            intake_letters.write_letters(path, result.letters, force=force)
        except CardImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(intake_letters.letters_written(path, len(result.letters))))
