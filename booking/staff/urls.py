from django.urls import path

from booking.callcenter import views as views_callcenter
from booking.configuration import views as views_settings
from booking.exports import views as views_exports
from booking.lifecycle import views_cards, views_counter, views_notices, views_transfers
from booking.lifecycle import views_intake as views_card_import
from booking.reports import views as views_reports
from booking.reports import views_availability
from booking.staff import views_admin, views_auth, views_bookings, views_home, views_invite

app_name = "staff"

urlpatterns = [
    path("", views_home.home, name="home"),
    path("login/", views_auth.login, name="login"),
    path("login/cancel/", views_auth.cancel_login, name="cancel_login"),
    path("logout/", views_auth.logout, name="logout"),
    path("session/extend/", views_auth.extend_session, name="session_extend"),
    path("password/", views_auth.password, name="password"),
    path("totp/", views_auth.totp_setup, name="totp_setup"),
    path("invitation/<str:uidb64>/<str:token>/", views_invite.invitation, name="invitation"),
    path("bookings/", views_bookings.bookings, name="bookings"),
    path("bookings/export.csv", views_bookings.bookings_csv, name="bookings_csv"),
    path("bookings/<int:pk>/", views_bookings.booking_detail, name="booking"),
    path("users/", views_admin.staff_list, name="staff_list"),
    path("users/new/", views_admin.staff_create, name="staff_create"),
    path("users/<int:pk>/", views_admin.staff_update, name="staff_update"),
    path("security/", views_admin.security, name="security"),
    path("security/update/", views_admin.security_update, name="security_update"),
    path("log/", views_admin.operation_log, name="oplog"),
    path("log/export.csv", views_admin.operation_log_csv, name="oplog_csv"),
    path("exports/", views_exports.exports, name="exports"),
    path("exports/new/", views_exports.request_export, name="request_export"),
    path("exports/<int:pk>/download/", views_exports.download_export, name="download_export"),
    # settings (AD-04)
    path("settings/", views_settings.overview, name="settings"),
    path("settings/window/", views_settings.window, name="settings_window"),
    path("settings/fields/", views_settings.contact_fields, name="settings_fields"),
    path("settings/cards/", views_settings.card_rules, name="settings_cards"),
    path("settings/texts/", views_settings.texts, name="settings_texts"),
    path("settings/contact/", views_settings.callcenter_contact, name="settings_contact"),
    path("settings/services/", views_settings.bring_texts, name="settings_services"),
    path("settings/places/", views_settings.places, name="settings_places"),
    path("settings/places/new/", views_settings.place_new, name="settings_place_new"),
    path("settings/places/<int:pk>/", views_settings.place_edit, name="settings_place"),
    path("settings/places/<int:pk>/delete/", views_settings.place_delete, name="settings_place_delete"),
    path("settings/places/<int:pk>/patterns/new/", views_settings.pattern_new, name="settings_pattern_new"),
    path("settings/patterns/<int:pk>/", views_settings.pattern_edit, name="settings_pattern"),
    path("settings/patterns/<int:pk>/delete/", views_settings.pattern_delete, name="settings_pattern_delete"),
    path("settings/closed-days/", views_settings.closed_days, name="settings_closed_days"),
    path(
        "settings/closed-days/<int:pk>/delete/",
        views_settings.closed_day_delete,
        name="settings_closed_day_delete",
    ),
    # call center (CC-01…CC-05)
    path("callcenter/", views_callcenter.home, name="callcenter"),
    path("callcenter/calls/", views_callcenter.log_call, name="callcenter_log"),
    path("callcenter/end/", views_callcenter.end_call, name="callcenter_end"),
    path("callcenter/visit/", views_callcenter.visit, name="callcenter_visit"),
    path("callcenter/visit/<int:pk>/cancel/", views_callcenter.cancel_visit, name="callcenter_visit_cancel"),
    path("callcenter/script/<int:pk>/", views_callcenter.script, name="callcenter_script"),
    # reports (CC-05)
    path("reports/", views_reports.daily, name="reports"),
    path("reports/monthly/", views_reports.monthly, name="reports_monthly"),
    path("reports/monthly.csv", views_reports.monthly_csv, name="reports_monthly_csv"),
    # the availability report of our service (BK-08), read from the control plane
    path("availability/", views_availability.availability_page, name="availability"),
    path("availability/csv/", views_availability.availability_csv, name="availability_csv"),
    # cards: progress, history, scan (AD-03, AD-08)
    path("cards/", views_cards.cards, name="cards"),
    path("cards/list/", views_cards.card_list, name="card_list"),
    path("cards/waiting/", views_cards.waiting_list, name="cards_waiting"),
    path("cards/move/", views_cards.bulk_move, name="cards_bulk_move"),
    path("cards/scan/", views_cards.scan, name="card_scan"),
    path("cards/<int:pk>/", views_cards.card_detail, name="card"),
    path("cards/<int:pk>/move/", views_cards.card_move, name="card_move"),
    path("cards/<int:pk>/return/", views_cards.card_return, name="card_return"),
    # card data import from J-LIS (AD-03)
    path("cards/import/", views_card_import.upload, name="card_import"),
    path("cards/import/<int:pk>/", views_card_import.job, name="card_import_job"),
    # notice letters (AD-03)
    path("notices/", views_notices.notices_page, name="notices"),
    path("notices/new/", views_notices.notices_start, name="notices_start"),
    path("notices/<int:pk>/", views_notices.notice_run, name="notice_run"),
    path("notices/<int:pk>/download/<str:kind>/", views_notices.notice_download, name="notice_download"),
    path("notices/<int:pk>/delete/", views_notices.notice_delete_files, name="notice_delete_files"),
    # transfer lists (BK-13)
    path("transfers/", views_transfers.transfer_page, name="transfers"),
    path("transfers/export.csv", views_transfers.transfer_csv, name="transfer_csv"),
    path("transfers/list.pdf", views_transfers.transfer_pdf, name="transfer_pdf"),
    path("transfers/confirm/", views_transfers.confirm_transfer, name="transfer_confirm"),
    path("transfers/return/", views_transfers.return_card, name="transfer_return"),
    # at the counter: check-in, hand-over, no-show
    path("counter/", views_counter.counter_page, name="counter"),
    path("counter/check-in/", views_counter.scan_check_in, name="counter_scan"),
    path("counter/<int:pk>/check-in/", views_counter.check_in, name="counter_check_in"),
    path("counter/<int:pk>/hand-over/", views_counter.hand_over, name="counter_hand_over"),
    path("counter/<int:pk>/no-show/", views_counter.no_show, name="counter_no_show"),
]
