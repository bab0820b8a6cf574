"""Pin every trigger function to the schema it was created in.

Unqualified table names in a PL/pgSQL function are looked up on the caller's search_path. A session whose
path pointed at another tenant's schema could otherwise make a booking in one schema count against a slot
in another, and skip the capacity check (BK-09, SO-11). With the path fixed per function, a function always
works on its own tenant's tables, whoever calls it and however.
"""

from django.db import migrations

FUNCTIONS = [
    "booking_slot_take(bigint, integer)",
    "booking_booking_count()",
    "booking_hold_count()",
    "booking_oplog_guard()",
]

FORWARD = "DO $$ BEGIN " + " ".join(
    f"EXECUTE format('ALTER FUNCTION %I.{name} SET search_path = %I, pg_catalog', "
    "current_schema(), current_schema());"
    for name in FUNCTIONS
) + " END $$;"

BACKWARD = "DO $$ BEGIN " + " ".join(
    f"EXECUTE format('ALTER FUNCTION %I.{name} RESET search_path', current_schema());" for name in FUNCTIONS
) + " END $$;"


class Migration(migrations.Migration):
    dependencies = [("booking", "0009_export_job")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
