from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("自治体（テナント）")
    default_auto_field = "django.db.models.BigAutoField"
