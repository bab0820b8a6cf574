"""How the reports write what they show, on screen, in the mails and in the monthly CSV: the monthly title,
and the CSV's header and rows. Dates are written by booking.lib.dates (`japanese_date`)."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _

from booking.reports.queries import Counts, MonthlyFigures
from integrations import csv_export


def monthly_csv_header(figures: MonthlyFigures) -> list[str]:
    return [
        _("日付"),
        _("曜日"),
        _("備考"),
        *(_("受電（%(kind)s）") % {"kind": kind} for kind in figures.call_kinds),
        _("受電 計"),
        *(_("新規予約（%(channel)s）") % {"channel": channel} for channel in figures.channels),
        _("新規予約 計"),
        _("変更"),
        _("取消"),
    ]


def _count_cells(counts: Counts) -> list[object]:
    return [
        *counts.calls,
        counts.calls_total,
        *counts.new,
        counts.new_total,
        counts.changes,
        counts.cancellations,
    ]


def monthly_csv_rows(figures: MonthlyFigures) -> Iterator[list[object]]:
    """One row per day, then the month's totals."""
    for row in figures.rows:
        yield [row.day, row.weekday, row.note, *_count_cells(row.counts)]
    yield [_("合計"), "", "", *_count_cells(figures.totals)]


def monthly_csv_bytes(figures: MonthlyFigures, encoding: str) -> bytes:
    return b"".join(csv_export.iter_csv(monthly_csv_header(figures), monthly_csv_rows(figures), encoding))


def monthly_csv_stem(figures: MonthlyFigures) -> str:
    return _("月報_%(year)d年%(month)02d月") % {"year": figures.year, "month": figures.month}


def monthly_title(figures: MonthlyFigures) -> str:
    return _("%(year)d年%(month)d月の月報") % {"year": figures.year, "month": figures.month}
