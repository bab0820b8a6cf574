from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.lib.private_files import read_chunks, write_private
from booking.lifecycle import notices, queries
from booking.management.tenant_arg import add_schema_argument, check_tenant
from integrations import notice_letters, storage

CHUNK_BYTES = 64 * 1024


class Command(BaseCommand):
    help = (
        "Print notice letters (交付通知書) for a tenant's cards: each card gets a new password and moves to "
        '"notice sent" (a card already there is reprinted: its old password stops working). Writes the PDF '
        "(a ZIP of PDF volumes above --volume-size letters) and the print vendor's CSV, mode 0600. All or "
        "nothing. Format: docs/formats/notice-letters.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser)
        parser.add_argument(
            "--pdf", type=Path, required=True, metavar="OUT.pdf", help="the letters (PDF or ZIP)"
        )
        parser.add_argument(
            "--csv", type=Path, required=True, metavar="OUT.csv", help="the print vendor's CSV"
        )
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all-set-up", action="store_true", help="every set-up card not yet printed")
        which.add_argument(
            "--ids",
            type=Path,
            metavar="FILE",
            help="application IDs (23 digits) or reservation numbers (12 digits), one a line",
        )
        parser.add_argument("--force", action="store_true", help="overwrite existing output files")
        parser.add_argument(
            "--volume-size",
            type=int,
            default=notice_letters.VOLUME_SIZE,
            help=f"letters per PDF volume (default {notice_letters.VOLUME_SIZE}; 0: one PDF, however large)",
        )
        parser.add_argument(
            "--keep-in-storage",
            action="store_true",
            help="also keep the files in the export storage for the staff console (deleted by default)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema: str = options["schema"]
        pdf_path: Path = options["pdf"]
        csv_path: Path = options["csv"]
        force: bool = options["force"]
        volume_size: int = options["volume_size"]
        if volume_size < 0:
            raise CommandError("--volume-size は0以上にしてください / --volume-size must be 0 or more")
        check_tenant(schema)
        if pdf_path.resolve() == csv_path.resolve():
            raise CommandError("--pdf と --csv は別のファイルにしてください / --pdf and --csv must differ")
        for path in (pdf_path, csv_path):
            _check_output(path, force=force)
        actor = oplog.Actor(None, f"manage.py print_notices ({getpass.getuser()})", "localhost")
        with schema_context(schema):
            card_ids = self._select(options)
            extension = notice_letters.pdf_extension(len(card_ids), volume_size)
            if pdf_path.suffix.lower() != f".{extension}":
                raise CommandError(_extension_message(len(card_ids), volume_size, extension))
            try:
                result = notices.do_print_notices(card_ids, actor=actor, volume_size=volume_size)
            except notices.NoticePrintError as exc:
                raise CommandError(exc.message) from exc
            run = result.run
            self.stdout.write(_summary(result))
            self._write(run.pdf_key, pdf_path, force, run.pk)
            self._write(run.csv_key, csv_path, force, run.pk)
            if not options["keep_in_storage"]:
                notices.do_delete_notice_files(run, actor=actor)
        self.stdout.write(
            self.style.SUCCESS(
                f"書き出しました: {pdf_path}、{csv_path}（パスワードを含みます。印刷後は削除してください）"
                f" / wrote {pdf_path} and {csv_path} (they hold passwords: delete them once the letters "
                "are printed)"
            )
        )

    def _select(self, options: dict[str, Any]) -> list[int]:
        if options["all_set_up"]:
            ids = list(queries.set_up_cards().order_by("pk").values_list("pk", flat=True))
        else:
            path: Path = options["ids"]
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{path} を読めません（{exc}） / cannot read {path} ({exc})") from exc
            pasted = queries.cards_from_lines(text)
            if pasted.problems:
                count = len(pasted.problems)
                head = (
                    f"{count}件の誤りがあります。何も印刷していません / {count} error(s); nothing was printed"
                )
                raise CommandError("\n".join([head, *(str(problem) for problem in pasted.problems)]))
            ids = pasted.card_ids
        if not ids:
            raise CommandError("印刷するカードがありません / no cards to print")
        return ids

    def _write(self, key: str, path: Path, force: bool, run_id: int) -> None:
        """Copy a stored file to `path` (mode 0600); on failure the stored copy stays, for the console."""
        try:
            with storage.export_storage().open(key) as source:
                write_private(path, read_chunks(source, CHUNK_BYTES), replace=force)
        except OSError as exc:
            raise CommandError(
                f"印刷は完了しましたが {path} に書き出せませんでした（{exc}）。"
                f"ファイルは職員用管理画面の交付通知書の印刷 #{run_id} からダウンロードできます"
                f" / the letters were made but {path} could not be written ({exc}); download them from "
                f"the staff console, notice run #{run_id}"
            ) from exc


def _check_output(path: Path, *, force: bool) -> None:
    """Refuse before anything changes if a file could not be written there afterwards."""
    parent = path.parent
    if not parent.is_dir():
        raise CommandError(f"書き出し先のフォルダがありません: {parent} / no such directory: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"書き出し先のフォルダに書き込めません: {parent} / cannot write to {parent}")
    if path.is_dir():
        raise CommandError(f"{path} はフォルダです / {path} is a directory")
    if os.path.lexists(path) and not force:
        raise CommandError(
            f"{path} は既に存在します。上書きする場合は --force を指定してください / "
            f"{path} already exists; use --force to overwrite it"
        )


def _extension_message(count: int, volume_size: int, extension: str) -> str:
    if extension == "zip":
        return (
            f"{count}通は1冊の上限 {volume_size}通を超えるため、PDFは冊ごとのPDFをまとめたZIPになります。"
            "--pdf に .zip のファイル名を指定するか、--volume-size を変えてください"
            f" / {count} letters are more than one volume of {volume_size}: the letters come as a ZIP of "
            "PDF volumes; give --pdf a .zip name, or change --volume-size"
        )
    return (
        f"{count}通は1冊に収まるため、PDFファイルになります。--pdf に .pdf のファイル名を指定してください / "
        f"{count} letters fit in one volume: give --pdf a .pdf name"
    )


def _summary(result: notices.PrintResult) -> str:
    lines = [
        f"印刷 #{result.run.pk}: {result.letters}通（はじめて {result.new}通、"
        f"再印刷 {result.reprinted}通） / notice run #{result.run.pk}: {result.letters} letter(s) "
        f"({result.new} new, {result.reprinted} reprinted)"
    ]
    if result.outside_font:
        lines.append(
            f"{result.outside_font}通は氏名・住所にPDFのフォントにない文字があり、PDFでは〓になっています"
            "（CSVには正しい文字があり、outside_font=1 の行です）"
            f" / {result.outside_font} letter(s) have characters the PDF font lacks, shown as 〓 "
            "(the CSV has them right: rows with outside_font=1)"
        )
    return "\n".join(lines)
