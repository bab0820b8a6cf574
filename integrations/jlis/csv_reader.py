"""The CSV layouts (the J-LIS CSV with its Japanese header, and CARDS.csv with its English one): records,
header columns in any order, and what is not CSV."""

from __future__ import annotations

import csv
import io

from booking.lib.japanese import nfkc
from integrations.jlis.records import CardImportError, Problem, RawRecord


def read_csv(text: str, columns: dict[str, str]) -> tuple[list[RawRecord], list[Problem]]:
    """Records of a CSV whose header names the six fields (in any order) with the names in `columns`.

    Blank lines (also lines of empty cells such as `,,,,,`) are skipped but keep their line numbers.
    """
    try:
        records = csv_records(text)
    except CsvError as exc:
        raise CardImportError(Problem(exc.ja, exc.en, line=exc.line)) from exc
    if not records:
        raise CardImportError(Problem("ファイルが空です", "the file is empty"))
    (header_line, header), *body = records
    positions = _column_positions(header_line, header, columns)
    if not body:
        raise CardImportError(
            Problem("データ行がありません（見出しだけです）", "no data rows (only the header)")
        )
    rows: list[RawRecord] = []
    problems: list[Problem] = []
    width = len(header)
    for line, cells in body:
        if len(cells) != width:
            problems.append(
                Problem(
                    f"列の数が見出しと合いません（{len(cells)}列、見出しは{width}列）",
                    f"has {len(cells)} cells, the header has {width}",
                    line=line,
                )
            )
        else:
            rows.append(RawRecord(line, {field: cells[position] for field, position in positions.items()}))
    return rows, problems


class CsvError(Exception):
    """A record that is not valid CSV: `line` is where it starts, `ja` and `en` say why."""

    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(f"line {line}: {error}")
        self.line = line
        self.ja = f"CSV として読めません（{error}）"
        self.en = f"not valid CSV ({error})"


def csv_records(text: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each CSV record; CsvError at the first that is not CSV.

    Blank records (also lines of empty cells such as `,,,,,`) are left out; the others keep their lines.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvError(start, exc) from exc
    return records


def header_name(cell: str) -> str:
    """A header cell as it is compared: NFKC (full-width "ＩＤ" is "ID"), trimmed, lower case."""
    return nfkc(cell).strip().lower()


def _column_positions(line: int, header: list[str], columns: dict[str, str]) -> dict[str, int]:
    """Field → cell position; CardImportError naming missing, unknown and repeated columns."""
    known = {header_name(name): name for name in columns}
    names = [header_name(cell) for cell in header]
    problems = []
    missing = [name for name in columns if header_name(name) not in names]
    if missing:
        listed = ", ".join(missing)
        problems.append(Problem(f"列がありません: {listed}", f"missing column(s): {listed}", line=line))
    unknown = [cell.strip() or f"({number}列目: 空欄)" for number, cell in enumerate(header, 1)]
    unknown = [shown for shown, name in zip(unknown, names, strict=True) if name not in known]
    if unknown:
        listed = ", ".join(unknown)
        problems.append(Problem(f"不明な列があります: {listed}", f"unknown column(s): {listed}", line=line))
    repeated = sorted({known[name] for name in names if name in known and names.count(name) > 1})
    if repeated:
        listed = ", ".join(repeated)
        problems.append(
            Problem(f"同じ列が複数あります: {listed}", f"repeated column(s): {listed}", line=line)
        )
    if problems:
        raise CardImportError(problems)
    return {columns[known[name]]: position for position, name in enumerate(names)}
