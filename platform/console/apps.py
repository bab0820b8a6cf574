from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("運用コンソール")
    default_auto_field = "django.db.models.BigAutoField"
