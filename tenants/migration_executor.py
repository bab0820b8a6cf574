"""`migrate_schemas` over many tenants (issue 12 §4): django-tenants' executors, less the schemas that have
nothing to apply.

django-tenants runs Django's whole `migrate` command in every schema, even one already at the code's
migrations: it loads the migration graph, renders the project state twice, looks for model changes, sends
the post-migrate signals and reconnects, about 0.3 s of one core per schema (docs/performance.md "Tenant
scale"), so 2,000 up-to-date tenants cost minutes for nothing. Here one query per 500 schemas reads which
have recorded exactly the code's migrations, and only the others are handed to the executor. A schema that
is skipped has nothing `migrate` would do: its post-migrate work (content types, permissions) follows model
changes, which come with migrations.

The system checks, which Django's `migrate` runs again in every schema, run once (as migrate_schemas starts).

Only a plain run skips up-to-date schemas: naming an app or a migration, --fake, --fake-initial, --plan,
--prune, --check or --run-syncdb hand every schema to the executor as django-tenants would.

Every run leaves out a municipality whose schema does not exist, naming it on standard error, and migrates
the others: handed to django-tenants, it failed the whole run, every other tenant's migrations with it ("no
schema has been selected to create in"), and a release with it. One whose preset is not applied yet is a
provisioning that ended before (or is making) its schema: `provision_tenant` run again makes it from the
current template. One whose preset was applied has lost its schema: the run then ends with an error after
migrating the others, as does `--check` for any municipality left out.

Settings: GET_EXECUTOR_FUNCTION = "tenants.migration_executor.get_executor".
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

from django.core.management.base import CommandError
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import get_executor as tenants_get_executor
from psycopg import sql

from tenants.db import tenant_connection
from tenants.models import Municipality
from tenants.queries import schema_present

BATCH = 500  # schemas per query
PLAIN_RUN_EXCLUDES = (
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "prune",
    "check_unapplied",
    "run_syncdb",
)


def _fingerprint(migrations: Any) -> str:
    return hashlib.md5("\n".join(sorted(f"{app}.{name}" for app, name in migrations)).encode()).hexdigest()  # noqa: S324 - a fingerprint, not security


def schemas_behind(schemas: list[str]) -> list[str]:
    """The schemas whose recorded migrations are not exactly the code's, in the order given."""
    current = _fingerprint(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    fingerprints: dict[str, str] = {}
    connection = tenant_connection()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(  # a schema made just now has no migration records yet
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)",
            [schemas],
        )
        recorded = {name for (name,) in cursor.fetchall()}
        with_records = [schema for schema in schemas if schema in recorded]
        for start in range(0, len(with_records), BATCH):
            batch = with_records[start : start + BATCH]
            cursor.execute(
                sql.SQL(" UNION ALL ").join(
                    sql.SQL(
                        "SELECT {}, md5(coalesce(string_agg(app || '.' || name, E'\\n' "
                        "ORDER BY app || '.' || name COLLATE \"C\"), '')) FROM {}.django_migrations"
                    ).format(sql.Literal(schema), sql.Identifier(schema))
                    for schema in batch
                )
            )
            fingerprints.update({str(schema): str(digest) for schema, digest in cursor.fetchall()})
    return [schema for schema in schemas if fingerprints.get(schema) != current]


def schemas_missing(schemas: list[str]) -> tuple[list[str], list[str]]:
    """Those of `schemas` that do not exist, in the order given: (municipalities whose provisioning has not
    applied its preset yet, those whose preset was applied: a schema lost)."""
    if not schemas:
        return [], []  # a run of the shared apps only (the municipalities' table may not be made yet)
    tenant_connection().set_schema_to_public()
    without = Municipality.objects.filter(schema_name__in=schemas).exclude(schema_present())
    provisioned = {m.schema_name: m.provisioned for m in without.only("schema_name", "preset")}
    return (
        [schema for schema in schemas if provisioned.get(schema) is False],
        [schema for schema in schemas if provisioned.get(schema)],
    )


class SkipCurrentSchemas:
    """Mixed in before one of django-tenants' executors."""

    args: Any
    options: dict[str, Any]
    PUBLIC_SCHEMA_NAME: str

    def run_migrations(self, tenants: Any = None) -> None:
        schemas = list(tenants or [])
        unfinished, lost = schemas_missing([s for s in schemas if s != self.PUBLIC_SCHEMA_NAME])
        if unfinished:
            print(
                f"{len(unfinished)} municipalities have no schema yet (a provisioning that ended early or "
                f"is running), left out: {', '.join(unfinished)}; run manage.py provision_tenant for each "
                "again to finish it, then migrate_schemas",
                file=sys.stderr,
            )
        if lost:
            print(
                f"{len(lost)} provisioned municipalities have lost their schema, left out: "
                f"{', '.join(lost)}; restore them from the backup (docs/operations.md)",
                file=sys.stderr,
            )
        left_out = {*unfinished, *lost}
        schemas = [s for s in schemas if s not in left_out]
        if not any(self.options.get(option) for option in PLAIN_RUN_EXCLUDES):
            tenant_schemas = [schema for schema in schemas if schema != self.PUBLIC_SCHEMA_NAME]
            behind = set(schemas_behind(tenant_schemas))
            if tenant_schemas and int(self.options.get("verbosity", 1)) >= 1:
                print(
                    f"{len(tenant_schemas) - len(behind)} of {len(tenant_schemas)} tenant schemas have every "
                    "migration already: skipped"
                )
            schemas = [s for s in schemas if s == self.PUBLIC_SCHEMA_NAME or s in behind]
        if schemas:
            # The system checks ran once, as migrate_schemas started; Django's migrate would run them again in
            # every schema (a tenth of a second each).
            self.options["skip_checks"] = True
            super().run_migrations(tenants=schemas)  # type: ignore[misc]
        if lost or (unfinished and self.options.get("check_unapplied")):
            raise CommandError(f"municipalities without a schema: {', '.join(lost + unfinished)}")


def get_executor(codename: str | None = None) -> type:
    base = tenants_get_executor(codename)
    return type(f"SkipCurrent{base.__name__}", (SkipCurrentSchemas, base), {"codename": base.codename})
