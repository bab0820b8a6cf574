"""The call-center reports on screen (CC-05): a day's live tallies, the monthly page with its chart, and
the monthly CSV. Reports hold counts only, no personal data, so counter staff may see them too
(`Can.EXPORT`: administrators and counter staff)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.access.gate import staff_view
from booking.access.permissions import Can
from booking.lib.dates import TOKYO
from booking.models import Report
from booking.reports import chart, days, formatting, queries
from integrations import csv_export

RECENT_MONTHS = 12


def _today() -> dt.date:
    return timezone.now().astimezone(TOKYO).date()


def _recent_months(today: dt.date) -> list[dt.date]:
    """The first days of this month and the previous ones, newest first: links to the monthly pages."""
    months = [today.replace(day=1)]
    while len(months) < RECENT_MONTHS:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


def _month_code(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _shift_month(year: int, month: int, by: int) -> str:
    index = year * 12 + month - 1 + by
    return _month_code(index // 12, index % 12 + 1)


@staff_view(Can.EXPORT, log_reads="reports.daily")
def daily(request: HttpRequest) -> HttpResponse:
    today = _today()
    raw = request.GET.get("day", "")
    day = days.parse_day(raw) if raw else today
    context: dict[str, object] = {"months": _recent_months(today), "day_code": raw or today.isoformat()}
    if day is None:
        context["problem"] = _("日付は YYYY-MM-DD の形式（例: 2026-11-20）で指定してください。")
        return render(request, "booking/staff/reports/daily.html", context, status=400)
    context.update(
        figures=queries.daily_figures(day),
        report=Report.objects.filter(period=Report.Period.DAY, starts_on=day).first(),
        previous_code=(day - dt.timedelta(days=1)).isoformat(),
        next_code=(day + dt.timedelta(days=1)).isoformat(),
    )
    return render(request, "booking/staff/reports/daily.html", context)


def _requested_month(request: HttpRequest) -> tuple[int, int] | None:
    """The month asked for; the previous month (the one last mailed) when none is given."""
    raw = request.GET.get("month", "")
    return days.parse_month(raw) if raw else days.previous_month(timezone.now())


def _bad_month(request: HttpRequest, problem: str) -> HttpResponse:
    return render(
        request,
        "booking/staff/reports/monthly.html",
        {"problem": problem, "month_code": request.GET.get("month", "")[:7]},
        status=400,
    )


MONTH_PROBLEM = gettext_lazy("対象月は YYYY-MM の形式（例: 2026-11）で指定してください。")


@staff_view(Can.EXPORT, log_reads="reports.monthly")
def monthly(request: HttpRequest) -> HttpResponse:
    requested = _requested_month(request)
    if requested is None:
        return _bad_month(request, str(MONTH_PROBLEM))
    year, month = requested
    figures = queries.monthly_figures(year, month)
    return render(
        request,
        "booking/staff/reports/monthly.html",
        {
            "figures": figures,
            "title": formatting.monthly_title(figures),
            "chart": chart.monthly_chart_svg(figures),
            "month_code": figures.month_code,
            "previous_code": _shift_month(year, month, -1),
            "next_code": _shift_month(year, month, 1),
            "report": Report.objects.filter(period=Report.Period.MONTH, starts_on=figures.first_day).first(),
            "encodings": csv_export.ENCODINGS.values(),
            "encoding": csv_export.DEFAULT_ENCODING,
        },
    )


@staff_view(Can.EXPORT, log_reads="reports.export")
def monthly_csv(request: HttpRequest) -> HttpResponse:
    requested = _requested_month(request)
    if requested is None:
        return _bad_month(request, str(MONTH_PROBLEM))
    encoding = request.GET.get("encoding", csv_export.DEFAULT_ENCODING)
    if encoding not in csv_export.ENCODINGS:
        return _bad_month(request, _("CSVの文字コードは UTF-8（BOM付き）か Shift_JIS を選んでください。"))
    figures = queries.monthly_figures(*requested)
    response = HttpResponse(
        formatting.monthly_csv_bytes(figures, encoding), content_type=csv_export.content_type(encoding)
    )
    response["Content-Disposition"] = csv_export.content_disposition(
        formatting.monthly_csv_stem(figures), encoding
    )
    return response
