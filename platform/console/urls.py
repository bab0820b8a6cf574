from django.urls import path

from console import views, views_availability, views_tenants
from console.waiting_room import views as waiting_room

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("log/", views.operation_log, name="log"),
    path("waiting-room/", waiting_room.live, name="waiting_rooms"),
    path("waiting-room/<slug:schema>/", waiting_room.detail, name="waiting_room"),
    path("waiting-room/<slug:schema>/limits/", waiting_room.set_limits, name="waiting_room_limits"),
    path("waiting-room/<slug:schema>/events/", waiting_room.schedule_event, name="waiting_room_event"),
    path(
        "waiting-room/<slug:schema>/events/<int:event_id>/cancel/",
        waiting_room.cancel_event,
        name="waiting_room_event_cancel",
    ),
    # the availability report (BK-08)
    path("availability/", views_availability.index, name="availability"),
    path("availability/<slug:schema>/<str:month>/", views_availability.report, name="availability_report"),
    path(
        "availability/<slug:schema>/<str:month>/csv/", views_availability.report_csv, name="availability_csv"
    ),
    path(
        "availability/<slug:schema>/<str:month>/outages/<int:pk>/withdraw/",
        views_availability.withdraw_outage,
        name="availability_withdraw",
    ),
    # a municipality's life (issue 14 §3)
    path("municipalities/new/", views_tenants.tenant_new, name="tenant_new"),
    path("municipalities/<str:schema_name>/", views_tenants.tenant_detail, name="tenant"),
    path("municipalities/<str:schema_name>/invite/", views_tenants.tenant_invite, name="tenant_invite"),
    path("municipalities/<str:schema_name>/domains/", views_tenants.domain_add, name="domain_add"),
    path(
        "municipalities/<str:schema_name>/domains/change/", views_tenants.domain_change, name="domain_change"
    ),
    path("municipalities/<str:schema_name>/suspension/", views_tenants.tenant_suspend, name="tenant_suspend"),
    path("municipalities/<str:schema_name>/exports/", views_tenants.export_request, name="export_request"),
    path(
        "municipalities/<str:schema_name>/exports/<int:pk>/download/",
        views_tenants.export_download,
        name="export_download",
    ),
    path("municipalities/<str:schema_name>/offboard/", views_tenants.tenant_offboard, name="tenant_offboard"),
    path("offboarded/", views_tenants.offboarded, name="offboarded"),
    path("offboarded/<int:pk>/", views_tenants.certificate, name="certificate"),
    path("offboarded/<int:pk>/certificate.txt", views_tenants.certificate_text, name="certificate_text"),
    path("offboarded/<int:pk>/retry/", views_tenants.offboard_retry, name="offboard_retry"),
]
