"""django.contrib.admin with the vendor console's site as `admin.site` (settings name this in INSTALLED_APPS).

Its own module, not console/apps.py: Django picks an app's config from apps.py only when it holds one.
"""

from django.contrib.admin.apps import AdminConfig


class VendorAdminConfig(AdminConfig):
    default_site = "console.access.VendorAdminSite"
