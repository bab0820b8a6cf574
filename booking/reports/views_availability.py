"""The municipality's own availability reports (BK-08), read from the control plane through its named
interface `console.availability`: the month's figure and each term, the chart, the stops, and the CSV.
Administrators only (Can.VIEW_AVAILABILITY); a municipality sees only its own, by the request's tenant."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from booking.access.gate import staff_view
from booking.access.permissions import Can
from console import availability
from integrations import csv_export

TEMPLATE = "booking/staff/reports/availability.html"


def _month(request: HttpRequest) -> tuple[int, int]:
    raw = request.GET.get("month", "")
    return availability.parse_month(raw) if raw else availability.previous_month()


def _tenant_id(request: HttpRequest) -> int:
    return int(request.tenant.pk)  # type: ignore[attr-defined]


@staff_view(Can.VIEW_AVAILABILITY, log_reads="availability.view")
def availability_page(request: HttpRequest) -> HttpResponse:
    months = [f"{y:04d}-{m:02d}" for y, m in availability.report_months(_tenant_id(request))]
    try:
        year, month = _month(request)
    except ValueError as error:
        context = {"problem": str(error), "months": months, "month_code": request.GET.get("month", "")[:7]}
        return render(request, TEMPLATE, context, status=400)
    report = availability.month_report(_tenant_id(request), year, month)
    return render(
        request,
        TEMPLATE,
        {
            "report": report,
            "chart": availability.chart_svg(report),
            "legend": availability.legend(),
            "target": availability.TARGET,
            "months": months,
            "month_code": report.label,
        },
    )


@staff_view(Can.VIEW_AVAILABILITY, log_reads="availability.export")
def availability_csv(request: HttpRequest) -> HttpResponse:
    try:
        year, month = _month(request)
    except ValueError as error:
        return render(request, TEMPLATE, {"problem": str(error), "months": []}, status=400)
    report = availability.month_report(_tenant_id(request), year, month)
    rows = b"".join(
        csv_export.iter_csv(availability.csv_header(), availability.csv_rows(report), "utf-8-sig", excel=True)
    )
    response = HttpResponse(rows, content_type=csv_export.content_type("utf-8-sig"))
    response["Content-Disposition"] = csv_export.content_disposition(
        f"availability-{report.label}", "utf-8-sig"
    )
    return response
