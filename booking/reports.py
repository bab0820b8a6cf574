"""Call-center reports (CC-05, Kyoto's spec 3⑵シ): a daily report mailed after each operating day, and a
monthly report (CSV, and an HTML page with a chart of daily volumes) on screen and by mail.

The numbers come only from records the system already keeps: the call log (one row per call taken) and
the bookings' history (one event per booking, change and cancellation, with its channel). A report
therefore always agrees with the lists staff see, and holds no personal data.

Each report has one `Report` row per period. Sending locks that row and marks it sent in the same
transaction as the mail goes out, so two workers (a beat run and a retry, or two beats) send one mail
between them, and a failed send leaves the row unsent, with its error, for the retry.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, F, QuerySet
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from booking import schedule, windows
from booking.models import Booking, BookingEvent, CallLogEntry, Place, Report, Service, Weekday
from booking.queries import booking_rules
from integrations import csv_export
from tenants.db import tenant_connection
from tenants.queries import tenant_display_name

logger = logging.getLogger(__name__)

# The daily report lists the bookings of every calendar day up to this many operating days ahead.
AHEAD_OPERATING_DAYS = 3
# A day's report is due from this time (JST), when the call center has closed; the beat runs then.
DAILY_REPORT_TIME = dt.time(18, 0)
# A daily report that failed on all its retries is tried again by the next runs for this many days.
CATCH_UP_DAYS = 7
MAIL_LANGUAGE = "ja"
MAX_ERROR_CHARS = 2000
# The report's row stays locked while the mail is handed over: never wait on a silent SMTP server for ever.
MAIL_TIMEOUT_SECONDS = 60
WEEKDAYS_JA = "月火水木金土日"
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
ADDRESS_SEPARATORS = re.compile(r"[\r\n,;、，；]+")


# --- days -----------------------------------------------------------------------------------------------


def is_operating_day(day: dt.date) -> bool:
    """The call center's working days (Kyoto's spec): Monday to Friday, not a national holiday, not the
    New Year break (29 Dec – 3 Jan). Only these days get a daily report."""
    return day.weekday() < 5 and not schedule.holiday_name(day) and not schedule.is_new_year_break(day)


@lru_cache(maxsize=16)
def _holiday_names(year: int, language: str) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year, language=language)


def day_note(day: dt.date) -> str:
    """Why a day has no reception beyond the weekend: the holiday's name (in Japanese unless the page is in
    English), or the New Year break; else empty."""
    if schedule.holiday_name(day):  # the booking calendar's own test, so report and calendar agree
        language = "en_US" if (translation.get_language() or "ja").startswith("en") else "ja"
        return str(_holiday_names(day.year, language).get(day) or schedule.holiday_name(day))
    return _("年末年始") if schedule.is_new_year_break(day) else ""


def following_days(day: dt.date, operating_days: int = AHEAD_OPERATING_DAYS) -> list[dt.date]:
    """Every calendar day after `day` up to its n-th next operating day: some places open at weekends,
    so a Friday's report also shows Saturday's and Sunday's bookings."""
    days: list[dt.date] = []
    found = 0
    current = day
    while found < operating_days:
        current += dt.timedelta(days=1)
        days.append(current)
        found += is_operating_day(current)
    return days


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=schedule.TOKYO)


def _month_days(year: int, month: int) -> list[dt.date]:
    return [dt.date(year, month, n) for n in range(1, calendar.monthrange(year, month)[1] + 1)]


def _next_month(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1)


def previous_month(now: dt.datetime) -> tuple[int, int]:
    first = now.astimezone(schedule.TOKYO).date().replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


def latest_due_day(now: dt.datetime) -> dt.date:
    """The most recent day whose daily report is due: today from DAILY_REPORT_TIME, before it yesterday.

    A retry that runs after midnight therefore still reports the day it was started for."""
    local = now.astimezone(schedule.TOKYO)
    return local.date() if local.time() >= DAILY_REPORT_TIME else local.date() - dt.timedelta(days=1)


def parse_day(text: str) -> dt.date | None:
    """A YYYY-MM-DD date from a query string, or None (any other form, or an implausible year)."""
    if not DAY_PATTERN.fullmatch(text):
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if windows.plausible_day(day) else None


def parse_month(text: str) -> tuple[int, int] | None:
    """A YYYY-MM month from a query string, or None."""
    match = MONTH_PATTERN.fullmatch(text)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not windows.plausible_day(dt.date(year, 1, 1)):
        return None
    return year, month


# --- figures --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class PlaceAhead:
    """Confirmed bookings of one place on each of the days shown (DailyFigures.ahead_days)."""

    name: str
    counts: tuple[int, ...]


@dataclass(frozen=True)
class DailyFigures:
    day: dt.date
    calls: tuple[Tally, ...]
    new_by_channel: tuple[Tally, ...]
    new_by_service: tuple[Tally, ...]
    changes: int
    cancellations: int
    ahead_days: tuple[dt.date, ...]
    ahead: tuple[PlaceAhead, ...]

    @property
    def calls_total(self) -> int:
        return sum(tally.count for tally in self.calls)

    @property
    def new_total(self) -> int:
        return sum(tally.count for tally in self.new_by_channel)

    @property
    def ahead_totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*(p.counts for p in self.ahead), strict=True)) or tuple(
            0 for _day in self.ahead_days
        )

    @property
    def operating(self) -> bool:
        return is_operating_day(self.day)

    @property
    def note(self) -> str:
        return day_note(self.day)


def _count_by(rows: QuerySet[Any], *fields: str) -> dict[Any, int]:
    """Row counts grouped by `fields`: one key (a value) for one field, a tuple for several."""
    grouped = rows.order_by().values(*fields).annotate(n=Count("pk")).values_list(*fields, "n")
    if len(fields) == 1:
        return {key: n for key, n in grouped}
    return {tuple(row[:-1]): row[-1] for row in grouped}


def _tallies(choices: list[tuple[str, Any]], counts: Mapping[Any, int]) -> tuple[Tally, ...]:
    return tuple(Tally(key, str(label), counts.get(key, 0)) for key, label in choices)


def daily_figures(day: dt.date) -> DailyFigures:
    """The day's figures in the current tenant's schema: what the daily report and the screen show."""
    start, end = _start_of(day), _start_of(day + dt.timedelta(days=1))
    events = BookingEvent.objects.filter(at__gte=start, at__lt=end)
    booked = events.filter(kind=BookingEvent.Kind.BOOKED)
    # The service booked is the event's slot's: the booking may since have moved to another service.
    by_service = _count_by(
        booked.annotate(service_key=Coalesce("to_slot__service_id", "booking__slot__service_id")),
        "service_key",
    )
    kinds = _count_by(events, "kind")
    ahead_days, ahead = _bookings_ahead(day)
    return DailyFigures(
        day=day,
        calls=_tallies(
            CallLogEntry.Kind.choices,
            _count_by(CallLogEntry.objects.filter(at__gte=start, at__lt=end), "kind"),
        ),
        new_by_channel=_tallies(Booking.Channel.choices, _count_by(booked, "channel")),
        new_by_service=tuple(
            Tally(service.code, service.label, by_service.get(service.pk, 0))
            for service in Service.objects.order_by("display_order", "code")
        ),
        changes=kinds.get(BookingEvent.Kind.CHANGED, 0),
        cancellations=kinds.get(BookingEvent.Kind.CANCELLED, 0),
        ahead_days=ahead_days,
        ahead=ahead,
    )


def _bookings_ahead(day: dt.date) -> tuple[tuple[dt.date, ...], tuple[PlaceAhead, ...]]:
    """Confirmed bookings per place on the coming days: operating days always, other days when booked."""
    days = following_days(day)
    bookings = Booking.objects.filter(
        status=Booking.Status.CONFIRMED,
        slot__starts_at__gte=_start_of(days[0]),
        slot__starts_at__lt=_start_of(days[-1] + dt.timedelta(days=1)),
    ).annotate(local_day=TruncDate("slot__starts_at", tzinfo=schedule.TOKYO))
    counts = _count_by(bookings, "slot__place_id", "local_day")
    booked_days = {local_day for _place, local_day in counts}
    shown = tuple(d for d in days if is_operating_day(d) or d in booked_days)
    places = Place.objects.filter(pk__in={place_id for place_id, _day in counts}).order_by(
        "display_order", "code"
    )
    return shown, tuple(
        PlaceAhead(place.label, tuple(counts.get((place.pk, d), 0) for d in shown)) for place in places
    )


@dataclass(frozen=True)
class Counts:
    calls: tuple[int, ...]  # per CallLogEntry.Kind, in its order
    new: tuple[int, ...]  # per Booking.Channel, in its order
    changes: int
    cancellations: int

    @property
    def calls_total(self) -> int:
        return sum(self.calls)

    @property
    def new_total(self) -> int:
        return sum(self.new)


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    counts: Counts

    @property
    def operating(self) -> bool:
        return is_operating_day(self.day)

    @property
    def note(self) -> str:
        return day_note(self.day)

    @property
    def weekday(self) -> str:
        return str(Weekday(self.day.weekday()).label)


@dataclass(frozen=True)
class MonthlyFigures:
    year: int
    month: int
    call_kinds: tuple[str, ...]
    channels: tuple[str, ...]
    rows: tuple[DayRow, ...]
    totals: Counts

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def month_code(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def monthly_figures(year: int, month: int) -> MonthlyFigures:
    """Per-day counts of a month (every calendar day: web bookings come at weekends too) and totals."""
    days = _month_days(year, month)
    start, end = _start_of(days[0]), _start_of(_next_month(year, month))
    calls = _count_by(
        CallLogEntry.objects.filter(at__gte=start, at__lt=end).annotate(
            local_day=TruncDate("at", tzinfo=schedule.TOKYO)
        ),
        "local_day",
        "kind",
    )
    events = _count_by(
        BookingEvent.objects.filter(at__gte=start, at__lt=end).annotate(
            local_day=TruncDate("at", tzinfo=schedule.TOKYO)
        ),
        "local_day",
        "kind",
        "channel",
    )
    rows = tuple(DayRow(day, _day_counts(day, calls, events)) for day in days)
    return MonthlyFigures(
        year=year,
        month=month,
        call_kinds=tuple(str(label) for _key, label in CallLogEntry.Kind.choices),
        channels=tuple(str(label) for _key, label in Booking.Channel.choices),
        rows=rows,
        totals=_sum_counts([row.counts for row in rows]),
    )


def _day_counts(day: dt.date, calls: Mapping[Any, int], events: Mapping[Any, int]) -> Counts:
    def events_of(kind: str) -> int:
        return sum(events.get((day, kind, channel), 0) for channel in Booking.Channel.values)

    return Counts(
        calls=tuple(calls.get((day, kind), 0) for kind in CallLogEntry.Kind.values),
        new=tuple(events.get((day, BookingEvent.Kind.BOOKED, ch), 0) for ch in Booking.Channel.values),
        changes=events_of(BookingEvent.Kind.CHANGED),
        cancellations=events_of(BookingEvent.Kind.CANCELLED),
    )


def _sum_counts(counts: list[Counts]) -> Counts:
    return Counts(
        calls=tuple(sum(column) for column in zip(*(c.calls for c in counts), strict=True)),
        new=tuple(sum(column) for column in zip(*(c.new for c in counts), strict=True)),
        changes=sum(c.changes for c in counts),
        cancellations=sum(c.cancellations for c in counts),
    )


# --- rendering ------------------------------------------------------------------------------------------


def format_day(day: dt.date) -> str:
    """A date as the mails write it: 2026年11月20日（金）."""
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


def tenant_name() -> str:
    """The municipality's name for subjects: a reader may receive the reports of several tenants."""
    db = tenant_connection()
    name = getattr(db.tenant, "name", "")  # a task's schema_context gives a stand-in without the name
    return str(name) if name else tenant_display_name(db.schema_name)


def render_daily(figures: DailyFigures) -> tuple[str, str]:
    """The daily report's subject and plain-text body (plain text reads the same in every mail client)."""
    subject = _("【日報】%(tenant)s %(day)s 受電%(calls)d件・新規予約%(new)d件") % {
        "tenant": tenant_name(),
        "day": format_day(figures.day),
        "calls": figures.calls_total,
        "new": figures.new_total,
    }
    lines = [
        _("%(tenant)s 予約システム 日報") % {"tenant": tenant_name()},
        _("対象日: %(day)s") % {"day": format_day(figures.day)},
        "",
        _("■ 受電件数（計 %(n)d件）") % {"n": figures.calls_total},
        *_tally_lines(figures.calls),
        "",
        _("■ 新規予約（計 %(n)d件）") % {"n": figures.new_total},
        "  " + _("受付経路別"),
        *_tally_lines(figures.new_by_channel, indent="    "),
        "  " + _("サービス別"),
        *_tally_lines(figures.new_by_service, indent="    "),
        "",
        _("■ 予約の変更: %(n)d件") % {"n": figures.changes},
        _("■ 予約の取消: %(n)d件") % {"n": figures.cancellations},
        "",
        _("■ 今後の予約件数（予約済み、予約のある場所のみ）"),
        *_ahead_lines(figures),
        "",
        _(
            "この報告は予約システムから自動で送信しています。日別・月別の集計は管理画面の「日報・月報」で見られます。"
        ),
    ]
    return subject, "\n".join(lines) + "\n"


def _tally_lines(tallies: tuple[Tally, ...], indent: str = "  ") -> list[str]:
    return [f"{indent}{tally.label}: " + _("%(n)d件") % {"n": tally.count} for tally in tallies]


def _ahead_lines(figures: DailyFigures) -> list[str]:
    lines: list[str] = []
    for index, day in enumerate(figures.ahead_days):
        total = figures.ahead_totals[index]
        note = f" {day_note(day)}" if day_note(day) else ""
        lines.append(f"  {format_day(day)}{note}: " + _("計 %(n)d件") % {"n": total})
        lines.extend(
            f"    {place.name}: " + _("%(n)d件") % {"n": place.counts[index]}
            for place in figures.ahead
            if place.counts[index]
        )
    return lines


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


def render_monthly(figures: MonthlyFigures) -> tuple[str, str, str]:
    """The monthly report's subject, plain-text body and HTML body (the screen's chart and table)."""
    totals = figures.totals
    subject = _("【月報】%(tenant)s %(year)d年%(month)d月 受電%(calls)d件・新規予約%(new)d件") % {
        "tenant": tenant_name(),
        "year": figures.year,
        "month": figures.month,
        "calls": totals.calls_total,
        "new": totals.new_total,
    }
    lines = [
        _("%(tenant)s 予約システム 月報") % {"tenant": tenant_name()},
        _("対象月: %(year)d年%(month)d月") % {"year": figures.year, "month": figures.month},
        "",
        _("■ 受電件数（計 %(n)d件）") % {"n": totals.calls_total},
        *(
            f"  {kind}: " + _("%(n)d件") % {"n": n}
            for kind, n in zip(figures.call_kinds, totals.calls, strict=True)
        ),
        _("■ 新規予約（計 %(n)d件）") % {"n": totals.new_total},
        *(f"  {ch}: " + _("%(n)d件") % {"n": n} for ch, n in zip(figures.channels, totals.new, strict=True)),
        _("■ 予約の変更: %(n)d件") % {"n": totals.changes},
        _("■ 予約の取消: %(n)d件") % {"n": totals.cancellations},
        "",
        _("■ 日別（受電 / 新規予約 / 変更 / 取消）"),
        *(
            f"  {row.day.month}/{row.day.day}（{WEEKDAYS_JA[row.day.weekday()]}）"
            f" {row.counts.calls_total} / {row.counts.new_total} / {row.counts.changes} / "
            f"{row.counts.cancellations}{' ' + row.note if row.note else ''}"
            for row in figures.rows
        ),
        "",
        _("日別の内訳は添付のCSVと、HTML表示のグラフ・表をご覧ください。"),
    ]
    html = render_to_string(
        "booking/staff/reports/monthly_mail.html",
        {"figures": figures, "chart": monthly_chart_svg(figures), "title": monthly_title(figures)},
    )
    return subject, "\n".join(lines) + "\n", html


# --- the chart (inline SVG, built here: no JavaScript, and it works in the mail as on the screen) --------

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


# --- sending --------------------------------------------------------------------------------------------


def report_recipients() -> list[str]:
    """The tenant's report addresses (one a line; commas tolerated). A word that is not an address is
    skipped and logged rather than failing the whole report."""
    found: list[str] = []
    for part in ADDRESS_SEPARATORS.split(booking_rules().report_emails):
        word = part.strip()
        if not word:
            continue
        try:
            validate_email(word)
        except ValidationError:
            logger.warning(
                "report address skipped (not an e-mail address) in schema %s", tenant_connection().schema_name
            )
            continue
        if word.lower() not in {address.lower() for address in found}:
            found.append(word)
    return found


def _mail_connection() -> Any:
    """The configured backend, with a bounded timeout unless EMAIL_TIMEOUT sets one."""
    return get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or MAIL_TIMEOUT_SECONDS)


def _send_once(period: str, starts_on: dt.date, message: EmailMessage, now: dt.datetime) -> bool:
    """Send `message` unless the period's report has been sent.

    The Report row is locked, marked sent and the mail handed to the backend in one transaction: a
    concurrent sender waits for the lock and then sees it sent; if the backend raises, the mark is rolled
    back and the attempt and its error are recorded in a short transaction of their own for the retry.
    """
    Report.objects.get_or_create(period=period, starts_on=starts_on)
    try:
        with transaction.atomic():
            report = Report.objects.select_for_update().get(period=period, starts_on=starts_on)
            if report.sent_at is not None:
                return False
            report.attempts += 1
            report.sent_at = now
            report.save(update_fields=["attempts", "sent_at"])
            message.send()
    except Exception as error:
        Report.objects.filter(period=period, starts_on=starts_on, sent_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        )
        raise
    return True


def do_send_daily_report(day: dt.date, now: dt.datetime | None = None) -> bool:
    """Mail `day`'s report to the tenant's addresses, once. False when not sent: not an operating day,
    not yet due, no addresses, or already sent. Raises when the mail backend fails (Celery retries)."""
    now = now or timezone.now()
    if not is_operating_day(day) or now < dt.datetime.combine(day, DAILY_REPORT_TIME, tzinfo=schedule.TOKYO):
        return False
    recipients = report_recipients()
    if not recipients:
        return False
    with translation.override(MAIL_LANGUAGE):
        subject, text = render_daily(daily_figures(day))
    message = EmailMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=_mail_connection(),
    )
    return _send_once(Report.Period.DAY, day, message, now)


def do_send_due_daily_reports(now: dt.datetime | None = None) -> int:
    """The beat's daily run: the latest due day, and any recent day whose every retry failed.

    Every day is tried even if one fails; the first failure is raised afterwards so that Celery retries
    the run (days already sent are skipped then)."""
    now = now or timezone.now()
    due = latest_due_day(now)
    failed = Report.objects.filter(
        period=Report.Period.DAY,
        sent_at__isnull=True,
        attempts__gt=0,
        starts_on__gte=due - dt.timedelta(days=CATCH_UP_DAYS),
        starts_on__lt=due,
    ).values_list("starts_on", flat=True)
    sent = 0
    failure: Exception | None = None
    for day in sorted({*failed, due}):
        try:
            sent += do_send_daily_report(day, now)
        except Exception as error:
            logger.exception("daily report of %s failed in schema %s", day, tenant_connection().schema_name)
            failure = failure or error
    if failure is not None:
        raise failure
    return sent


def do_send_monthly_report(year: int, month: int, now: dt.datetime | None = None) -> bool:
    """Mail the month's report (text, HTML with the chart, the CSV attached) once, after the month ended."""
    now = now or timezone.now()
    if now < _start_of(_next_month(year, month)):
        return False
    recipients = report_recipients()
    if not recipients:
        return False
    with translation.override(MAIL_LANGUAGE):
        figures = monthly_figures(year, month)
        subject, text, html = render_monthly(figures)
        attachment = (f"{monthly_csv_stem(figures)}.csv", monthly_csv_bytes(figures, "utf-8-sig"))
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=_mail_connection(),
    )
    message.attach_alternative(html, "text/html")
    message.attach(attachment[0], attachment[1], "text/csv")
    return _send_once(Report.Period.MONTH, dt.date(year, month, 1), message, now)


def do_send_previous_monthly_report(now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return do_send_monthly_report(*previous_month(now), now=now)
