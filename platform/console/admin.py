from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from console.access import _actor
from console.models import OperatorSignIn, PlannedStop
from console.services import do_delete_stops, do_record_stop, stop_problems
from tenants.models import Municipality
from tenants.queries import customer_tenants


def _tenant_choice(tenant: Municipality) -> str:
    return f"{tenant.label} ({tenant.schema_name})"


class PlannedStopForm(forms.ModelForm):
    """The console's form for stops: the rules are console.services.stop_problems, shown by field."""

    class Meta:
        model = PlannedStop
        fields = [
            "tenant",
            "kind",
            "starts_at",
            "ends_at",
            "site_down",
            "announced_from",
            "reason",
            "reason_en",
            "approved_by",
            "approval_reference",
            "approved_on",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # blank: the notice shows from the moment the stop is recorded (do_record_stop fills it in)
        self.fields["announced_from"].required = False
        # the municipalities only, by their names in the page's language: the platform's own row (the
        # console's host) is no municipality, and a stop of it would reach no one (blank: all of them)
        tenant = self.fields["tenant"]
        tenant.queryset = customer_tenants()  # type: ignore[attr-defined]
        tenant.label_from_instance = _tenant_choice  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Checked here, on a copy, rather than after Django builds the instance: a field with an error is
        # then left out of the model's own checks, so its constraint does not repeat the message in English.
        candidate = copy.copy(self.instance)
        for field in self._meta.fields or []:
            if field in data:
                setattr(candidate, field, data[field])
        for field, message in stop_problems(candidate).items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, message)
        return data


class MunicipalityFilter(admin.RelatedFieldListFilter):
    """The list's filter by municipality: the municipalities only (not the platform's own row, which no stop
    may name), by their names in the page's language."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        return [(tenant.pk, _tenant_choice(tenant)) for tenant in customer_tenants()]


@admin.register(PlannedStop)
class PlannedStopAdmin(admin.ModelAdmin):
    """Stops are recorded by do_record_stop, which writes their vendor-log entry itself, and deleted by
    do_delete_stops: both tell every process's kept notices (console.announcements.stops_changed)."""

    form = PlannedStopForm
    logged_by_service = True
    list_display = [
        "starts_at",
        "ends_at",
        "tenant",
        "kind",
        "site_down",
        "reason",
        "approved_on",
        "approved_by",
        "approval_reference",
        "recorded_by",
    ]
    list_filter = [("tenant", MunicipalityFilter), "kind"]
    readonly_fields = ["recorded_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: PlannedStop, form: Any, change: bool) -> None:
        do_record_stop(obj, actor=_actor(request))

    def delete_model(self, request: HttpRequest, obj: PlannedStop) -> None:
        do_delete_stops(PlannedStop.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PlannedStop]) -> None:
        do_delete_stops(queryset)  # the "delete selected" action


@admin.register(OperatorSignIn)
class OperatorSignInAdmin(admin.ModelAdmin):
    """Another operator unlocks a locked account here (clear "locked until"); the change is logged."""

    list_display = ["user", "failures", "locked_until"]
    readonly_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
