"""URLs on a tenant's host (e.g. yoyaku.city.kyoto.lg.jp, locally kyoto.localhost)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from madoguchi import accessibility, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accessibility/", accessibility.statement, name="accessibility"),
    path("api/v1/staff/", include("booking.staff.api_urls")),
    path("api/v1/", include("booking.citizen.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The citizen's flow again, for call-center operators booking for a caller (BK-10).
    path("staff/caller/", include("booking.citizen.web.urls", namespace="caller")),
    path("staff/", include("booking.staff.urls")),
    path("", include("booking.citizen.web.top_urls")),
    path("", include("booking.citizen.web.urls")),
]

handler404 = "madoguchi.views.page_not_found"
handler500 = "madoguchi.views.server_error"
