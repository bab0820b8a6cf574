"""The monthly availability report (BK-08), computed from the prober's samples and the stop records; and the
named interface through which a municipality's staff console reads its own reports.

availability = (provided − (stopped − (planned + city-caused))) / provided, each term in whole minutes of
the month in Asia/Tokyo (docs/operations.md, "稼働率の計算"):

- provided: every minute from the month's start (or the municipality's first probe sample, if later) to the
  month's end (or the last whole minute before now). The site is offered around the clock.
- a minute is *up* when at least one probe sample in it succeeded, *stopped* when its samples all failed.
  A minute with no sample of its own takes the result of the previous minute's sample (one minute of grace
  for a prober that runs a little late); with none there either it is stopped ("no sample"): we cannot show
  the site was up, and a prober that cannot write its samples (the database is down) is one reason.
  A minute any part of which falls in an emergency stop that takes the site down is stopped whatever the
  samples say: residents' bookings were refused (the prober never books), and emergency stops count.
- planned: stopped minutes any part of which falls in a planned stop (PlannedStop of kind planned, for this
  municipality or all; emergency stops are not planned).
- city-caused: stopped minutes, not planned, any part of which falls in an outage recorded as caused by the
  municipality (Outage, with the municipality's reference), or whose samples all say the municipality's
  service was suspended (ProbeSample.SUSPENDED: a suspension is the municipality's, or its contract's, stop).

So planned + city-caused never exceed stopped, and a planned stop during which the site stayed up takes
nothing off. The figure is shown rounded down to three decimals, so it never overstates.

Tenant code may import this module (like console.announcements): `month_report(tenant_id, year, month)`,
`report_months(tenant_id)`, `chart_svg(report)`, `csv_rows(report)`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from django.contrib.postgres.aggregates import BoolAnd, BoolOr
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.models import Outage, PlannedStop, ProbeSample

TOKYO = ZoneInfo("Asia/Tokyo")
MINUTE = dt.timedelta(minutes=1)
DAY_MINUTES = 1440
TARGET = Decimal("99.5")  # per cent a month, the contract's promise
SUSPENDED_SAMPLE = Q(reason=ProbeSample.SUSPENDED)
MAX_STOP_ROWS = 200  # the list of stops the prober saw stops here; the totals count every minute

# a minute's state
NONE, UP, OURS, PLANNED, CITY = "none", "up", "ours", "planned", "city"
CAUSE_LABELS = {
    "planned": gettext_lazy("計画停止"),
    "emergency": gettext_lazy("緊急停止（計画停止に数えない）"),
    "municipality": gettext_lazy("自治体の原因"),
    "ours": gettext_lazy("当社の原因"),
}


@dataclass
class Minutes:
    provided: int = 0
    stopped: int = 0
    no_sample: int = 0  # stopped minutes with no sample (included in stopped)
    planned: int = 0
    city: int = 0

    @property
    def counted(self) -> int:
        """Stopped minutes that count against availability: stopped − (planned + city-caused)."""
        return self.stopped - (self.planned + self.city)

    @property
    def availability(self) -> Decimal | None:
        """Per cent, rounded down to three decimals; None when nothing was provided."""
        if not self.provided:
            return None
        exact = Decimal(self.provided - self.counted) * 100 / Decimal(self.provided)
        return exact.quantize(Decimal("0.001"), rounding=ROUND_FLOOR)

    @property
    def met(self) -> bool | None:
        figure = self.availability
        return None if figure is None else figure >= TARGET

    def add(self, other: Minutes) -> None:
        self.provided += other.provided
        self.stopped += other.stopped
        self.no_sample += other.no_sample
        self.planned += other.planned
        self.city += other.city


@dataclass(frozen=True)
class Segment:
    start: int  # minute of the day
    length: int
    state: str


@dataclass
class DayRow:
    day: dt.date
    minutes: Minutes
    segments: list[Segment] = field(default_factory=list)


@dataclass(frozen=True)
class StopRecord:
    """A planned or emergency stop, or an outage record, as far as it falls in the month."""

    cause: str  # planned | emergency | municipality | ours
    starts_at: dt.datetime
    ends_at: dt.datetime
    reference: str
    note: str
    recorded_by: str
    minutes: int  # its length within the month
    stopped: int  # the stopped minutes within it
    outage_id: int | None = None  # an operator's record (it may be withdrawn), not a planned-stop record

    @property
    def cause_label(self) -> str:
        return str(CAUSE_LABELS[self.cause])


@dataclass(frozen=True)
class SeenStop:
    """A run of stopped minutes the prober saw, and what it counts as."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    minutes: int
    planned: int
    city: int
    no_sample: int

    @property
    def counted(self) -> int:
        return self.minutes - self.planned - self.city


@dataclass
class MonthReport:
    tenant_id: int
    year: int
    month: int
    starts_at: dt.datetime  # the month, in Tokyo
    ends_at: dt.datetime
    measured_from: dt.datetime | None  # the first minute provided (None: no sample yet)
    measured_until: dt.datetime | None
    complete: bool  # the month has ended
    totals: Minutes
    days: list[DayRow]
    records: list[StopRecord]
    seen: list[SeenStop]
    seen_truncated: bool
    samples: int
    failed_samples: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The month's first instant and the next month's, in Tokyo."""
    start = dt.datetime(year, month, 1, tzinfo=TOKYO)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=TOKYO)
    return start, end


def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' → (year, month); ValueError with a message for anything else."""
    try:
        year_text, month_text = text.strip().split("-")
        year, month = int(year_text), int(month_text)
        # a bounded year: 9999-12 would run past datetime's last year (a 500) and no report is that far off
        if len(year_text) != 4 or not 1 <= month <= 12 or not 2000 <= year <= 2099:
            raise ValueError
    except ValueError:
        raise ValueError(
            _("月は YYYY-MM の形で入力してください（例: 2026-11）。「%(text)s」は読めません。")
            % {"text": text[:20]}
        ) from None
    return year, month


def previous_month(now: dt.datetime | None = None) -> tuple[int, int]:
    today = timezone.localtime(now or timezone.now(), TOKYO).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


def _floor_minute(at: dt.datetime) -> dt.datetime:
    return at.replace(second=0, microsecond=0)


def _index(start: dt.datetime, at: dt.datetime, *, up: bool) -> int:
    """The minute of `at` counted from `start`; rounded up (`up`) for the end of an interval."""
    seconds = (at - start).total_seconds() / 60
    return math.ceil(seconds) if up else math.floor(seconds)


def month_report(tenant_id: int, year: int, month: int, now: dt.datetime | None = None) -> MonthReport:
    """Every term of the formula for one municipality and month, per day and in total; the stop records and
    the stops the prober saw. Reads only."""
    now = now or timezone.now()
    start, end = month_bounds(year, month)
    size = int((end - start) / MINUTE)
    samples = ProbeSample.objects.filter(tenant_id=tenant_id)
    first = samples.order_by("at").values_list("at", flat=True).first()
    measured_from = max(start, _floor_minute(first)) if first and first < end else None
    measured_until = min(end, _floor_minute(now))
    lo = _index(start, measured_from, up=False) if measured_from else size
    hi = max(lo, _index(start, measured_until, up=False))

    # One sample result per minute (from the minute before the month: its grace covers the first minute)
    sampled: dict[int, bool] = {}
    suspended: set[int] = set()  # minutes whose samples all say the service was suspended
    per_minute = (
        samples.filter(at__gte=start - MINUTE, at__lt=end)
        .annotate(minute=TruncMinute("at", tzinfo=TOKYO))
        .values("minute")
        .annotate(
            up=BoolOr("ok"),
            suspended=BoolAnd(ExpressionWrapper(SUSPENDED_SAMPLE, output_field=BooleanField())),
        )
        .values_list("minute", "up", "suspended")
    )
    for minute, up, was_suspended in per_minute:
        sampled[_index(start, minute, up=False)] = bool(up)
        if was_suspended:
            suspended.add(_index(start, minute, up=False))
    counts = samples.filter(at__gte=start, at__lt=end).aggregate(
        n=Count("pk"), failed=Count("pk", filter=Q(ok=False))
    )

    planned_mask = bytearray(size)
    city_mask = bytearray(size)
    down_mask = bytearray(size)  # emergency stops refusing residents' bookings: stopped, though pages answer
    stops = PlannedStop.objects.filter(
        Q(tenant_id=tenant_id) | Q(tenant__isnull=True), starts_at__lt=end, ends_at__gt=start
    ).order_by("starts_at")
    outages = Outage.objects.filter(tenant_id=tenant_id, starts_at__lt=end, ends_at__gt=start).order_by(
        "starts_at"
    )
    for stop in stops:
        if stop.kind == PlannedStop.Kind.PLANNED:
            _mark(planned_mask, start, stop.starts_at, stop.ends_at)
        elif stop.site_down:
            _mark(down_mask, start, stop.starts_at, stop.ends_at)
    for outage in outages:
        if outage.cause == Outage.Cause.MUNICIPALITY:
            _mark(city_mask, start, outage.starts_at, outage.ends_at)

    states: list[str] = [NONE] * size
    no_sample = bytearray(size)
    for i in range(lo, hi):
        result = sampled.get(i)
        sampled_at = i
        if result is None:
            result = sampled.get(i - 1)  # one minute of grace
            sampled_at = i - 1
            if result is None:
                no_sample[i] = 1
        if result and not down_mask[i]:
            states[i] = UP
        elif planned_mask[i]:
            states[i] = PLANNED
        elif city_mask[i] or (sampled_at in suspended and not no_sample[i]):
            states[i] = CITY
        else:
            states[i] = OURS

    days: list[DayRow] = []
    totals = Minutes()
    for offset in range(0, size, DAY_MINUTES):
        row = DayRow(day=(start + dt.timedelta(minutes=offset)).date(), minutes=Minutes())
        segment_start = 0
        for m in range(DAY_MINUTES):
            i = offset + m
            state = states[i]
            _count(row.minutes, state, bool(no_sample[i]))
            if m + 1 == DAY_MINUTES or states[i + 1] != state:
                row.segments.append(Segment(segment_start, m + 1 - segment_start, state))
                segment_start = m + 1
        totals.add(row.minutes)
        days.append(row)

    records = [_stop_record(s, start, end, states) for s in stops] + [
        _outage_record(o, start, end, states) for o in outages
    ]
    records.sort(key=lambda r: r.starts_at)
    seen, truncated = _seen_stops(states, no_sample, start)
    return MonthReport(
        tenant_id=tenant_id,
        year=year,
        month=month,
        starts_at=start,
        ends_at=end,
        measured_from=measured_from,
        measured_until=start + hi * MINUTE if measured_from else None,
        complete=now >= end,
        totals=totals,
        days=days,
        records=records,
        seen=seen,
        seen_truncated=truncated,
        samples=counts["n"],
        failed_samples=counts["failed"],
    )


def _mark(mask: bytearray, start: dt.datetime, begins: dt.datetime, ends: dt.datetime) -> None:
    """Every minute any part of which falls in [begins, ends)."""
    first = max(0, _index(start, begins, up=False))
    last = min(len(mask), _index(start, ends, up=True))
    for i in range(first, last):
        mask[i] = 1


def _count(minutes: Minutes, state: str, no_sample: bool) -> None:
    if state == NONE:
        return
    minutes.provided += 1
    if state == UP:
        return
    minutes.stopped += 1
    minutes.no_sample += no_sample
    if state == PLANNED:
        minutes.planned += 1
    elif state == CITY:
        minutes.city += 1


def _within(
    start: dt.datetime, end: dt.datetime, states: list[str], begins: dt.datetime, ends: dt.datetime
) -> tuple[int, int]:
    first = max(0, _index(start, begins, up=False))
    last = min(len(states), _index(start, ends, up=True))
    stopped = sum(1 for i in range(first, last) if states[i] not in (NONE, UP))
    return max(0, last - first), stopped


def _stop_record(stop: PlannedStop, start: dt.datetime, end: dt.datetime, states: list[str]) -> StopRecord:
    minutes, stopped = _within(start, end, states, stop.starts_at, stop.ends_at)
    planned = stop.kind == PlannedStop.Kind.PLANNED
    return StopRecord(
        cause="planned" if planned else "emergency",
        starts_at=stop.starts_at,
        ends_at=stop.ends_at,
        reference=stop.approval_reference,
        note=stop.reason,
        recorded_by=stop.recorded_by,
        minutes=minutes,
        stopped=stopped,
    )


def _outage_record(outage: Outage, start: dt.datetime, end: dt.datetime, states: list[str]) -> StopRecord:
    minutes, stopped = _within(start, end, states, outage.starts_at, outage.ends_at)
    return StopRecord(
        cause=outage.cause,
        starts_at=outage.starts_at,
        ends_at=outage.ends_at,
        reference=outage.reference,
        note=outage.note,
        recorded_by=outage.recorded_by,
        minutes=minutes,
        stopped=stopped,
        outage_id=outage.pk,
    )


def _seen_stops(states: list[str], no_sample: bytearray, start: dt.datetime) -> tuple[list[SeenStop], bool]:
    seen: list[SeenStop] = []
    i, size = 0, len(states)
    while i < size:
        if states[i] in (NONE, UP):
            i += 1
            continue
        j = i
        while j < size and states[j] not in (NONE, UP):
            j += 1
        if len(seen) == MAX_STOP_ROWS:
            return seen, True
        run = states[i:j]
        seen.append(
            SeenStop(
                starts_at=start + i * MINUTE,
                ends_at=start + j * MINUTE,
                minutes=j - i,
                planned=run.count(PLANNED),
                city=run.count(CITY),
                no_sample=sum(no_sample[i:j]),
            )
        )
        i = j
    return seen, False


def report_months(tenant_id: int, now: dt.datetime | None = None, limit: int = 13) -> list[tuple[int, int]]:
    """The months with samples, newest first (the current month included), at most `limit`."""
    now = now or timezone.now()
    first = (
        ProbeSample.objects.filter(tenant_id=tenant_id).order_by("at").values_list("at", flat=True).first()
    )
    if first is None:
        return []
    month = timezone.localtime(now, TOKYO).date().replace(day=1)
    oldest = timezone.localtime(first, TOKYO).date().replace(day=1)
    months: list[tuple[int, int]] = []
    while month >= oldest and len(months) < limit:
        months.append((month.year, month.month))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return months


# --- the chart: inline SVG, no JavaScript; the table beside it carries the same figures ---

CHART_LEFT = 40
CHART_TOP = 30
ROW_HEIGHT = 14
ROW_STEP = 18
MINUTES_PER_PX = 2
COLOURS = {
    NONE: "#ececec",  # not provided (before measuring began, or still to come)
    UP: "#2e7d32",  # dark enough to stand out from "not provided" (WCAG 1.4.11); the table says it in words
    OURS: "#b00020",
    PLANNED: "#1f5fa8",
    CITY: "#c05a00",
}
STATE_LABELS = {
    NONE: gettext_lazy("対象外（計測前・未到来）"),
    UP: gettext_lazy("稼働"),
    OURS: gettext_lazy("停止（稼働率に数える）"),
    PLANNED: gettext_lazy("計画停止中の停止"),
    CITY: gettext_lazy("自治体の原因による停止"),
}


def chart_svg(report: MonthReport, chart_id: str = "availability-chart") -> SafeString:
    """One bar per day, 0:00 to 24:00 left to right, coloured by each minute's state."""
    width = CHART_LEFT + DAY_MINUTES // MINUTES_PER_PX + 24  # room for the last hour's label
    height = CHART_TOP + len(report.days) * ROW_STEP + 10
    figure = report.totals.availability
    summary = _(
        "%(month)sの日ごとの稼働状況。横軸は0時から24時。提供%(provided)d分、停止%(stopped)d分、"
        "うち計画停止%(planned)d分、自治体の原因%(city)d分。稼働率%(figure)s。"
    ) % {
        "month": report.label,
        "provided": report.totals.provided,
        "stopped": report.totals.stopped,
        "planned": report.totals.planned,
        "city": report.totals.city,
        "figure": f"{figure}%" if figure is not None else "—",
    }
    parts: list[SafeString] = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{0}-title {0}-desc" '
            'width="{1}" height="{2}" viewBox="0 0 {1} {2}" font-family="sans-serif" font-size="10" '
            'class="report-chart"><title id="{0}-title">{3}</title><desc id="{0}-desc">{4}</desc>',
            chart_id,
            width,
            height,
            _("稼働状況 %(month)s") % {"month": report.label},
            summary,
        )
    ]
    for hour in range(0, 25, 6):
        x = CHART_LEFT + hour * 60 // MINUTES_PER_PX
        parts.append(
            format_html('<text x="{}" y="{}" text-anchor="middle">{}:00</text>', x, CHART_TOP - 6, hour)
        )
    for row_index, row in enumerate(report.days):
        y = CHART_TOP + row_index * ROW_STEP
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end">{}</text>', CHART_LEFT - 4, y + 11, row.day.day
            )
        )
        for segment in row.segments:
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}–{} {}</title></rect>',
                    CHART_LEFT + segment.start / MINUTES_PER_PX,
                    y,
                    max(segment.length / MINUTES_PER_PX, 0.5),
                    ROW_HEIGHT,
                    COLOURS[segment.state],
                    row.day.isoformat(),
                    _clock(segment.start),
                    _clock(segment.start + segment.length),
                    STATE_LABELS[segment.state],
                )
            )
    parts.append(SafeString("</svg>"))
    return format_html_join("", "{}", ((part,) for part in parts))


def legend() -> list[tuple[str, str]]:
    """(colour, label) of each state, for the legend under the chart."""
    return [(COLOURS[state], str(label)) for state, label in STATE_LABELS.items()]


def _clock(minute: int) -> str:
    return f"{minute // 60:d}:{minute % 60:02d}"


# --- CSV ---


def csv_header() -> list[str]:
    return [
        _("日付"),
        _("提供時間（分）"),
        _("停止時間（分）"),
        _("うち計測なし（分）"),
        _("計画停止（分）"),
        _("自治体の原因（分）"),
        _("稼働率に数える停止（分）"),
        _("稼働率（%）"),
    ]


def csv_rows(report: MonthReport) -> Iterator[list[object]]:
    """One row per day, then the month's total."""
    for row in report.days:
        yield _csv_row(row.day.isoformat(), row.minutes)
    yield _csv_row(_("合計 %(month)s") % {"month": report.label}, report.totals)


def _csv_row(label: str, minutes: Minutes) -> list[object]:
    figure = minutes.availability
    return [
        label,
        minutes.provided,
        minutes.stopped,
        minutes.no_sample,
        minutes.planned,
        minutes.city,
        minutes.counted,
        figure if figure is not None else "",
    ]
