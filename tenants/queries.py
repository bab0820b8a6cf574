"""Reads on the control plane."""

from __future__ import annotations

from django.db.models import BooleanField, F, Func, QuerySet
from django_tenants.utils import get_public_schema_name

from tenants.db import tenant_connection
from tenants.models import Domain, Municipality


def schema_present(field: str = "schema_name") -> Func:
    """Whether the schema the field names is in the database: a municipality whose provisioning stopped
    before making it, or whose schema was lost (a restore is needed), has none."""
    return Func(
        F(field),
        template="EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = %(expressions)s)",
        output_field=BooleanField(),
    )


def customer_tenants() -> QuerySet[Municipality]:
    return (
        Municipality.objects.exclude(schema_name=get_public_schema_name())
        .prefetch_related("domains")
        .order_by("schema_name")
    )


def tenant_display_name(schema_name: str) -> str:
    """The municipality's name, for a tenant's own code that has no request (reports, letters)."""
    name = Municipality.objects.filter(schema_name=schema_name).values_list("name", flat=True).first()
    return str(name or schema_name)


def primary_domain(schema_name: str) -> str | None:
    """The host of a tenant's site (its primary domain, else its first), for links made without a request."""
    domains = Domain.objects.filter(tenant__schema_name=schema_name).order_by("-is_primary", "pk")
    return domains.values_list("domain", flat=True).first()


def current_tenant_name() -> str:
    """The name of the municipality whose schema is in use, for subjects and letters: a reader may receive
    the mails of several tenants. A task's schema_context gives a stand-in tenant without the name."""
    db = tenant_connection()
    name = getattr(db.tenant, "name", "")
    return str(name) if name else tenant_display_name(db.schema_name)


def current_tenant_name_en() -> str:
    """The English name of the municipality whose schema is in use, for the English part of a mail; its
    Japanese name when it has none."""
    db = tenant_connection()
    if getattr(db.tenant, "name", ""):  # the real row (a request's); schema_context's stand-in has no names
        return str(db.tenant.name_en or db.tenant.name)
    names = Municipality.objects.filter(schema_name=db.schema_name).values_list("name_en", "name").first()
    return str(names[0] or names[1]) if names else db.schema_name
