"""The Celery app. Tasks are thin callers of services; tenant tasks run in their tenant's schema
(tenant-schemas-celery passes the schema with each task)."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

app = CeleryApp("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # the installed apps' own tasks.py (tenants, console)
# The booking app keeps its tasks beside the products that own them (booking/<product>/tasks.py),
# named here as strings, so the control plane imports no tenant code.
# tests/architecture pins the registered names.
app.autodiscover_tasks(
    ["booking.audit", "booking.engine", "booking.exports", "booking.lifecycle", "booking.reports"]
)
