"""A resident's keyed booking in one database call (issue 12: the morning the letters arrive).

`do_book` is a dozen statements, each a round trip and a parse in PostgreSQL and some ORM work here; in a
flood of bookings those, not the booking's own locks, set the pace. The citizen API's usual booking (a
bearer token, an Idempotency-Key, a start the kept availability setup offers) is made here instead by one
call of the database function of migration 0023, which runs the same transaction as the API's idempotent
`do_book` (the migration's docstring and comments map each step to its Python home;
tests/engine/test_book_in_one_call.py compares what both write, row by row, and their refusals).

What is judged here, before the call, is what the usual path judges from the same kept setup
(`availability_cache.kept_setup`, read at most BOOKING_SETUP_SECONDS ago): the service is booked on the web,
the start is a slot of the place's patterns on a day it is open, within the booking window. The function
then holds the place's patterns under the same share lock as `slot_rows.locked_day` and goes on only if they
are the very rows the setup was made from (their md5) and the day is still open; otherwise it answers
"fallback" and the usual path decides, with its own reads.

Anything else (no key, an unknown token, a kept answer under the key, an unusual body, Redis away, a lost
connection) is answered by the usual path, which is always right: this one only has to be right when it
answers. Only keyed requests come here: a call whose connection is lost has an unknown fate, and the key's
row then tells the usual path whether it was carried out.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from booking.cards.moves import booking_moves
from booking.engine import availability_cache, idempotency
from booking.engine.queries import AvailabilitySetup, offered_slot
from booking.engine.retry import is_lost_connection
from booking.engine.services import BookingError, database_refusal
from booking.lib.dates import TOKYO
from booking.rules import schedule, windows
from booking.rules.card_states import BOOKABLE_STATES

logger = logging.getLogger(__name__)

REFUSED = "MGB01"  # the function's own SQLSTATE: its message is the refusal's code, or "fallback"
FALLBACK = "fallback"
UNDEFINED_FUNCTION = "42883"

_CALL = (
    "SELECT result, card, booking FROM booking_book_in_one_call("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s::text[], %s::text[], %s, %s::jsonb)"
)


@cache
def _state_arrays() -> tuple[str, str, str]:
    """The card states the function is given (bookable; moved to "booked" from; of those, legal), as array
    literals: rules of Python's, read once (psycopg's list adaptation is a cost per booking)."""
    booked_from, moves_to_booked = booking_moves()
    return tuple(  # type: ignore[return-value]
        "{" + ",".join(sorted(states)) + "}" for states in (BOOKABLE_STATES, booked_from, moves_to_booked)
    )


def do_book_in_one_call(
    *,
    token_digest: str,
    key: str,
    fingerprint: str,
    setup: AvailabilitySetup,
    starts_at: dt.datetime,
    language: str,
    answer_of: Callable[[schedule.SlotTime], dict[str, Any]],
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """The answer of the booking made (`{"id": …, **answer_of(slot)}`, the fields the API answers a booking
    with, kept under the key as they are sent), or None: the usual path answers this request.

    Raises BookingError for a refusal (the same as `do_book` raises), idempotency.KeyInProgress while
    another request with the key holds it."""
    now = now or timezone.now()
    place, service, rules = setup.place, setup.service, setup.rules
    slot = offered_slot(setup, starts_at)
    if (
        slot is None
        or not service.web_bookable
        or setup.patterns_print is None
        or not windows.within_window(starts_at, now, rules, place)
    ):
        return None  # refused or unusual: the usual path words it
    if not idempotency.claim_waits_as_configured():
        _warn_once_lock_timeout()
        return None
    answer = answer_of(slot)
    arguments: list[Any] = [
        token_digest,
        now,
        key,
        fingerprint,
        place.pk,
        service.pk,
        slot.starts_at,
        slot.ends_at,
        slot.capacity,
        slot.starts_at.astimezone(TOKYO).date(),
        setup.patterns_print,
        *_state_arrays(),
        language,
        json.dumps(answer),
    ]
    # Outside a transaction the call is a transaction of its own (one round trip); inside one (a test's) it
    # gets a savepoint, so that a refusal, raised in SQL, leaves the outer transaction usable. The request's
    # lost-connection watch (madoguchi.lost_connection) takes this SELECT for a read and may answer the
    # request again after a cut: harmless, as only keyed requests come here (the key's row answers).
    try:
        with (
            transaction.atomic() if connection.in_atomic_block else nullcontext(),
            connection.cursor() as cursor,
        ):
            cursor.execute(_CALL, arguments)
            result, _card, booking = cursor.fetchone()
    except IntegrityError as error:
        raise database_refusal(error) from error  # the capacity trigger's, the one-active-booking index's
    except DatabaseError as error:
        if is_lost_connection(error):
            # carried out or not, nobody knows: the usual path reads the key's row on a new connection
            availability_cache.note_room_write()
            connection.close()
            return None
        if idempotency.is_lock_wait_over(error):
            if _waited_for_the_key(error):
                raise idempotency.KeyInProgress from error
            raise  # a card or patterns lock held past lock_timeout: an error, as on the usual path
        if getattr(error.__cause__, "sqlstate", None) == UNDEFINED_FUNCTION:
            # a schema not migrated yet (a tenant behind during an upgrade): the usual path books there
            logger.warning("booking_book_in_one_call missing in %s", getattr(connection, "schema_name", "?"))
            return None
        code = _refusal_code(error)
        if code is None:
            raise
        if code == FALLBACK:
            return None
        raise BookingError(code) from error
    if result != "booked":
        return None  # an unknown token, or an answer kept under the key: the usual path answers
    availability_cache.note_room_write()
    return {"id": booking, **answer}


@cache
def _warn_once_lock_timeout() -> None:
    logger.warning(
        "one-call bookings off: this connection's lock_timeout is not %s (DATABASE_LOCK_TIMEOUT); "
        "every booking takes the usual path",
        idempotency.WAIT,
    )


def _waited_for_the_key(error: DatabaseError) -> bool:
    """Whether a lock wait that lock_timeout ended was the key's claim (another request with the key holds
    its row uncommitted: `idempotency._claim` answers KeyInProgress to that), not the card's or the
    patterns' lock. PostgreSQL names the statement it was running in the error's context."""
    context = str(getattr(getattr(error.__cause__, "diag", None), "context", "") or "")
    return "INSERT INTO booking_idempotentrequest" in context


def _refusal_code(error: DatabaseError) -> str | None:
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) != REFUSED:
        return None
    return str(getattr(getattr(cause, "diag", None), "message_primary", "") or "") or None
