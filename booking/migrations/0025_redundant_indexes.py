"""Indexes that only cost writes (issue 12: every booking, card move and card import paid for them).

A booking inserts a booking, its event and a card event and moves its card (a change of the indexed state,
so every index of the card is written): 24 index insertions, five of them into indexes no query uses.

- `booking_booking.slot_id`'s own index: `booking_slot_status` (slot_id, status) serves every lookup by slot
  (the slot's bookings, PROTECT's check before a slot is deleted).
- `booking_cardevent.card_id`'s own index: `card_event_card_at` (card_id, at) serves every lookup by card.
- The `varchar_pattern_ops` ("_like") indexes Django adds beside a unique text column, for LIKE 'prefix%'
  under a non-C collation: application IDs, reservation numbers and token digests are only ever looked up
  whole (the unique index does that); prefix searches are by name in kana, which has its own index.

Django keeps no record of the "_like" indexes, so they are dropped by name (the same in every tenant
schema: the name is made from the table and column). A later AlterField that changes one of those
columns' type may make Django add one again; drop it in that migration too.
"""

import django.db.models.deletion
from django.db import migrations, models

LIKE_INDEXES = [
    ("booking_card_application_id_c9ee7c50_like", "booking_card", "application_id"),
    ("booking_card_reservation_number_55eea672_like", "booking_card", "reservation_number"),
    ("booking_citizentoken_token_digest_28accd33_like", "booking_citizentoken", "token_digest"),
]

FORWARD = "".join(f"DROP INDEX IF EXISTS {name};\n" for name, _table, _column in LIKE_INDEXES)
BACKWARD = "".join(
    f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column} varchar_pattern_ops);\n"
    for name, table, column in LIKE_INDEXES
)


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0024_slot_take_in_plpgsql"),
    ]

    operations = [
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
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
