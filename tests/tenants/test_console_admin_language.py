"""The vendor console's Django-admin pages speak one language: Japanese pages show no English names of apps,
models or fields ("Municipalities (tenants)", "Otp_Totp", "TOTP devices", "Tenant:"), English pages no
Japanese ones ("運用コンソール", "計画停止"), and no name is mis-pluralised ("…の記録s").

The names are translatable strings (gettext_lazy, Japanese source), checked here by structure and on the
pages; their English comes from the catalogue (platform/madoguchi/locale).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.test import Client
from django.utils.functional import Promise

from tests.i18n.test_english_everywhere import leftovers
from tests.vendor_helpers import make_operator, operator_client

pytestmark = pytest.mark.django_db

OUR_APPS = ("console", "tenants")
ADMIN_PAGES = [
    "/admin/",
    "/admin/console/",
    "/admin/tenants/",
    "/admin/otp_totp/",
    "/admin/console/plannedstop/",
    "/admin/console/plannedstop/add/",
    "/admin/console/operatorsignin/",
    "/admin/tenants/municipality/",
    "/admin/tenants/domain/",
    "/admin/tenants/offboardingrecord/",
    "/admin/otp_totp/totpdevice/",
]


@pytest.fixture
def console(tenants: Any) -> Client:
    return operator_client(*make_operator("admin-i18n"))


def _lazy(value: Any) -> bool:
    return isinstance(value, Promise)


def test_names_of_our_apps_models_and_admin_fields_are_translatable() -> None:
    untranslatable = []
    for label in OUR_APPS:
        config = apps.get_app_config(label)
        if not _lazy(config.verbose_name):
            untranslatable.append(f"app {label}")
        for model in config.get_models():
            meta = model._meta
            if "verbose_name_plural" not in meta.original_attrs:  # Django would add an "s" to Japanese
                untranslatable.append(f"{meta.label}: no verbose_name_plural")
            if not (_lazy(meta.verbose_name) and _lazy(meta.verbose_name_plural)):
                untranslatable.append(f"{meta.label}: verbose names")
            for field in meta.get_fields():
                if not isinstance(field, models.Field) or field.auto_created:
                    continue
                named = field.verbose_name != field.name.replace("_", " ")
                if (named or model in admin.site._registry) and not _lazy(field.verbose_name):
                    untranslatable.append(f"{meta.label}.{field.name}")
                if field.help_text and not _lazy(field.help_text):
                    untranslatable.append(f"{meta.label}.{field.name}: help text")
                if any(not _lazy(text) for _value, text in field.flatchoices):
                    untranslatable.append(f"{meta.label}.{field.name}: choices")
    assert not untranslatable
    assert _lazy(admin.site.site_header)
    assert _lazy(apps.get_app_config("otp_totp").verbose_name)


def test_japanese_admin_pages_show_no_english_names(console: Client) -> None:
    english = re.compile(
        r"Municipalities \(tenants\)|Otp_Totp|TOTP devices?|Vendor console|Tenant:|Created at|Schema name"
        r"|Is primary|>\s*(Domain|Tenant|Failures|Locked until|User|Name|Confirmed)\s*<|記録s"
    )
    for path in ADMIN_PAGES:
        response = console.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert not english.search(page), (path, english.search(page))
    devices = console.get("/admin/otp_totp/totpdevice/").content.decode()
    assert "運用者のユーザーIDかメールアドレスで検索します。" in devices and "Search by" not in devices
    index = console.get("/admin/").content.decode()
    for name in ("Madoguchi 運用コンソール", "自治体（テナント）", "二要素認証", "確認コードの端末"):
        assert name in index
    add = console.get("/admin/console/plannedstop/add/").content.decode()
    assert ">自治体:</label>" in add and ">作成日時:</label>" in add
    assert "解約・データ削除の記録</a>" in index


def test_english_admin_pages_use_the_catalogues_names(console: Client) -> None:
    """Names whose English the catalogue already has."""
    console.cookies["django_language"] = "en"
    index = console.get("/admin/").content.decode()
    assert '<div id="site-name"><a href="/admin/">Madoguchi vendor console</a></div>' in index
    add = console.get("/admin/console/plannedstop/add/").content.decode()
    assert "<title>Add Planned stop | Madoguchi</title>" in add
    for label in ("Municipality:", "Type:", "Stop start:", "Stop end:"):
        assert f">{label}</label>" in add, label
    assert "Offboarding and data deletion records" in index and "記録s" not in index


def test_english_admin_pages_show_no_japanese_names(console: Client) -> None:
    console.cookies["django_language"] = "en"
    found = {}
    for path in ADMIN_PAGES:
        page = console.get(path).content.decode()
        # data, not names: the municipalities' own names and the Japanese notice's default text
        page = re.sub(r"<select name=\"tenant\".*?</select>", "", page, flags=re.S)
        page = re.sub(r"京都市|見本市|システムメンテナンスのため", "", page)
        if problems := leftovers(page):
            found[path] = problems
    assert not found
