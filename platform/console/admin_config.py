"""django.contrib.admin with the vendor console's site as `admin.site` (settings name this in INSTALLED_APPS).

Its own module, not console/apps.py: Django picks an app's config from apps.py only when it holds one.
"""

from django.apps import apps
from django.contrib.admin import site
from django.contrib.admin.apps import AdminConfig
from django.db.models import Field
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class VendorAdminConfig(AdminConfig):
    default_site = "console.access.VendorAdminSite"

    def ready(self) -> None:
        super().ready()
        label_operator_devices()


def label_operator_devices() -> None:
    """django-otp's TOTP app, model and list columns have English names only ("Otp_Totp", "TOTP devices",
    "Created at" on the console's Japanese pages): the admin shows these instead. Only what is shown
    changes, not what the migrations record (Meta.original_attrs, the fields' `_verbose_name`), so no
    migration follows."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    apps.get_app_config("otp_totp").verbose_name = _("二要素認証")
    TOTPDevice._meta.verbose_name = _("確認コードの端末")
    TOTPDevice._meta.verbose_name_plural = pgettext_lazy("plural", "確認コードの端末")
    columns = {
        "user": _("運用者"),
        "name": _("名前"),
        "created_at": _("作成日時"),
        "last_used_at": _("最後に使った日時"),
        "confirmed": _("確認済み"),
    }
    for name, label in columns.items():
        field = TOTPDevice._meta.get_field(name)
        assert isinstance(field, Field)
        field.verbose_name = label
    # its search help is made once, in the language the import ran in ("Search by user's ユーザー名 or …")
    devices = type(site.get_model_admin(TOTPDevice))  # the vendor site's own class (VendorAdminSite.register)
    devices.search_help_text = _("運用者のユーザーIDかメールアドレスで検索します。")
