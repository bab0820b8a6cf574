"""The console's waiting-room forms: they parse; the rules are console.waiting_room.services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from console.waiting_room.services import limit_problems

NUMBER_ERRORS = {"required": _("数を入力してください。"), "invalid": _("半角数字の整数で入力してください。")}
WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
WHEN_ERRORS = {
    "required": _("日時を入力してください。"),
    "invalid": _("日時は 2027-01-05 09:00 の形で入力してください。"),
}


def _number(label: Any, help_text: Any = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        error_messages=NUMBER_ERRORS,
        widget=forms.NumberInput(attrs={"min": 1}),
    )


def _when(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=WHEN_FORMATS,
        error_messages=WHEN_ERRORS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class LimitsForm(forms.Form):
    enabled = forms.BooleanField(label=_("待合室を使う（上限を超えた住民は順番待ちになる）"), required=False)
    active_limit = _number(_("同時に利用できる住民の数"))
    per_minute = _number(_("1分間に新たに案内する住民の数"))
    idle_minutes = _number(
        _("操作がないまま利用枠を保つ時間（分）"),
        help_text=_("この自治体の予約の確保時間（既定10分）より長くしてください。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            for field, message in limit_problems(
                data["active_limit"], data["per_minute"], data["idle_minutes"]
            ).items():
                self.add_error(field, message)
        return data


class EventForm(forms.Form):
    name = forms.CharField(
        label=_("予定の名前"),
        max_length=100,
        error_messages={
            "required": _("予定の名前を入力してください（例: 通知書の発送日）。"),
            "max_length": _("予定の名前は100文字以内で入力してください。"),
        },
    )
    starts_at = _when(_("開始（日本時間）"))
    ends_at = _when(_("終了（日本時間）"))
    active_limit = _number(_("同時に利用できる住民の数"))
    per_minute = _number(_("1分間に新たに案内する住民の数"))
