"""The Celery app. Tasks are thin callers of services; tenant tasks run in their tenant's schema
(tenant-schemas-celery passes the schema with each task)."""

import os
from typing import Any

from django.db import connection
from tenant_schemas_celery.app import CeleryApp, get_schema_name_from_task, switch_schema
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")


def _schema() -> str | None:
    return getattr(connection, "schema_name", None)  # django-tenants' connection


class SchemaCheckedTask(TenantTask):
    """A task that never runs outside the schema it was sent from.

    tenant-schemas-celery switches the schema in a `task_prerun` signal handler, and Celery only logs a signal
    handler's error and runs the task anyway: a switch whose tenant lookup lost its connection (a database
    failover; seen in the HA rehearsal's switchover) left a tenant task running in the public schema, where
    its tables do not exist. Here the switch is made again on a new connection, and if it still cannot be
    made the task fails (its retry, or the next beat run, does it) instead of running in the wrong place."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        expected = get_schema_name_from_task(self, kwargs)
        if expected and _schema() != expected:
            if not connection.in_atomic_block:
                connection.close()  # the one the failed switch left behind may be broken
            switch_schema(self, kwargs)
            if _schema() != expected:
                raise RuntimeError(f"task {self.name} could not switch to schema {expected!r}")
        return super().__call__(*args, **kwargs)


app = CeleryApp("madoguchi", task_cls=SchemaCheckedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # the installed apps' own tasks.py (tenants, console)
# The booking app keeps its tasks beside the products that own them (booking/<product>/tasks.py),
# named here as strings: Celery imports them by name when it loads its tasks (the worker at start-up, a web
# process on its first queued task), so the dependency is a run-time one the import contracts do not see;
# tests/architecture pins the registered names instead.
app.autodiscover_tasks(
    ["booking.audit", "booking.engine", "booking.exports", "booking.lifecycle", "booking.reports"]
)
