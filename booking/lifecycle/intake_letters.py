"""What `manage.py import_cards` writes for the operator: its report, and LETTERS.csv (the letters of the
cards given a password by the import, for printing). LETTERS.csv holds passwords: it is a private file
(`booking.lib.private_files`), written only after the import committed. Format: docs/formats/cards-csv.md.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from booking.lib.private_files import write_private
from booking.lifecycle.intake import MAX_PROBLEMS_KEPT, ImportResult
from integrations import csv_export
from integrations.jlis import CardImportError, Problem
from integrations.notice_letters import Letter

LETTER_COLUMNS = ("application_id", "reservation_number", "password", "name", "postal_code", "address")


def summary(result: ImportResult) -> str:
    line = (
        f"取込: 新規 {result.new}件、再発行 {result.reissued}件、変更なし {result.unchanged}件 / "
        f"imported: {result.new} new, {result.reissued} reissued, {result.unchanged} unchanged"
    )
    notes = [line]
    if not result.changed:
        notes.append("データベースは何も変わっていません / nothing changed in the database")
    if result.differing:
        count = len(result.differing)
        notes.append(
            f"登録済みの {count}件はファイルの内容と異なりますが、更新していません"
            "（更新してパスワードを再発行するには --letters と --reissue） / "
            f"{count} existing application(s) differ from the file and were not updated "
            "(use --letters with --reissue to update them and issue new passwords)"
        )
        notes.extend(str(problem) for problem in result.differing[:MAX_PROBLEMS_KEPT])
        if count > MAX_PROBLEMS_KEPT:
            notes.append(f"ほか{count - MAX_PROBLEMS_KEPT}件 / and {count - MAX_PROBLEMS_KEPT} more")
    return "\n".join(notes)


def letters_written(path: Path, count: int) -> str:
    return (
        f"通知書データ {count}件を書き出しました: {path}（パスワードを含みます。印刷後は削除してください） / "
        f"wrote {count} letter row(s) to {path} (it holds passwords: delete it once the letters are printed)"
    )


def no_letters(path: Path) -> str:
    return (
        f"発行した通知書はないため、{path} は書き出していません / no letters to print; {path} was not written"
    )


# --- writing LETTERS.csv -------------------------------------------------------------------------------


def escape_cell(value: str) -> str:
    """A leading ' keeps a spreadsheet from running the cell as a formula (CSV injection), as in every CSV
    the service writes (`integrations.csv_export.safe_cell`)."""
    return csv_export.safe_cell(value)


def letters_csv(letters: Iterable[Letter]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LETTER_COLUMNS)
    writer.writerows(
        [escape_cell(str(getattr(letter, column))) for column in LETTER_COLUMNS] for letter in letters
    )
    return buffer.getvalue()


def check_letters_path(path: Path, *, cards_path: Path, force: bool) -> None:
    """Refuse before importing anything if the letters could not be written there afterwards."""
    parent = path.parent
    if not parent.is_dir():
        raise CardImportError(
            Problem(f"書き出し先のフォルダがありません: {parent}", f"no such directory: {parent}")
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CardImportError(
            Problem(f"書き出し先のフォルダに書き込めません: {parent}", f"cannot write to directory {parent}")
        )
    if not os.path.lexists(path):
        return
    if path.is_dir():
        raise CardImportError(Problem(f"{path} はフォルダです", f"{path} is a directory"))
    if _same_file(path, cards_path):
        raise CardImportError(
            Problem(
                "通知書データの書き出し先が取込ファイルと同じです",
                "the letters file must not be the cards file",
            )
        )
    if not force:
        raise CardImportError(
            Problem(
                f"{path} は既に存在します。上書きする場合は --force を指定してください",
                f"{path} already exists; use --force to overwrite it",
            )
        )


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:
        return False


def write_letters(path: Path, letters: Sequence[Letter], *, force: bool) -> None:
    """LETTERS.csv, UTF-8 with a BOM, mode 0600; an existing file is replaced only with `force`."""
    data = letters_csv(letters).encode("utf-8-sig")
    try:
        write_private(path, [data], replace=force)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CardImportError(
            Problem(
                f"カードは登録しましたが、通知書データを {path} に書き出せませんでした（{reason}）。"
                "今回の申請のパスワードは失われたため、--reissue を付けて取り込み直してください",
                f"the cards were imported but the letters could not be written to {path} ({reason}); "
                "their passwords are lost: import the file again with --reissue",
            )
        ) from exc
