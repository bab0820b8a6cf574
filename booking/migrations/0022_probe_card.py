"""The external prober's card (BK-08): a flag on the card, and a trigger that refuses any booking or hold of a
probe card whatever code (or person with psql) writes it; the engine refuses first, with a message."""

import django.db.models.manager
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION booking_probe_card_never_books() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.card_id IS NOT NULL AND EXISTS (SELECT 1 FROM booking_card WHERE id = NEW.card_id AND probe) THEN
        RAISE EXCEPTION 'probe_card_never_books' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DO $$ BEGIN
    EXECUTE format('ALTER FUNCTION %I.booking_probe_card_never_books() SET search_path = %I, pg_catalog',
                   current_schema(), current_schema());
END $$;
CREATE TRIGGER booking_booking_probe BEFORE INSERT OR UPDATE OF card_id ON booking_booking
    FOR EACH ROW EXECUTE FUNCTION booking_probe_card_never_books();
CREATE TRIGGER booking_hold_probe BEFORE INSERT OR UPDATE OF card_id ON booking_hold
    FOR EACH ROW EXECUTE FUNCTION booking_probe_card_never_books();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS booking_booking_probe ON booking_booking;
DROP TRIGGER IF EXISTS booking_hold_probe ON booking_hold;
DROP FUNCTION IF EXISTS booking_probe_card_never_books();
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0021_contact_and_horizon")]

    operations = [
        migrations.AlterModelOptions(
            name="card",
            options={
                "base_manager_name": "with_probe",
                "default_manager_name": "objects",
                "verbose_name": "カード",
            },
        ),
        migrations.AlterModelManagers(
            name="card",
            managers=[
                ("with_probe", django.db.models.manager.Manager()),
                ("objects", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddField(
            model_name="card",
            name="probe",
            field=models.BooleanField(db_default=False, default=False, verbose_name="監視用カード"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
