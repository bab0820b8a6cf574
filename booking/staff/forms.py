"""Forms of the staff console."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.lib.dates import plausible_day
from booking.lib.japanese import typed_digits
from booking.lib.typed_fields import TypedDateField
from booking.models import Booking, Place, Service, StaffRole


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("ユーザーID"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("パスワード"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


OTP_DIGITS = 6


class OtpForm(forms.Form):
    otp = forms.CharField(
        label=_("確認コード（6桁）"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_otp(self) -> str:
        # Authenticator apps show the code as "123 456", and an IME in full-width mode types "１２３４５６".
        digits = typed_digits(self.cleaned_data["otp"], OTP_DIGITS)
        if digits is None:
            raise forms.ValidationError(_("6桁の数字を入力してください。"))
        return digits


class PasswordChangeForm(forms.Form):
    current = forms.CharField(
        label=_("現在のパスワード"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new = forms.CharField(
        label=_("新しいパスワード"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("8文字以上で、英大文字・英小文字・数字・記号をすべて含めてください。"),
    )
    again = forms.CharField(
        label=_("新しいパスワード（確認）"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # an empty confirmation is told "required" by its field, not also "does not match"
        if data.get("new") and data.get("again") and data["new"] != data["again"]:
            self.add_error("again", _("新しいパスワードが一致しません。"))
        return data


ORDERINGS = {
    "start": "slot__starts_at",
    "-start": "-slot__starts_at",
    "location": "slot__place__display_order",
}


class BookingFilterForm(forms.Form):
    """Filters of the bookings list (AD-05); every field optional."""

    date_from = TypedDateField(
        label=_("日付（から）"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = TypedDateField(
        label=_("日付（まで）"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.ModelChoiceField(
        label=_("場所"), queryset=Place.objects.all(), required=False, empty_label=_("すべて")
    )
    service = forms.ModelChoiceField(
        label=_("サービス"),
        queryset=Service.objects.all(),
        required=False,
        empty_label=_("すべて"),
        to_field_name="code",
    )
    status = forms.ChoiceField(
        label=_("状態"), required=False, choices=[("", _("すべて")), *Booking.Status.choices]
    )
    q = forms.CharField(label=_("検索（予約番号・申請書ID・電話番号・氏名）"), required=False, max_length=100)
    ordering = forms.ChoiceField(
        label=_("並び順"),
        required=False,
        choices=[("start", _("日時が早い順")), ("-start", _("日時が遅い順")), ("location", _("場所順"))],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            self.add_error("date_to", _("「から」より後の日付にしてください。"))
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day and not plausible_day(day):
                self.add_error(name, _("日付の範囲が正しくありません。"))
        return data


class CreateStaffForm(forms.Form):
    username = forms.RegexField(
        label=_("ユーザーID"),
        max_length=150,
        regex=r"^[A-Za-z0-9_.@+-]+$",
        error_messages={"invalid": _("英数字と _ . @ + - で入力してください。")},
    )
    role = forms.ChoiceField(label=_("役割"), choices=StaffRole.choices)
    password = forms.CharField(
        label=_("初期パスワード"),
        max_length=200,
        widget=forms.PasswordInput,
        help_text=_("本人は最初のログインで変更します。"),
    )


class NetworkForm(forms.Form):
    network = forms.CharField(label=_("ネットワーク（CIDR）"), max_length=64, help_text=_("例: 192.0.2.0/24"))
    label = forms.CharField(label=_("名称"), max_length=100, required=False)


class InvitationPasswordForm(forms.Form):
    """The invited administrator's own password (issue 14 §3), under the staff password rules."""

    new = forms.CharField(
        label=_("パスワード"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("8文字以上で、英大文字・英小文字・数字・記号をすべて含めてください。"),
    )
    again = forms.CharField(
        label=_("パスワード（確認）"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # an empty confirmation is told "required" by its field, not also "does not match"
        if data.get("new") and data.get("again") and data["new"] != data["again"]:
            self.add_error("again", _("パスワードが一致しません。"))
        return data
