"""The vendor console's waiting-room pages: every municipality's line live, and one municipality's limits
and scheduled events. Thin: forms parse, console.waiting_room.services write (with their vendor-log entry)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from console.access import _actor, operator_required
from console.models import QueueEvent
from console.waiting_room import queries, services
from console.waiting_room.forms import EventForm, LimitsForm
from tenants.models import Municipality
from tenants.queries import customer_tenants

LIVE_REFRESH_SECONDS = 10
EVENT_PREFIX = "event"  # both forms are on one page: their fields need ids of their own


@require_GET
@operator_required
def live(request: HttpRequest) -> HttpResponse:
    """Each municipality's line, refreshed by the Refresh header unless the operator stops it (?manual=1)."""
    manual = request.GET.get("manual") == "1"
    response = render(
        request,
        "console/waiting_room/live.html",
        {"rows": queries.room_rows(), "manual": manual, "refresh_seconds": LIVE_REFRESH_SECONDS},
    )
    if not manual:
        response.headers["Refresh"] = str(LIVE_REFRESH_SECONDS)
    return response


def _tenant(schema: str) -> Municipality:
    return get_object_or_404(customer_tenants(), schema_name=schema)


def _detail(
    request: HttpRequest,
    tenant: Municipality,
    limits_form: Form | None = None,
    event_form: Form | None = None,
    status: int = 200,
) -> HttpResponse:
    room = queries.room_of(tenant)
    initial = {
        "enabled": room.enabled,
        "active_limit": room.active_limit,
        "per_minute": room.per_minute,
        "idle_minutes": room.idle_minutes,
    }
    failed = limits_form if limits_form is not None and limits_form.errors else event_form
    context: dict[str, Any] = {
        "tenant": tenant,
        "room": room,
        "limits_form": limits_form or LimitsForm(initial=initial),
        "event_form": event_form
        or EventForm(
            initial={"active_limit": room.active_limit, "per_minute": room.per_minute}, prefix=EVENT_PREFIX
        ),
        "events": queries.events_of(tenant),
        "form": failed,  # the error summary lists this form's errors
    }
    return render(request, "console/waiting_room/detail.html", context, status=status)


@require_GET
@operator_required
def detail(request: HttpRequest, schema: str) -> HttpResponse:
    return _detail(request, _tenant(schema))


def _refused(form: Form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


@require_POST
@operator_required
def set_limits(request: HttpRequest, schema: str) -> HttpResponse:
    tenant = _tenant(schema)
    form = LimitsForm(request.POST)
    if form.is_valid():
        try:
            services.do_set_waiting_room(tenant, **form.cleaned_data, actor=_actor(request))
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("待合室の設定を保存しました。"))
            return redirect("console:waiting_room", schema=schema)
    return _detail(request, tenant, limits_form=form, status=400)


@require_POST
@operator_required
def schedule_event(request: HttpRequest, schema: str) -> HttpResponse:
    tenant = _tenant(schema)
    form = EventForm(request.POST, prefix=EVENT_PREFIX)
    if form.is_valid():
        try:
            services.do_schedule_queue_event(tenant, **form.cleaned_data, actor=_actor(request))
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("待合室の予定を登録しました。"))
            return redirect("console:waiting_room", schema=schema)
    return _detail(request, tenant, event_form=form, status=400)


@require_POST
@operator_required
def cancel_event(request: HttpRequest, schema: str, event_id: int) -> HttpResponse:
    tenant = _tenant(schema)
    event = get_object_or_404(QueueEvent, pk=event_id, tenant=tenant)
    services.do_cancel_queue_event(event, actor=_actor(request))
    messages.success(request, _("待合室の予定を取り消しました。"))
    return redirect("console:waiting_room", schema=schema)
