"""Forms of the citizen's site. Messages are Japanese first; English through i18n."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from booking.lib.japanese import nfkc
from booking.lib.phone import is_phone_number, normalise_phone
from booking.models import BookingSettings, FieldRequirement


class LoginForm(forms.Form):
    reservation_number = forms.CharField(
        label=_("予約番号（12桁）"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
        help_text=_("交付通知書に記載の12桁の数字です。ハイフンや空白はあってもかまいません。"),
    )
    password = forms.CharField(
        label=_("パスワード"),
        max_length=40,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("交付通知書に記載の英数字10文字です。大文字・小文字は区別しません。"),
    )


class TypedEmailField(forms.EmailField):
    """A mail address as a resident types it: full-width letters and ＠ from a Japanese input method are
    taken as their half-width selves (NFKC), as a phone number's full-width digits are."""

    default_error_messages = {
        "invalid": _("メールアドレスの形式が正しくありません（例: yamada@example.jp）。")
    }

    def to_python(self, value: Any) -> str:
        return str(super().to_python(nfkc(value) if isinstance(value, str) else value))


class ContactForm(forms.Form):
    """Only the contact fields the tenant asks for (AD-04 ③, BK-06)."""

    phone = forms.CharField(
        label=_("電話番号"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("例: 075-123-4567（日中に連絡がつく番号）"),
    )
    email = TypedEmailField(
        label=_("メールアドレス"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("入力すると、予約確認と前日のお知らせをメールでお送りします。"),
    )

    def __init__(self, *args: Any, rules: BookingSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, requirement in (("phone", rules.phone_requirement), ("email", rules.email_requirement)):
            if requirement == FieldRequirement.HIDDEN:
                del self.fields[name]
            else:
                self.fields[name].required = requirement == FieldRequirement.REQUIRED

    def clean_phone(self) -> str:
        raw = self.cleaned_data.get("phone", "")
        digits = normalise_phone(raw)
        # Whatever was typed must be a number: "--" alone is not an empty (optional) phone.
        if raw.strip() and not is_phone_number(digits):
            raise ValidationError(_("電話番号は0から始まる10桁または11桁の数字で入力してください。"))
        return digits

    def clean_email(self) -> str:
        return str(self.cleaned_data.get("email", "")).strip()
