"""The vendor console's availability screens (BK-08): every municipality's figure this month and last, one
municipality's monthly report (chart, table, stops) with the form that records an outage, and its CSV."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from console import availability, vendor_log
from console.access import operator_required
from console.availability_services import do_record_outage, do_withdraw_outage, report_csv_bytes
from console.models import AvailabilityReportMail, Outage
from integrations import csv_export
from madoguchi.client_address import client_address
from tenants.models import Municipality
from tenants.queries import customer_tenants

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


class OutageForm(forms.Form):
    cause = forms.ChoiceField(
        label=gettext_lazy("原因"),
        choices=[
            (Outage.Cause.MUNICIPALITY.value, gettext_lazy("自治体の原因（稼働率の停止時間から除く）")),
            (Outage.Cause.OURS.value, gettext_lazy("当社の原因（記録のみ、稼働率は変わらない）")),
        ],
    )
    reference = forms.CharField(
        label=gettext_lazy("自治体の文書・受付番号"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("自治体の原因のときは必須（依頼書・障害受付の番号など）"),
        widget=forms.TextInput(attrs={"aria-describedby": "id_reference-help"}),
    )
    starts_at = forms.DateTimeField(
        label=gettext_lazy("停止開始"),
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("停止終了"),
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(label=gettext_lazy("内容"), max_length=300, required=False)


def _tenant(schema: str) -> Municipality:
    return get_object_or_404(customer_tenants(), schema_name=schema)


@operator_required
def index(request: HttpRequest) -> HttpResponse:
    """This month's and last month's figure for every municipality."""
    now = timezone.now()
    this = timezone.localtime(now, availability.TOKYO)
    last = availability.previous_month(now)
    rows = []
    for tenant in customer_tenants():
        rows.append(
            {
                "tenant": tenant,
                "this": availability.month_report(tenant.pk, this.year, this.month, now).totals,
                "last": availability.month_report(tenant.pk, *last, now=now).totals,
            }
        )
    return render(
        request,
        "console/availability_index.html",
        {
            "rows": rows,
            "this_code": f"{this.year:04d}-{this.month:02d}",
            "last_code": f"{last[0]:04d}-{last[1]:02d}",
            "target": availability.TARGET,
        },
    )


def _month_or_refusal(
    request: HttpRequest, tenant: Municipality, month: str
) -> tuple[int, int] | HttpResponse:
    """(year, month) from the URL, or the page saying what is wrong with it (400)."""
    try:
        return availability.parse_month(month)
    except ValueError as error:
        return render(
            request,
            "console/availability.html",
            {"tenant": tenant, "problem": str(error), "form": None},
            status=400,
        )


@operator_required
def report(request: HttpRequest, schema: str, month: str) -> HttpResponse:
    tenant = _tenant(schema)
    parsed = _month_or_refusal(request, tenant, month)
    if isinstance(parsed, HttpResponse):
        return parsed
    year, number = parsed
    form = OutageForm(request.POST or None)
    problem = ""
    if request.method == "POST":
        if form.is_valid():
            outage = Outage(tenant=tenant, **form.cleaned_data)
            try:
                do_record_outage(outage, actor=_actor(request))
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                return redirect("console:availability_report", schema=schema, month=month)
        problem = _("停止の記録を登録できませんでした。")
    return render(
        request,
        "console/availability.html",
        {**_report_context(tenant, year, number), "form": form, "problem": problem},
        status=400 if problem else 200,
    )


def _report_context(tenant: Municipality, year: int, month: int) -> dict[str, Any]:
    result = availability.month_report(tenant.pk, year, month)
    index = year * 12 + month - 1
    return {
        "tenant": tenant,
        "report": result,
        "chart": availability.chart_svg(result),
        "legend": availability.legend(),
        "target": availability.TARGET,
        "previous_code": f"{(index - 1) // 12:04d}-{(index - 1) % 12 + 1:02d}",
        "next_code": f"{(index + 1) // 12:04d}-{(index + 1) % 12 + 1:02d}",
        "can_withdraw": True,  # only the console's copy of the report offers to withdraw a record
        "mail": AvailabilityReportMail.objects.filter(tenant=tenant, month=result.starts_at.date()).first(),
    }


@operator_required
@require_POST
def withdraw_outage(request: HttpRequest, schema: str, month: str, pk: int) -> HttpResponse:
    """Withdraw an outage record made in error (POST; the vendor log keeps what it said)."""
    outage = get_object_or_404(Outage, pk=pk, tenant=_tenant(schema))
    do_withdraw_outage(outage, actor=_actor(request))
    return redirect("console:availability_report", schema=schema, month=month)


@operator_required
def report_csv(request: HttpRequest, schema: str, month: str) -> HttpResponse:
    tenant = _tenant(schema)
    parsed = _month_or_refusal(request, tenant, month)
    if isinstance(parsed, HttpResponse):
        return parsed
    year, number = parsed
    result = availability.month_report(tenant.pk, year, number)
    response = HttpResponse(report_csv_bytes(result), content_type=csv_export.content_type("utf-8-sig"))
    response["Content-Disposition"] = csv_export.content_disposition(
        f"availability-{tenant.schema_name}-{result.label}", "utf-8-sig"
    )
    return response


def _actor(request: HttpRequest) -> vendor_log.Actor:
    user = request.user
    return vendor_log.Actor(user.get_username(), user.pk, client_address(request))
