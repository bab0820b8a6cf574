"""The triggers every booking fires, without the work that bought nothing (issue 12).

- The slot counters (`booking_booking_count`, `booking_hold_count`) run their UPDATE themselves rather than
  through `booking_slot_take`: each call of a function pinned to a search_path (migration 0010) switches the
  path there and back, a nested call's statement was planned and run as a query of its own, and every
  booking, change, cancellation and hold paid for both. The statement is the same, and the counters stay
  pinned to their own schema (CREATE OR REPLACE drops a function's settings, so they are pinned again as
  0010 pins them); `booking_slot_take`, used by nothing else, is dropped.
- The card's legal-move check (`booking_card_move`, migration 0014) compares "from>to" with an array of the
  same pairs rather than with a VALUES list: a NOT IN over VALUES is a subquery, for which PL/pgSQL starts
  the executor and builds a hash table at every card move; a comparison with a constant array is evaluated
  as a simple expression. Same pairs (tests/lifecycle/test_card_lifecycle.py checks the trigger against
  booking.lifecycle's table), same refusal; states hold no ">".

Measured together with 0025, the one-call booking function over 8,000 bookings on 16 connections
(docs/performance.md, "Fifth round"): about a fifth less of PostgreSQL's time per booking.
"""

from django.db import migrations

LEGAL_MOVES = [
    ("booked", "cancelled"),
    ("booked", "expired"),
    ("booked", "handed_over"),
    ("booked", "moved"),
    ("booked", "notice_sent"),
    ("moved", "booked"),
    ("moved", "cancelled"),
    ("moved", "expired"),
    ("moved", "handed_over"),
    ("moved", "notice_sent"),
    ("notice_sent", "booked"),
    ("notice_sent", "cancelled"),
    ("notice_sent", "expired"),
    ("notice_sent", "returned"),
    ("received", "cancelled"),
    ("received", "expired"),
    ("received", "set_up"),
    ("returned", "booked"),
    ("returned", "cancelled"),
    ("returned", "expired"),
    ("returned", "notice_sent"),
    ("set_up", "cancelled"),
    ("set_up", "expired"),
    ("set_up", "notice_sent"),
]


def _pin(signature: str) -> str:
    return (
        f"DO $$ BEGIN EXECUTE format('ALTER FUNCTION %I.{signature} SET search_path = %I, pg_catalog', "
        "current_schema(), current_schema()); END $$;\n"
    )


def _counters(take: str, release: str) -> str:
    """The two counter functions, with `take`/`release` (of OLD or NEW) as their statements."""
    return (
        f"""
CREATE OR REPLACE FUNCTION booking_booking_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- release first, then take: a booking moving between slots never counts twice
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'confirmed'
       AND (TG_OP = 'DELETE' OR NEW.status <> 'confirmed' OR NEW.slot_id <> OLD.slot_id) THEN
        {release}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'confirmed'
       AND (TG_OP = 'INSERT' OR OLD.status <> 'confirmed' OR NEW.slot_id <> OLD.slot_id) THEN
        {take}
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION booking_hold_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR NEW.slot_id <> OLD.slot_id) THEN
        {release}
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.slot_id <> OLD.slot_id) THEN
        {take}
    END IF;
    RETURN NULL;
END;
$$;
"""
        + _pin("booking_booking_count()")
        + _pin("booking_hold_count()")
    )


def _card_move(condition: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION booking_card_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state
       AND {condition} THEN
        RAISE EXCEPTION 'card_illegal_move: % -> %', OLD.state, NEW.state
            USING ERRCODE = 'check_violation', CONSTRAINT = 'card_legal_move';
    END IF;
    RETURN NEW;
END $$;
"""


_PAIRS_ARRAY = "'{" + ",".join(f"{old}>{new}" for old, new in LEGAL_MOVES) + "}'::text[]"
_PAIRS_VALUES = ",\n    ".join(f"('{old}', '{new}')" for old, new in LEGAL_MOVES)

FORWARD = (
    _counters(  # noqa: S608 - the migration's own constants
        take="UPDATE booking_slot SET taken = taken + 1 WHERE id = NEW.slot_id;",
        release="UPDATE booking_slot SET taken = taken - 1 WHERE id = OLD.slot_id;",
    )
    + "DROP FUNCTION booking_slot_take(bigint, integer);\n"
    + _card_move(f"NOT ((OLD.state || '>' || NEW.state) = ANY ({_PAIRS_ARRAY}))")
)

SLOT_TAKE = """
CREATE FUNCTION booking_slot_take(slot bigint, delta integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE booking_slot SET taken = taken + delta WHERE id = slot;
END;
$$;
"""

BACKWARD = (
    SLOT_TAKE  # noqa: S608 - the migration's own constants
    + _pin("booking_slot_take(bigint, integer)")
    + _counters(
        take="PERFORM booking_slot_take(NEW.slot_id, 1);",
        release="PERFORM booking_slot_take(OLD.slot_id, -1);",
    )
    + _card_move(f"(OLD.state, NEW.state) NOT IN (VALUES\n    {_PAIRS_VALUES}\n)")
)


class Migration(migrations.Migration):
    dependencies = [("booking", "0025_redundant_indexes")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
