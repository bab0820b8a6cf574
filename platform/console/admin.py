from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext as _

from console.models import OperatorSignIn, PlannedStop

APPROVAL_DAYS = 30


class PlannedStopForm(forms.ModelForm):
    class Meta:
        model = PlannedStop
        fields = ["tenant", "starts_at", "ends_at", "reason", "reason_en", "approved_on"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends, approved = data.get("starts_at"), data.get("ends_at"), data.get("approved_on")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("停止終了は停止開始より後にしてください。"))
        if starts and approved and approved > starts.date() - dt.timedelta(days=APPROVAL_DAYS):
            self.add_error(
                "approved_on",
                _("計画停止は%(days)d日前までに自治体の承認が必要です（SO-01）。") % {"days": APPROVAL_DAYS},
            )
        return data


@admin.register(PlannedStop)
class PlannedStopAdmin(admin.ModelAdmin):
    form = PlannedStopForm
    list_display = ["starts_at", "ends_at", "tenant", "reason", "approved_on"]
    list_filter = ["tenant"]


@admin.register(OperatorSignIn)
class OperatorSignInAdmin(admin.ModelAdmin):
    """Another operator unlocks a locked account here (clear "locked until"); the change is logged."""

    list_display = ["user", "failures", "locked_until"]
    readonly_fields = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
