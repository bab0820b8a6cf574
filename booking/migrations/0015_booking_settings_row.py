"""Every tenant schema has its one BookingSettings row, so reading the settings never has to write it.

booking.engine.queries.booking_rules() used to make the row on first read; it is now a pure read and the row
is made when a tenant is provisioned. This makes it for the schemas that already exist (and, as it runs in
every new schema too, for any schema made without provisioning). Idempotent; reversing it keeps the row
(removing it would throw away a tenant's settings), hence a no-op.
"""

from typing import Any

from django.db import migrations


def create_settings_row(apps: Any, schema_editor: Any) -> None:
    """Make the settings row with its defaults unless the schema has one (its values are left as they are)."""
    settings = apps.get_model("booking", "BookingSettings")
    settings.objects.using(schema_editor.connection.alias).get_or_create(singleton=True)


class Migration(migrations.Migration):
    dependencies = [("booking", "0014_card_lifecycle_rules")]

    operations = [migrations.RunPython(create_settings_row, migrations.RunPython.noop)]
