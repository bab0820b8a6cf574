"""What the readers give: each application's raw fields with its line, and the problems found, which
stop an import (CardImportError) or are reported line by line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import get_language

from integrations.jlis.layout import FIELDS, Layout


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; `line` is the file's line (1 = header), `field` the column."""

    ja: str
    en: str
    line: int | None = None
    field: str = ""

    def __str__(self) -> str:
        """Both languages: for commands and logs, read by whoever runs them."""
        if self.line is None:
            return f"{self.ja} / {self.en}"
        where = f" {self.field}" if self.field else ""
        return f"{self.line}行目{where}: {self.ja} / line {self.line}{where}: {self.en}"

    @property
    def reason(self) -> str:
        """In the page's language, with its line and column when it has them: for screens. (Not
        `booking.lib.display.one_language(str(self))`: a text may hold " / " itself, as ".xlsx / .xls".)"""
        where = f" {self.field}" if self.field else ""
        if (get_language() or "ja").startswith("en"):
            return self.en if self.line is None else f"line {self.line}{where}: {self.en}"
        return self.ja if self.line is None else f"{self.line}行目{where}: {self.ja}"

    @property
    def sort_key(self) -> tuple[int, int]:
        column = FIELDS.index(self.field) if self.field in FIELDS else -1
        return (self.line or 0, column)

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "ja": self.ja, "en": self.en}


class CardImportError(Exception):
    """The file cannot be imported (nothing was imported), or its letters could not be written.

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


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One application as it stands in the file: each field's text, padding and all, not yet checked."""

    line: int
    values: dict[str, str]


@dataclass
class RawFile:
    layout: Layout
    encoding: str
    records: list[RawRecord]
    problems: list[Problem]  # layout problems of single lines; the other lines are still read
