"""Reads on the control plane."""

from __future__ import annotations

from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from tenants.models import Municipality


def customer_tenants() -> QuerySet[Municipality]:
    return (
        Municipality.objects.exclude(schema_name=get_public_schema_name())
        .prefetch_related("domains")
        .order_by("schema_name")
    )
