"""Municipalities and domains in the Django admin: read-only (issue 14 §3).

Every change to a municipality's life goes through the vendor console's own pages (console.views_tenants,
services in tenants.lifecycle), each with its vendor-log entry; above all, no delete here: the admin's delete
removed the row and its domains but left the schema with all its personal data, with no final export and no
disposal certificate. Offboarding is the only way a municipality goes.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenants.models import Domain, Municipality, OffboardingRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the bulk delete, refused even for a superuser
        return actions


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Municipality)
class MunicipalityAdmin(ReadOnlyAdmin):
    list_display = ["schema_name", "name", "preset", "suspended_at", "created_at"]
    search_fields = ["schema_name", "name"]
    inlines = [DomainInline]


@admin.register(Domain)
class DomainAdmin(ReadOnlyAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]


@admin.register(OffboardingRecord)
class OffboardingRecordAdmin(ReadOnlyAdmin):
    list_display = ["offboarded_at", "schema_name", "name", "requested_by", "asked_by"]
