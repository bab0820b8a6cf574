"""Periodic work of every tenant: beat calls one task here, which sends the tenant task once per schema."""

from __future__ import annotations

from celery import current_app, shared_task
from django_tenants.utils import schema_context

from tenants.offboarding import do_run_offboarding
from tenants.queries import customer_tenants, schema_present


@shared_task(name="tenants.for_each_tenant")
def for_each_tenant(task_name: str, queue: str | None = None) -> int:
    """A municipality without its schema (tenants.routing: not served either) gets no task: each would fail
    on the public schema's tables."""
    count = 0
    for tenant in customer_tenants().filter(schema_present()):
        with schema_context(tenant.schema_name):
            current_app.send_task(task_name, queue=queue)  # carries the schema name in its headers
        count += 1
    return count


@shared_task(name="tenants.offboard")
def offboard(record_id: int) -> str:
    """Carry out a municipality's offboarding, asked for in the vendor console (tenants.offboarding)."""
    return str(do_run_offboarding(record_id).status)
