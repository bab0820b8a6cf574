from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tenants import template_schema


class Command(BaseCommand):
    help = (
        "Build the template schema new tenants are made from, unless it already has this release's "
        "migrations (tenants.template_schema). The migration job runs it after migrate_schemas, so the first "
        "provisioning after a release does not build it. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        built = template_schema.ensure_template(verbosity=max(0, int(options["verbosity"]) - 1))
        name = template_schema.template_name()
        self.stdout.write(
            f"built the tenant template {name}" if built else f"the tenant template {name} is current"
        )
