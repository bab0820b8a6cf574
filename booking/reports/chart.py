"""The monthly chart: inline SVG built here, so it needs no JavaScript and works in the mail as on the
screen."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from booking.reports.formatting import monthly_title
from booking.reports.queries import DayRow, MonthlyFigures

CHART_LEFT = 44
CHART_TOP = 34
CHART_HEIGHT = 160
CHART_BOTTOM = 24
CHART_STEP = 22
CHART_BAR = 8
CALLS_COLOUR = "#1f5fa8"  # blue and orange: told apart with any common colour-vision deficiency
NEW_COLOUR = "#c05a00"
CLOSED_COLOUR = "#ececec"
INK = "#333333"


def _axis(peak: int) -> tuple[int, int]:
    """A round step (1, 2, 5, 10, 20, …) giving at most five gridlines, and the axis top above `peak`."""
    base = 1
    while True:
        for multiple in (1, 2, 5):
            step = base * multiple
            if peak <= step * 5:
                return step, max(step, -(-peak // step) * step)
        base *= 10


def monthly_chart_svg(figures: MonthlyFigures, chart_id: str = "monthly-chart") -> SafeString:
    """Bars of calls and new bookings per day, days off shaded; `role="img"` with a title and a summary,
    the same numbers being in the table next to it for screen readers and printouts."""
    peak = max((max(r.counts.calls_total, r.counts.new_total) for r in figures.rows), default=0)
    step, top = _axis(peak)
    width = CHART_LEFT + len(figures.rows) * CHART_STEP + 8
    height = CHART_TOP + CHART_HEIGHT + CHART_BOTTOM
    parts = [
        _chart_open(figures, chart_id, width, height),
        *_chart_grid(step, top, width),
        *_chart_legend(),
    ]
    for index, row in enumerate(figures.rows):
        parts.extend(_chart_day(index, row, top))
    parts.append(
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/></svg>',
            CHART_LEFT,
            CHART_TOP + CHART_HEIGHT,
            width - 8,
            CHART_TOP + CHART_HEIGHT,
            INK,
        )
    )
    return format_html_join("", "{}", ((part,) for part in parts))


def _chart_open(figures: MonthlyFigures, chart_id: str, width: int, height: int) -> SafeString:
    busiest = max(figures.rows, key=lambda r: r.counts.calls_total)
    summary = _(
        "日ごとの受電件数と新規予約件数の棒グラフ。月の合計は受電%(calls)d件、新規予約%(new)d件。"
        "受電が最も多かったのは%(day)d日の%(most)d件。土日祝・年末年始は灰色の背景。"
    ) % {
        "calls": figures.totals.calls_total,
        "new": figures.totals.new_total,
        "day": busiest.day.day,
        "most": busiest.counts.calls_total,
    }
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{0}-title {0}-desc" '
        'width="{1}" height="{2}" viewBox="0 0 {1} {2}" font-family="sans-serif" class="report-chart">'
        '<title id="{0}-title">{3}</title><desc id="{0}-desc">{4}</desc>',
        chart_id,
        width,
        height,
        _("%(title)s: 日別の受電件数と新規予約件数") % {"title": monthly_title(figures)},
        summary,
    )


def _y(value: int, top: int) -> float:
    return CHART_TOP + CHART_HEIGHT - value * CHART_HEIGHT / top


def _coord(value: float) -> str:
    return f"{value:.1f}"


def _chart_grid(step: int, top: int, width: int) -> list[SafeString]:
    return [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#cccccc"/>'
            '<text x="{}" y="{}" font-size="10" text-anchor="end" fill="{}">{}</text>',
            CHART_LEFT,
            _coord(_y(value, top)),
            width - 8,
            _coord(_y(value, top)),
            CHART_LEFT - 4,
            _coord(_y(value, top) + 3),
            INK,
            value,
        )
        for value in range(0, top + 1, step)
    ]


def _chart_legend() -> list[SafeString]:
    items = [
        (CALLS_COLOUR, _("受電件数")),
        (NEW_COLOUR, _("新規予約件数")),
        (CLOSED_COLOUR, _("土日祝・年末年始")),
    ]
    return [
        format_html(
            '<rect x="{}" y="8" width="10" height="10" fill="{}" stroke="#999999"/>'
            '<text x="{}" y="17" font-size="11" fill="{}">{}</text>',
            CHART_LEFT + index * 120,
            colour,
            CHART_LEFT + index * 120 + 14,
            INK,
            label,
        )
        for index, (colour, label) in enumerate(items)
    ]


def _chart_day(index: int, row: DayRow, top: int) -> list[SafeString]:
    x = CHART_LEFT + index * CHART_STEP
    parts = []
    if not row.operating:
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                x,
                CHART_TOP,
                CHART_STEP,
                CHART_HEIGHT,
                CLOSED_COLOUR,
            )
        )
    bars = [
        (2, CALLS_COLOUR, row.counts.calls_total, _("受電")),
        (12, NEW_COLOUR, row.counts.new_total, _("新規予約")),
    ]
    for offset, colour, value, label in bars:
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
                x + offset,
                _coord(_y(value, top)),
                CHART_BAR,
                _coord(CHART_TOP + CHART_HEIGHT - _y(value, top)),
                colour,
                _("%(month)d月%(day)d日 %(label)s %(n)d件")
                % {"month": row.day.month, "day": row.day.day, "label": label, "n": value},
            )
        )
    parts.append(
        format_html(
            '<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="{}">{}</text>',
            x + CHART_STEP // 2,
            CHART_TOP + CHART_HEIGHT + 14,
            INK,
            row.day.day,
        )
    )
    return parts
