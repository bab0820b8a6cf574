"""The database refuses illegal moves of a card and illegal changes of a booking's outcome (AD-03).

The pairs below are booking.lifecycle.states.LEGAL_MOVES as of this migration (a migration is frozen, so
they are written out); tests/test_card_lifecycle.py checks that the trigger and the table agree. Cards that
already have a confirmed booking start as "booked".
"""

from django.db import migrations

LEGAL_MOVES = """
    ('booked', 'cancelled'),
    ('booked', 'expired'),
    ('booked', 'handed_over'),
    ('booked', 'moved'),
    ('booked', 'notice_sent'),
    ('moved', 'booked'),
    ('moved', 'cancelled'),
    ('moved', 'expired'),
    ('moved', 'handed_over'),
    ('moved', 'notice_sent'),
    ('notice_sent', 'booked'),
    ('notice_sent', 'cancelled'),
    ('notice_sent', 'expired'),
    ('notice_sent', 'returned'),
    ('received', 'cancelled'),
    ('received', 'expired'),
    ('received', 'set_up'),
    ('returned', 'booked'),
    ('returned', 'cancelled'),
    ('returned', 'expired'),
    ('returned', 'notice_sent'),
    ('set_up', 'cancelled'),
    ('set_up', 'expired'),
    ('set_up', 'notice_sent')

"""

FORWARD = f"""
UPDATE booking_card SET state = 'booked'
 WHERE EXISTS (SELECT 1 FROM booking_booking b WHERE b.card_id = booking_card.id AND b.status = 'confirmed');

CREATE FUNCTION booking_card_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state
       AND (OLD.state, NEW.state) NOT IN (VALUES {LEGAL_MOVES}) THEN
        RAISE EXCEPTION 'card_illegal_move: % -> %', OLD.state, NEW.state
            USING ERRCODE = 'check_violation', CONSTRAINT = 'card_legal_move';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER booking_card_move BEFORE UPDATE OF state ON booking_card
    FOR EACH ROW EXECUTE FUNCTION booking_card_move();

CREATE FUNCTION booking_booking_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'cancelled' AND NEW.status <> 'cancelled' THEN
        RAISE EXCEPTION 'booking_cancelled_is_final'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'booking_legal_change';
    END IF;
    IF OLD.outcome <> '' AND NEW.outcome IS DISTINCT FROM OLD.outcome
       AND NOT (OLD.outcome = 'no_show' AND NEW.outcome = 'visited') THEN
        RAISE EXCEPTION 'booking_outcome_is_final: % -> %', OLD.outcome, NEW.outcome
            USING ERRCODE = 'check_violation', CONSTRAINT = 'booking_legal_change';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER booking_booking_outcome BEFORE UPDATE OF status, outcome ON booking_booking
    FOR EACH ROW EXECUTE FUNCTION booking_booking_outcome();
"""

BACKWARD = """
DROP TRIGGER booking_booking_outcome ON booking_booking;
DROP FUNCTION booking_booking_outcome();
DROP TRIGGER booking_card_move ON booking_card;
DROP FUNCTION booking_card_move();
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0013_card_lifecycle")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
