"""URLs on the platform's own host (BASE_DOMAIN): the vendor console."""

from django.contrib import admin  # the vendor console's site (console.access.VendorAdminSite: its header)
from django.urls import include, path

from madoguchi import accessibility, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accessibility/", accessibility.statement, name="accessibility"),
    path("admin/", admin.site.urls),
    path("", include("console.urls")),
]

handler404 = "madoguchi.views.page_not_found"
handler500 = "madoguchi.views.server_error"
