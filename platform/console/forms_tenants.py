"""Forms of the vendor console's municipality pages (issue 14 §3). The rules themselves are the services'
(tenants.lifecycle, tenants.services); these check presence and length, and carry the labels."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.provisioning import PRESETS


class ProvisionForm(forms.Form):
    schema_name = forms.CharField(
        label=_("スキーマ名"),
        max_length=40,
        help_text=_("英小文字で始まる2〜40文字の英小文字・数字・_（例: uji）。後から変更できません。"),
    )
    name = forms.CharField(label=_("名称（日本語）"), max_length=100)
    name_en = forms.CharField(label=_("名称（英語）"), max_length=100, required=False)
    domain = forms.CharField(label=_("ドメイン"), max_length=253, help_text=_("例: yoyaku.city.uji.lg.jp"))
    preset = forms.ChoiceField(label=_("プリセット"), choices=[(name, name) for name in sorted(PRESETS)])
    admin_username = forms.CharField(label=_("最初の管理者のユーザーID"), max_length=150)
    admin_email = forms.EmailField(
        label=_("最初の管理者のメールアドレス"),
        max_length=254,
        help_text=_("パスワード設定用の一度だけ使えるリンクを送ります。"),
    )


class InviteForm(forms.Form):
    admin_username = forms.CharField(label=_("管理者のユーザーID"), max_length=150)
    admin_email = forms.EmailField(label=_("メールアドレス"), max_length=254)


class DomainForm(forms.Form):
    domain = forms.CharField(label=_("追加するドメイン"), max_length=253)


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=_("利用停止の理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class OffboardForm(forms.Form):
    confirm = forms.CharField(
        label=_("確認のため、スキーマ名を入力してください"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    asked_by = forms.CharField(label=_("依頼者（自治体の部署・氏名・依頼文書の番号）"), max_length=200)
