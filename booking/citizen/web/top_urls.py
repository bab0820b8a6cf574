from django.urls import path

from booking.citizen.web import top as views

app_name = "booking"

urlpatterns = [
    path("", views.top_page, name="top"),
]
# The citizen's booking flow lives in booking.web (namespace "citizen").
