from django.urls import path, register_converter

from booking.citizen.web import views, views_cancel, views_sign_in


class DateConverter:
    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DateConverter, "isodate")

app_name = "citizen"

urlpatterns = [
    path("login/", views_sign_in.login, name="login"),
    path("logout/", views_sign_in.logout, name="logout"),
    path("mypage/", views.mypage, name="mypage"),
    path("book/", views.choose_service, name="service"),
    path("book/<slug:service>/", views.choose_place, name="place"),
    path("book/<slug:service>/<int:place>/", views.choose_day, name="day"),
    path("book/<slug:service>/<int:place>/<isodate:day>/", views.choose_time, name="time"),
    path("details/", views.details, name="details"),
    path("confirm/", views.confirm, name="confirm"),
    path("release/", views.release, name="release"),
    path("extend/", views.extend, name="extend"),
    path("done/", views.done, name="done"),
    path("cancel/", views_cancel.cancel, name="cancel"),
]
