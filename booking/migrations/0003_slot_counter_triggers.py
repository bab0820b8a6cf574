"""Triggers that keep Slot.taken equal to the confirmed bookings plus holds of each slot.

With the check constraint slot_taken_within_capacity, every write path (the ORM, raw SQL, a migration,
an operator's psql session) that would overfill a slot fails inside PostgreSQL (BK-09). The UPDATE of the
slot row takes its row lock, so concurrent bookings of one slot queue behind each other and each sees
the count the one before it left.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION booking_slot_take(slot bigint, delta integer) RETURNS void LANGUAGE sql AS $$
    UPDATE booking_slot SET taken = taken + delta WHERE id = slot;
$$;

CREATE FUNCTION booking_booking_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- release first, then take: a booking moving between slots never counts twice
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'confirmed'
       AND (TG_OP = 'DELETE' OR NEW.status <> 'confirmed' OR NEW.slot_id <> OLD.slot_id) THEN
        PERFORM booking_slot_take(OLD.slot_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'confirmed'
       AND (TG_OP = 'INSERT' OR OLD.status <> 'confirmed' OR NEW.slot_id <> OLD.slot_id) THEN
        PERFORM booking_slot_take(NEW.slot_id, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER booking_booking_count AFTER INSERT OR UPDATE OF status, slot_id OR DELETE ON booking_booking
    FOR EACH ROW EXECUTE FUNCTION booking_booking_count();

CREATE FUNCTION booking_hold_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR NEW.slot_id <> OLD.slot_id) THEN
        PERFORM booking_slot_take(OLD.slot_id, -1);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.slot_id <> OLD.slot_id) THEN
        PERFORM booking_slot_take(NEW.slot_id, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER booking_hold_count AFTER INSERT OR UPDATE OF slot_id OR DELETE ON booking_hold
    FOR EACH ROW EXECUTE FUNCTION booking_hold_count();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS booking_hold_count ON booking_hold;
DROP FUNCTION IF EXISTS booking_hold_count();
DROP TRIGGER IF EXISTS booking_booking_count ON booking_booking;
DROP FUNCTION IF EXISTS booking_booking_count();
DROP FUNCTION IF EXISTS booking_slot_take(bigint, integer);
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0002_booking_engine")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
