"""Indexes that only cost writes (issue 12: every booking, card move and card import paid for them).

A booking inserts a booking, its event and a card event and moves its card (a change of the indexed state,
so every index of the card is written): 24 index insertions, five of them into indexes no query uses.

- `booking_booking.slot_id`'s own index: `booking_slot_status` (slot_id, status) serves every lookup by slot
  (the slot's bookings, PROTECT's check before a slot is deleted).
- `booking_cardevent.card_id`'s own index: `card_event_card_at` (card_id, at) serves every lookup by card.
- The `varchar_pattern_ops` ("_like") indexes Django adds beside a unique text column, for LIKE 'prefix%'
  under a non-C collation: application IDs, reservation numbers and token digests are only ever looked up
  whole (the unique index does that); prefix searches are by name in kana, which has its own index.

Every index is dropped by its name (the same in every tenant schema: Django makes it from the table and
the column). The two foreign keys' `db_index=False` is told to Django's state only: its AlterField would
drop each foreign-key constraint and add it again, checking every row of both tables under their locks,
in every tenant's schema, for an index it then drops anyway. Django keeps no record of the "_like"
indexes; a later AlterField that changes one of those columns' type may make it add one again: drop it in
that migration too.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [
    ("booking_booking_slot_id_bb8af042", "booking_booking", "slot_id"),
    ("booking_cardevent_card_id_cb839f24", "booking_cardevent", "card_id"),
    ("booking_card_application_id_c9ee7c50_like", "booking_card", "application_id varchar_pattern_ops"),
    (
        "booking_card_reservation_number_55eea672_like",
        "booking_card",
        "reservation_number varchar_pattern_ops",
    ),
    (
        "booking_citizentoken_token_digest_28accd33_like",
        "booking_citizentoken",
        "token_digest varchar_pattern_ops",
    ),
]

FORWARD = "".join(f"DROP INDEX IF EXISTS {name};\n" for name, _table, _column in INDEXES)
BACKWARD = "".join(
    f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column});\n" for name, table, column in INDEXES
)


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0024_slot_take_in_plpgsql"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="booking",
                    name="slot",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bookings",
                        to="booking.slot",
                    ),
                ),
                migrations.AlterField(
                    model_name="cardevent",
                    name="card",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="booking.card",
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
        ),
    ]
