"""A booking writes no index that no query reads (booking migration 0025, issue 12), and the lookups those
indexes stood for still find an index: by slot, by a card's events, by an application ID, a reservation
number or a token digest. Read from the tenant schema's catalog and from the planner (sequential scans
off, so that the plan shows which index serves the lookup even on the tests' small tables)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        return dict(cursor.fetchall())


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_no_pattern_index_beside_the_numbers_looked_up_whole(kyoto: None) -> None:
    for table in ("booking_card", "booking_citizentoken"):
        assert not [
            d for d in _indexes(table).values() if "varchar_pattern_ops" in d and "name_kana" not in d
        ]


def test_no_single_column_index_an_index_of_two_columns_begins_with(kyoto: None) -> None:
    for table in ("booking_booking", "booking_cardevent", "booking_card", "booking_idempotentrequest"):
        columns = {
            name: definition.split(" USING btree ", 1)[1]
            for name, definition in _indexes(table).items()
            if " WHERE " not in definition and "UNIQUE" not in definition
        }
        firsts = {cols.strip("()").split(",")[0].strip() for cols in columns.values() if "," in cols}
        single = {cols.strip("()") for cols in columns.values() if "," not in cols}
        assert not (single & firsts), f"{table}: {sorted(single & firsts)}"


@pytest.mark.parametrize(
    ("lookup", "index"),
    [
        ("SELECT id FROM booking_booking WHERE slot_id = 1", "booking_slot_status"),
        ("SELECT id FROM booking_cardevent WHERE card_id = 1", "card_event_card_at"),
        (
            "SELECT id FROM booking_card WHERE application_id = '12345678901234567890123'",
            "application_id_key",
        ),
        ("SELECT id FROM booking_card WHERE reservation_number = '123456789012'", "reservation_number_key"),
        ("SELECT card_id FROM booking_citizentoken WHERE token_digest = 'x'", "token_digest_key"),
    ],
)
def test_each_lookup_still_has_an_index(kyoto: None, lookup: str, index: str) -> None:
    assert index in _plan(lookup)
