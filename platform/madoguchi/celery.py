"""The Celery app. Tasks are thin callers of services; tenant tasks run in their tenant's schema
(tenant-schemas-celery passes the schema with each task)."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

app = CeleryApp("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # the installed apps' own tasks.py (tenants, console)
# The booking app keeps its tasks beside the products that own them (booking/<product>/tasks.py),
# named here as strings: Celery imports them by name when it loads its tasks (the worker at start-up, a web
# process on its first queued task), so the dependency is a run-time one the import contracts do not see;
# tests/architecture pins the registered names instead.
app.autodiscover_tasks(
    ["booking.audit", "booking.engine", "booking.exports", "booking.lifecycle", "booking.reports"]
)
