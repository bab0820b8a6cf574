"""A resident's keyed booking in one database call (issue 12: a flash crowd's bookings cost a round trip each,
not thirteen). `booking.engine.one_call` calls it, and tests/engine/test_book_in_one_call.py keeps it in step
with `services.do_book`, whose transaction it is, statement for statement:

the token's card; the Idempotency-Key's row (or the answer kept under it: written nothing, the caller
answers the usual way); the card locked (already booked, probe card, not bookable: refused); the place's
opening patterns for the service share-locked and compared with the ones the caller judged the start by
(their md5, read with the setup it judged from); the day's closed days; the slot row (made on first use);
the card's hold and the slot's expired holds deleted; the booking, its event, the card's move to "booked"
and its event; the answer kept under the key.

A refusal raises SQLSTATE MGB01 with the refusal's code as message, so nothing the call wrote stays (it runs
as a statement of its own); "fallback" means "take the usual path" (the patterns or a closed day changed
since the caller read them, a move the fast path does not make). The capacity trigger's and the one-active-
booking index's refusals come as they do for `do_book`.

The function is pinned to its own schema (as migration 0010 pins the triggers): whoever calls it, it works
on its tenant's tables.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION booking_book_in_one_call(
    p_token_digest text,
    p_now timestamptz,
    p_key text,
    p_fingerprint text,
    p_place bigint,
    p_service bigint,
    p_starts_at timestamptz,
    p_ends_at timestamptz,
    p_capacity integer,
    p_day date,
    p_patterns_print text,
    p_bookable_states text[],
    p_booked_from text[],
    p_moves_to_booked text[],
    p_language text,
    p_answer jsonb,
    OUT result text,
    OUT card bigint,
    OUT booking bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_claim bigint;
    v_state text;
    v_probe boolean;
    v_booked boolean;
    v_print text;
    v_slot bigint;
BEGIN
    SELECT t.card_id INTO card FROM booking_citizentoken t
     WHERE t.token_digest = p_token_digest AND t.expires_at > p_now;
    IF card IS NULL THEN
        result := 'unauthenticated';
        RETURN;
    END IF;

    -- idempotency._claim: waits (lock_timeout) while another transaction holds an uncommitted row
    INSERT INTO booking_idempotentrequest (scope, key, fingerprint, status_code, body, redirect_to, created_at)
    VALUES ('card:' || card, p_key, p_fingerprint, 0, NULL, '', p_now)
    ON CONFLICT (scope, key) DO NOTHING RETURNING id INTO v_claim;
    IF v_claim IS NULL THEN
        result := 'kept';  -- a replay, or the key used for another request: the usual path answers
        RETURN;
    END IF;

    -- services._lock_card_to_book
    SELECT c.state, c.probe, EXISTS (SELECT 1 FROM booking_booking b
                                      WHERE b.card_id = c.id AND b.status = 'confirmed' AND b.outcome = '')
      INTO v_state, v_probe, v_booked
      FROM booking_card c WHERE c.id = card FOR UPDATE;
    IF v_booked THEN
        RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'already_booked';
    END IF;
    IF v_probe THEN
        RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'probe_card';
    END IF;
    IF NOT v_state = ANY (p_bookable_states) THEN
        RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'card_not_bookable';
    END IF;

    -- slot_rows.locked_day: the lock first, then the read (a statement of its own: it sees what an
    -- administrator committed while this waited)
    PERFORM 1 FROM booking_openingpattern p
      WHERE p.place_id = p_place AND p.service_id = p_service FOR SHARE;
    SELECT md5(string_agg(p::text, '|' ORDER BY p.id)) INTO v_print FROM booking_openingpattern p
     WHERE p.place_id = p_place AND p.service_id = p_service;
    IF v_print IS DISTINCT FROM p_patterns_print OR EXISTS (
        SELECT 1 FROM booking_closedday d WHERE d.date = p_day AND (d.place_id IS NULL OR d.place_id = p_place)
    ) THEN
        RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'fallback';
    END IF;

    -- slot_rows.made_slot
    SELECT s.id INTO v_slot FROM booking_slot s
     WHERE s.place_id = p_place AND s.service_id = p_service AND s.starts_at = p_starts_at;
    IF v_slot IS NULL THEN
        INSERT INTO booking_slot (place_id, service_id, starts_at, ends_at, capacity, taken)
        VALUES (p_place, p_service, p_starts_at, p_ends_at, p_capacity, 0)
        ON CONFLICT (place_id, service_id, starts_at) DO NOTHING RETURNING id INTO v_slot;
        IF v_slot IS NULL THEN
            SELECT s.id INTO v_slot FROM booking_slot s
             WHERE s.place_id = p_place AND s.service_id = p_service AND s.starts_at = p_starts_at;
        END IF;
    END IF;

    -- services.do_book
    DELETE FROM booking_hold h WHERE h.card_id = card
                                  OR (h.slot_id = v_slot AND h.expires_at <= p_now);
    INSERT INTO booking_booking (card_id, caller_name_kana, slot_id, status, channel, contact_phone,
                                 contact_email, created_at, changed_at, cancelled_at, reminder_sent_at,
                                 checked_in_at, outcome, outcome_at, outcome_by, language)
    VALUES (card, '', v_slot, 'confirmed', 'web', '', '', p_now, NULL, NULL, NULL, NULL, '', NULL, '',
            p_language)
    RETURNING id INTO booking;
    INSERT INTO booking_bookingevent (booking_id, at, kind, channel, actor, from_slot_id, to_slot_id)
    VALUES (booking, p_now, 'booked', 'web', '', NULL, v_slot);

    -- cards.moves.card_booked and _move_to_booked
    IF v_state = ANY (p_booked_from) THEN
        IF NOT v_state = ANY (p_moves_to_booked) THEN
            RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'fallback';
        END IF;
        WITH moved AS (
            UPDATE booking_card c SET state = 'booked', state_changed_at = p_now, at_place_id = NULL
             WHERE c.id = card AND c.state = v_state AND NOT c.probe RETURNING c.id
        )
        INSERT INTO booking_cardevent (card_id, at, from_state, to_state, actor, note, place_id)
        SELECT moved.id, p_now, v_state, 'booked', '', '予約', NULL FROM moved;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'MGB01', MESSAGE = 'fallback';
        END IF;
    END IF;

    -- idempotency._once: the answer kept under the key, in the booking's transaction
    UPDATE booking_idempotentrequest r
       SET status_code = 201, body = jsonb_build_object('id', booking) || p_answer, redirect_to = ''
     WHERE r.id = v_claim;
    result := 'booked';
END;
$$;

DO $$ BEGIN
    EXECUTE format(
        'ALTER FUNCTION %I.booking_book_in_one_call(text, timestamptz, text, text, bigint, bigint, timestamptz,'
        ' timestamptz, integer, date, text, text[], text[], text[], text, jsonb)'
        ' SET search_path = %I, pg_catalog', current_schema(), current_schema());
END $$;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS booking_book_in_one_call(text, timestamptz, text, text, bigint, bigint, timestamptz,
    timestamptz, integer, date, text, text[], text[], text[], text, jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0022_probe_card")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
