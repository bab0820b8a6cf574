from django.urls import path

from booking.staff import api

urlpatterns = [
    path("sessions/", api.StaffSessionsView.as_view(), name="api-staff-sessions"),
    path("bookings/", api.StaffBookingsView.as_view(), name="api-staff-bookings"),
    path("bookings/export.csv", api.StaffBookingsExportView.as_view(), name="api-staff-bookings-export"),
]
