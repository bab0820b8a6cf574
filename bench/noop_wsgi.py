"""The no-op Django app of `bench/http_bench.py`: one view answering "ok", no middleware, no database.

Its requests per second under gunicorn are what Django and gunicorn cost on this machine with nothing else
to do: the ceiling the project's availability GETs are compared with (P2). Served as
`gunicorn --chdir bench noop_wsgi:application`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-noop-app-has-no-secrets-and-no-sessions-0123456789abcdef",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_I18N=False,
    )


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("", ok)]

application = get_wsgi_application()
