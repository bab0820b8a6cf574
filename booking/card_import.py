"""Importing card applications from CARDS.csv and writing LETTERS.csv (the notice letters' data).

The format is described for municipal staff in docs/formats/cards-csv.md. Reading, checking and writing
the files are pure functions; `do_import_cards` is the one write, all or nothing. Every message is
Japanese first, then English, separated by " / ".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction

from booking.models import Card
from booking.services import IssuedCard, do_issue_card, do_reissue_credentials

COLUMNS = ("application_id", "name", "name_kana", "birth_date", "postal_code", "address")
LETTER_COLUMNS = ("application_id", "reservation_number", "password", "name", "postal_code", "address")
APPLICATION_ID_DIGITS = 23
NAME_MAX = 100
ADDRESS_MAX = 200
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_LOOKUP_CHUNK = 5000
_LOCK_KEY = "madoguchi.booking.card_import"

_DIGITS_RE = re.compile(r"[0-9]+")
_EXCEL_NUMBER_RE = re.compile(r"[0-9](\.[0-9]+)?E\+?[0-9]+", re.IGNORECASE)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_POSTAL_RE = re.compile(r"([0-9]{3})-?([0-9]{4})")
# Katakana (small letters, ヴ, ヷ-ヺ), the middle dot, the long vowel mark and iteration marks.
_KATAKANA_RE = re.compile(r"[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe]")
_INVISIBLE_CATEGORIES = {"Cc", "Cf"}


# --- problems ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; `line` is the file's line (1 = header), `field` the column."""

    ja: str
    en: str
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.ja} / {self.en}"
        where = f" {self.field}" if self.field else ""
        return f"{self.line}行目{where}: {self.ja} / line {self.line}{where}: {self.en}"

    @property
    def sort_key(self) -> tuple[int, int]:
        column = COLUMNS.index(self.field) if self.field in COLUMNS else -1
        return (self.line or 0, column)


class CardImportError(Exception):
    """The import cannot be carried out (nothing was imported), or its letters could not be written.

    `problems` lists every reason found; `message` is what the command shows.
    """

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if len(self.problems) == 1 and self.problems[0].line is None:
            return str(self.problems[0])
        count = len(self.problems)
        head = f"{count}件の誤りがあります。何も取り込んでいません / {count} error(s); nothing was imported"
        return "\n".join([head, *(str(problem) for problem in self.problems)])


class _Invalid(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja = ja
        self.en = en


# --- reading CARDS.csv ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardRow:
    """One application from the file, checked and normalised."""

    line: int
    application_id: str
    name: str
    name_kana: str
    birth_date: dt.date
    postal_code: str
    address: str


def read_cards_file(path: Path) -> str:
    """The file's text (UTF-8, a BOM dropped), or CardImportError saying why it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CardImportError(
            Problem(f"ファイルが見つかりません: {path}", f"file not found: {path}")
        ) from exc
    except OSError as exc:
        raise CardImportError(
            Problem(f"ファイルを読めません: {path}（{exc.strerror}）", f"cannot read {path}: {exc.strerror}")
        ) from exc
    return decode_cards(data)


def decode_cards(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CardImportError(
            Problem(
                f"UTF-8 ではありません（{line}行目）。"
                "Excel では「CSV UTF-8（コンマ区切り）」で保存してください",
                f'not UTF-8 (line {line}); in Excel, save as "CSV UTF-8 (Comma delimited)"',
            )
        ) from exc
    if not text.strip():
        raise CardImportError(Problem("ファイルが空です", "the file is empty"))
    return text


def parse_cards(text: str, *, today: dt.date) -> list[CardRow]:
    """Every row checked; CardImportError with all problems found if any row (or the header) is wrong."""
    records = [(line, cells) for line, cells in _records(text) if any(cell.strip() for cell in cells)]
    if not records:
        raise CardImportError(Problem("ファイルが空です", "the file is empty"))
    (header_line, header), *body = records
    columns = _column_positions(header_line, header)
    if not body:
        raise CardImportError(
            Problem("データ行がありません（見出しだけです）", "no data rows (only the header)")
        )
    rows: list[CardRow] = []
    problems: list[Problem] = []
    ids: list[tuple[int, str]] = []
    for line, cells in body:
        row, row_problems, application_id = _parse_row(line, cells, columns, len(header), today)
        problems.extend(row_problems)
        if application_id:
            ids.append((line, application_id))
        if row is not None:
            rows.append(row)
    problems.extend(_duplicates(ids))
    if problems:
        raise CardImportError(sorted(problems, key=lambda problem: problem.sort_key))
    return rows


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CardImportError(
            Problem(f"CSV として読めません（{exc}）", f"not valid CSV ({exc})", line=start)
        ) from exc


def _column_positions(line: int, header: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    problems = []
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        listed = ", ".join(missing)
        problems.append(Problem(f"列がありません: {listed}", f"missing column(s): {listed}", line=line))
    unknown = [name or f"({number}列目: 空欄)" for number, name in enumerate(names, 1) if name not in COLUMNS]
    if unknown:
        listed = ", ".join(unknown)
        problems.append(Problem(f"不明な列があります: {listed}", f"unknown column(s): {listed}", line=line))
    repeated = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
    if repeated:
        listed = ", ".join(repeated)
        problems.append(
            Problem(f"同じ列が複数あります: {listed}", f"repeated column(s): {listed}", line=line)
        )
    if problems:
        raise CardImportError(problems)
    return {name: position for position, name in enumerate(names)}


def _parse_row(
    line: int, cells: list[str], columns: dict[str, int], width: int, today: dt.date
) -> tuple[CardRow | None, list[Problem], str]:
    """The row (None if any field is wrong), its problems, and its application_id if that one is right."""
    if len(cells) != width:
        problem = Problem(
            f"列の数が見出しと合いません（{len(cells)}列、見出しは{width}列）",
            f"has {len(cells)} cells, the header has {width}",
            line=line,
        )
        return None, [problem], ""
    values: dict[str, Any] = {}
    problems = []
    for column in COLUMNS:
        try:
            values[column] = _clean(column, cells[columns[column]], today)
        except _Invalid as invalid:
            problems.append(Problem(invalid.ja, invalid.en, line=line, field=column))
    application_id: str = values.get("application_id", "")
    if problems:
        return None, problems, application_id
    return CardRow(line=line, **values), [], application_id


def _clean(column: str, raw: str, today: dt.date) -> str | dt.date:
    text = _visible_text(raw)
    if not text:
        raise _Invalid("入力されていません", "is required")
    if column == "birth_date":
        return clean_birth_date(text, today)
    return _CLEANERS[column](text)


def _duplicates(ids: Iterable[tuple[int, str]]) -> list[Problem]:
    first_line: dict[str, int] = {}
    problems = []
    for line, application_id in ids:
        if application_id in first_line:
            first = first_line[application_id]
            problems.append(
                Problem(
                    f"{first}行目と同じ申請書IDです",
                    f"same application_id as line {first}",
                    line=line,
                    field="application_id",
                )
            )
        else:
            first_line[application_id] = line
    return problems


# --- the fields (each: stripped, non-empty text in; the value to store out, or _Invalid) ---------------


def _visible_text(raw: str) -> str:
    text = raw.strip()
    if any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text):
        raise _Invalid(
            "改行・タブなどの制御文字や見えない文字は使えません",
            "contains a line break, tab or other invisible character",
        )
    return text


def clean_application_id(text: str) -> str:
    value = unicodedata.normalize("NFKC", text)
    if _EXCEL_NUMBER_RE.fullmatch(value):
        raise _Invalid(
            "Excel で数値に変換され、桁が失われています（列を「文字列」にして作り直してください）",
            "was turned into a number by Excel and lost digits (format the column as text)",
        )
    if not _DIGITS_RE.fullmatch(value):
        raise _Invalid("数字以外の文字が含まれています", "contains characters other than digits")
    if len(value) != APPLICATION_ID_DIGITS:
        raise _Invalid(
            f"{APPLICATION_ID_DIGITS}桁の数字ではありません（{len(value)}桁）",
            f"must be {APPLICATION_ID_DIGITS} digits (got {len(value)})",
        )
    return value


def clean_name(text: str) -> str:
    return _within(text, NAME_MAX)


def clean_name_kana(text: str) -> str:
    """Katakana and spaces; half-width kana and full-width spaces normalised (NFKC), spaces collapsed."""
    value = " ".join(unicodedata.normalize("NFKC", text).split())
    others = sorted({char for char in value if char != " " and not _KATAKANA_RE.fullmatch(char)})
    if others:
        shown = "".join(others[:5])
        raise _Invalid(
            f"カタカナで入力してください（使えない文字: {shown}）",
            f"must be katakana and spaces (not allowed: {shown})",
        )
    return _within(value, NAME_MAX)


def clean_birth_date(text: str, today: dt.date) -> dt.date:
    value = unicodedata.normalize("NFKC", text)
    if not _DATE_RE.fullmatch(value):
        raise _Invalid("日付の形式が正しくありません（YYYY-MM-DD）", "not a date (YYYY-MM-DD)")
    try:
        date = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _Invalid(f"存在しない日付です（{value}）", f"no such date ({value})") from exc
    if date > today:
        raise _Invalid(f"未来の日付です（{value}）", f"is in the future ({value})")
    if date < EARLIEST_BIRTH_DATE:
        raise _Invalid(f"1900年より前の日付です（{value}）", f"is before 1900 ({value})")
    return date


def clean_postal_code(text: str) -> str:
    match = _POSTAL_RE.fullmatch(unicodedata.normalize("NFKC", text))
    if match is None:
        raise _Invalid(
            "郵便番号の形式が正しくありません（123-4567 または 1234567）",
            "not a postal code (123-4567 or 1234567)",
        )
    return f"{match[1]}-{match[2]}"


def clean_address(text: str) -> str:
    return _within(text, ADDRESS_MAX)


def _within(value: str, limit: int) -> str:
    if len(value) > limit:
        raise _Invalid(
            f"{limit}文字以内にしてください（{len(value)}文字）",
            f"longer than {limit} characters ({len(value)})",
        )
    return value


_CLEANERS = {
    "application_id": clean_application_id,
    "name": clean_name,
    "name_kana": clean_name_kana,
    "postal_code": clean_postal_code,
    "address": clean_address,
}


# --- the import ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One row of LETTERS.csv: what the notice letter prints, with the only clear copy of the password."""

    application_id: str
    reservation_number: str
    password: str = field(repr=False)
    name: str
    postal_code: str
    address: str

    @classmethod
    def of(cls, issued: IssuedCard) -> Letter:
        card = issued.card
        return cls(
            application_id=card.application_id,
            reservation_number=card.reservation_number,
            password=issued.password,
            name=card.name,
            postal_code=card.postal_code,
            address=card.address,
        )

    def cells(self) -> list[str]:
        return [str(getattr(self, column)) for column in LETTER_COLUMNS]


@dataclass
class ImportResult:
    new: int = 0
    reissued: int = 0
    unchanged: int = 0
    differing: int = 0  # unchanged applications whose data in the file differs from the database
    letters: list[Letter] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.reissued)


_UPDATABLE = ("name", "name_kana", "birth_date", "postal_code", "address")


def do_import_cards(rows: Sequence[CardRow], *, reissue: bool = False) -> ImportResult:
    """Issue a card for each new application, all or nothing; with `reissue`, new passwords for known ones.

    Runs in the current tenant's schema. An application already there is left as it is unless `reissue`:
    then its data is updated from the file and it gets a new password (its reservation number stays).
    """
    result = ImportResult()
    try:
        with transaction.atomic():
            _lock_imports()
            existing = _existing_cards([row.application_id for row in rows], lock=reissue)
            for row in rows:
                _import_row(row, existing.get(row.application_id), reissue, result)
    except IntegrityError as exc:
        raise CardImportError(
            Problem(
                "同時に別の処理がカードを登録したため中止しました。何も取り込んでいません。もう一度実行してください",
                "another process registered cards at the same time; nothing was imported, run it again",
            )
        ) from exc
    return result


def _import_row(row: CardRow, card: Card | None, reissue: bool, result: ImportResult) -> None:
    if card is None:
        issued = do_issue_card(
            application_id=row.application_id,
            name=row.name,
            name_kana=row.name_kana,
            birth_date=row.birth_date,
            postal_code=row.postal_code,
            address=row.address,
        )
        result.letters.append(Letter.of(issued))
        result.new += 1
    elif reissue:
        for name in _UPDATABLE:
            setattr(card, name, getattr(row, name))
        card.save(update_fields=list(_UPDATABLE))
        result.letters.append(Letter.of(do_reissue_credentials(card)))
        result.reissued += 1
    else:
        result.unchanged += 1
        result.differing += int(_differs(card, row))


def _differs(card: Card, row: CardRow) -> bool:
    return any(getattr(card, name) != getattr(row, name) for name in _UPDATABLE)


def _lock_imports() -> None:
    """One import at a time: a second one waits, then sees the first one's cards as existing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK_KEY])


def _existing_cards(application_ids: list[str], *, lock: bool) -> dict[str, Card]:
    found: dict[str, Card] = {}
    for start in range(0, len(application_ids), _LOOKUP_CHUNK):
        cards = Card.objects.filter(application_id__in=application_ids[start : start + _LOOKUP_CHUNK])
        if lock:
            cards = cards.select_for_update()
        found.update((card.application_id, card) for card in cards)
    return found


# --- reporting -----------------------------------------------------------------------------------------


def summary(result: ImportResult) -> str:
    line = (
        f"取込: 新規 {result.new}件、再発行 {result.reissued}件、変更なし {result.unchanged}件 / "
        f"imported: {result.new} new, {result.reissued} reissued, {result.unchanged} unchanged"
    )
    notes = [line]
    if not result.changed:
        notes.append("データベースは何も変わっていません / nothing changed in the database")
    if result.differing:
        notes.append(
            f"登録済みの {result.differing}件はファイルの内容と異なりますが、更新していません"
            f"（更新してパスワードを再発行するには --reissue） / {result.differing} existing application(s) "
            "differ from the file and were not updated (use --reissue to update them and issue new passwords)"
        )
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
    """A leading ' keeps a spreadsheet from running the cell as a formula (CSV injection)."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def letters_csv(letters: Iterable[Letter]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LETTER_COLUMNS)
    writer.writerows([escape_cell(cell) for cell in letter.cells()] for letter in letters)
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
        if force:
            _replace_file(path, data)
        else:
            _create_file(path, data)
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


def _create_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _replace_file(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".letters-", suffix=".csv")
    try:
        _write_all(fd, data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
