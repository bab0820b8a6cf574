"""`manage.py import_legacy <schema> DIR [--dry-run] [--report FILE]`: moving from the old system (SO-20).

The report (what would be created, every rejection and warning, the reconciliation) is deterministic: sorted,
no times and no database ids, so two dry runs and the real run on the same data print the same report, and
`diff` of two report files shows exactly what changed between rehearsals. Runbook: docs/migration.md; the
files: docs/formats/legacy-import.md.
"""

from __future__ import annotations

import getpass
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.management.tenant_arg import add_schema_argument, check_tenant
from booking.migration.importer import do_import_legacy
from booking.migration.outcome import ImportOutcome
from booking.migration.parsing import read_directory
from booking.migration.records import STATUSES
from integrations.legacy_import import LegacyImportError, Problem

DEFAULT_LIMIT = 30
_KIND_LABELS = {
    "settings.csv": "settings.csv（予約設定）",
    "places.csv": "places.csv（交付場所）",
    "cards.csv": "cards.csv（カード）",
    "bookings.csv": "bookings.csv（予約）",
}
_STATUS_LABELS = {
    "confirmed": "予約中 confirmed",
    "visited": "来庁 visited",
    "no_show": "来庁なし no-show",
    "cancelled": "取消 cancelled",
}


class Command(BaseCommand):
    help = (
        "Import the old booking system's data (settings.csv, places.csv, cards.csv, bookings.csv in DIR) "
        "into a tenant, all or nothing, and reconcile it. --dry-run does the same import and rolls it back. "
        "Format: docs/formats/legacy-import.md; runbook: docs/migration.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_schema_argument(parser)
        parser.add_argument("directory", type=Path, metavar="DIR", help="the folder with the CSV files")
        parser.add_argument(
            "--dry-run", action="store_true", help="do the whole import, report, then roll it back"
        )
        parser.add_argument(
            "--report", type=Path, metavar="FILE", help="write the full report (every rejection) to FILE"
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"rejections and warnings shown here (default {DEFAULT_LIMIT}; the report file has all)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema: str = options["schema"]
        directory: Path = options["directory"]
        dry_run: bool = options["dry_run"]
        check_tenant(schema)
        mode = (
            "ドライラン（最後にすべて取り消します） / dry run (everything is rolled back at the end)"
            if dry_run
            else "本番取込 / real import"
        )
        self.stdout.write(f"旧システムからの移行 / legacy import: {schema} ← {directory}\n{mode}\n")
        try:
            with schema_context(schema):
                data = read_directory(directory, today=timezone.localdate())
                actor = oplog.Actor(None, f"manage.py import_legacy ({getpass.getuser()})", "localhost")
                outcome = do_import_legacy(data, dry_run=dry_run, actor=actor)
        except LegacyImportError as exc:
            raise CommandError(exc.message) from exc
        if options["report"]:
            _write_report(options["report"], report(outcome))
        self.stdout.write(report(outcome, limit=max(options["limit"], 0)))
        self._finish(outcome, options["report"])

    def _finish(self, outcome: ImportOutcome, report_path: Path | None) -> None:
        if report_path:
            self.stdout.write(f"報告書 / report: {report_path}")
        rejected = len(outcome.rejections)
        if outcome.dry_run:
            self.stdout.write(
                "ドライランのため、データベースは変更していません / dry run: the database was not changed"
            )
        elif rejected:
            self.stdout.write(
                f"不採用が{rejected}件あるため、何も取り込んでいません（全件か0件か） / "
                f"{rejected} rejection(s): nothing was imported (all or nothing)"
            )
        else:
            self.stdout.write(self.style.SUCCESS("取り込みました / imported"))
        if rejected:
            raise CommandError(f"不採用が{rejected}件あります / {rejected} rejection(s)")
        if not outcome.reconciliation.ok:
            raise CommandError("照合で差異があります / the reconciliation found differences")


def _write_report(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(
            f"報告書を書き出せません: {path}（{exc.strerror}） / "
            f"cannot write the report to {path}: {exc.strerror}"
        ) from exc


# --- the report: only what the data decides (no times, no ids), so runs can be compared ------------------


def report(outcome: ImportOutcome, *, limit: int | None = None) -> str:
    lines = ["== 読み込んだファイル / files =="]
    lines += _table(
        ["ファイル / file", "文字コード / encoding", "データ行 / rows"],
        [[file.name, file.encoding or "（なし / none）", str(file.rows)] for file in outcome.files],
    )
    lines += ["", "== 取込内容 / what the import makes =="]
    lines += _table(
        ["種類 / kind", "ファイル / source", "新規 / new", "既存 / existing", "不採用 / rejected"],
        [
            [_KIND_LABELS[name], str(c.source), str(c.new), str(c.existing), str(c.rejected)]
            for name, c in outcome.counts.items()
        ],
    )
    also = outcome.also_created
    lines.append(
        f"このほか / also: 予約枠 / slots {also['slots']}、カード履歴 / card events {also['card_events']}、"
        f"予約履歴 / booking events {also['booking_events']}"
    )
    lines += _problems("不採用 / rejected", outcome.rejections, limit)
    lines += _problems("注意 / warnings", outcome.warnings, limit)
    lines += ["", *_reconciliation(outcome)]
    return "\n".join(lines) + "\n"


def _problems(title: str, problems: Sequence[Problem], limit: int | None) -> list[str]:
    lines = ["", f"== {title}: {len(problems)}件 =="]
    shown = problems if limit is None else problems[:limit]
    lines += [f"- {problem}" for problem in shown]
    if len(shown) < len(problems):
        rest = len(problems) - len(shown)
        lines.append(
            f"… ほか{rest}件（--report で全件を書き出せます） / and {rest} more (--report writes them all)"
        )
    return lines


def _reconciliation(outcome: ImportOutcome) -> list[str]:
    checks = outcome.reconciliation
    lines = ["== 照合 / reconciliation（ファイル / source と データベース / database） =="]
    lines += _table(
        ["種類 / kind", "ファイル / source", "データベース / database", "判定 / result"],
        [[_KIND_LABELS[c.kind], str(c.source), str(c.database), _mark(c.ok)] for c in checks.kinds],
    )
    lines += ["", "日ごとの予約（ファイル/データベース） / bookings per day (source/database)"]
    lines += _table(
        ["日付 / date", *(_STATUS_LABELS[status] for status in STATUSES), "判定 / result"],
        [
            [
                day.day.isoformat(),
                *(f"{source}/{stored}" for source, stored in zip(day.source, day.database, strict=True)),
                _mark(day.ok),
            ]
            for day in checks.days
        ],
    )
    verdict = "OK" if checks.ok else "差異あり / differences"
    lines.append(f"照合結果 / reconciliation: {verdict}")
    return lines


def _mark(ok: bool) -> str:
    return "OK" if ok else "差異 / DIFF"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True)
        )

    return [line(header).rstrip(), *(line(row).rstrip() for row in rows)]
