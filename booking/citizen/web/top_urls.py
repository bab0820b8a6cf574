from django.urls import path

from booking.citizen.web import top as views

app_name = "booking"

urlpatterns = [
    path("", views.top_page, name="top"),
]
# The citizen's booking flow is booking.citizen.web.urls (namespace "citizen").
