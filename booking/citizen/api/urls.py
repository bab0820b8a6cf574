from django.urls import path

from booking.citizen.api import schema, views

__all__ = ["schema"]  # registers the token schemes with drf-spectacular

urlpatterns = [
    path("locations/", views.LocationsView.as_view(), name="api-locations"),
    path("availability/", views.AvailabilityView.as_view(), name="api-availability"),
    path("citizen/sessions/", views.CitizenSessionsView.as_view(), name="api-citizen-sessions"),
    path("citizen/booking/", views.CitizenBookingView.as_view(), name="api-citizen-booking"),
]
