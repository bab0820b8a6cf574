"""Every tenant schema has its one BookingSettings row and its one StaffSecurity row, so reading the
booking rules or the staff sign-in rules never has to write them.

booking.engine.queries.booking_rules() and booking.access.accounts.security() used to make their row on
first read; they are now pure reads and the rows are made when a tenant is provisioned. This makes them for
the schemas that already exist (and, as it runs in every new schema too, for any schema made without
provisioning). Idempotent; reversing it keeps the rows (removing them would throw away a tenant's
settings), hence a no-op.
"""

from typing import Any

from django.db import migrations


def create_settings_row(apps: Any, schema_editor: Any) -> None:
    """Make the settings row with its defaults unless the schema has one (its values are left as they are)."""
    settings = apps.get_model("booking", "BookingSettings")
    settings.objects.using(schema_editor.connection.alias).get_or_create(singleton=True)


def create_security_row(apps: Any, schema_editor: Any) -> None:
    """Make the staff sign-in rules row with its defaults unless the schema has one."""
    security = apps.get_model("booking", "StaffSecurity")
    security.objects.using(schema_editor.connection.alias).get_or_create(singleton=True)


class Migration(migrations.Migration):
    dependencies = [("booking", "0014_card_lifecycle_rules")]

    operations = [
        migrations.RunPython(create_settings_row, migrations.RunPython.noop),
        migrations.RunPython(create_security_row, migrations.RunPython.noop),
    ]
