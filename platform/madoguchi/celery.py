"""The Celery app. Tasks are thin callers of services; tenant tasks run in their tenant's schema
(tenant-schemas-celery passes the schema with each task)."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")

app = CeleryApp("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
