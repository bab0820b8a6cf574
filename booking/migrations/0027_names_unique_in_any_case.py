"""Place codes and staff user IDs are unique whatever their case, kept by the database.

"ADMIN" beside "admin", or "CENTER-3F" beside "center-3f", are two rows that people (and the staff sign-in,
which asks for an ID as typed) take for one. The services refuse them (`places.place_problems`,
`accounts.do_create_staff`, `invitations.do_invite_administrator`) by a look before the write; two saves at
the same instant both passed that look. These indexes close it: the second write fails and is answered with
the same message. `upper()`, as Django's `__iexact` compares, so the services' look and the index agree.

A schema that already holds two such rows is not changed silently: the migration stops and names them, to be
renamed by the municipality's administrator first.
"""

from typing import Any

from django.db import migrations, models
from django.db.models.functions import Upper

TWINS = {
    "booking_place": "code",
    "auth_user": "username",
}


def refuse_existing_twins(apps: Any, schema_editor: Any) -> None:
    found = []
    with schema_editor.connection.cursor() as cursor:
        for table, column in TWINS.items():
            cursor.execute(
                f"SELECT string_agg({column}, ' / ' ORDER BY {column}) FROM {table} "  # noqa: S608 (constants)
                f"GROUP BY upper({column}) HAVING count(*) > 1"
            )
            found += [f"{table}.{column}: {row[0]}" for row in cursor.fetchall()]
    if found:
        raise RuntimeError(
            "Rows differing only in case; rename one of each pair, then migrate again: " + "; ".join(found)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("booking", "0026_trigger_fast_paths"),
    ]

    operations = [
        migrations.RunPython(refuse_existing_twins, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="place",
            constraint=models.UniqueConstraint(Upper("code"), name="place_code_unique_in_any_case"),
        ),
        migrations.RunSQL(
            "CREATE UNIQUE INDEX auth_user_username_unique_in_any_case ON auth_user (upper(username))",
            "DROP INDEX auth_user_username_unique_in_any_case",
        ),
    ]
