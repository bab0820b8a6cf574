from django.contrib import admin

from tenants.models import Domain, Municipality


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["schema_name", "name", "preset", "created_at"]
    search_fields = ["schema_name", "name"]
    inlines = [DomainInline]

    def get_readonly_fields(self, request, obj=None):
        # The schema name is the tenant's identity in the database: never renamed through a form.
        return ["schema_name", "preset", "created_at"] if obj else ["preset", "created_at"]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]
