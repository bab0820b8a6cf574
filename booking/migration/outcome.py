"""What a migration import reports (SO-20): per file what became of its rows, every rejection and warning,
and the reconciliation of the files against the database. Only what the data decides (no times, no ids), so
that reports of two runs on the same data are the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from booking.migration.records import SourceFile
from integrations.legacy_import import Problem


@dataclass
class KindCount:
    """Per file: its data rows, and what became of them (new + existing + rejected = source)."""

    source: int = 0
    new: int = 0
    existing: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class KindCheck:
    kind: str
    source: int
    database: int  # rows of the file found in the database after the import, by a query of their own

    @property
    def ok(self) -> bool:
        return self.source == self.database


@dataclass(frozen=True)
class DayCheck:
    """Bookings of one day by outcome (STATUSES order): in the file, and in the database."""

    day: dt.date
    source: tuple[int, ...]
    database: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.source == self.database


@dataclass(frozen=True)
class Reconciliation:
    kinds: list[KindCheck]
    days: list[DayCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.kinds) and all(check.ok for check in self.days)


@dataclass
class ImportOutcome:
    dry_run: bool
    committed: bool
    files: list[SourceFile]
    counts: dict[str, KindCount]
    also_created: dict[str, int]  # slots, card_events, booking_events
    rejections: list[Problem]
    warnings: list[Problem]
    reconciliation: Reconciliation

    @property
    def ok(self) -> bool:
        return not self.rejections and self.reconciliation.ok
