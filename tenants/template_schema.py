"""The template schema a new municipality's schema is made from (issue 12 §4), so that provisioning does not
run every tenant migration, and costs the same with 2,000 tenants as with one.

The template is made by the tenant migrations themselves, in a schema of its own, and every statement they
send without parameters (the schema editor's DDL, RunSQL) is recorded as it runs, in the template schema's
comment. A new tenant's schema is then made by replaying those statements in it, in one transaction, and
copying the template's rows (what the parameterised statements wrote: the settings rows of RunPython, the
content types, permissions and migration records) and sequence positions. It is the migrations' own SQL, so
names, triggers and the functions' pinned search_path (booking migration 0010 pins it with current_schema())
come out as the migrations make them.

Why not django-tenants' TENANT_BASE_SCHEMA clone (its `clone_schema` SQL function, measured in
docs/performance.md "Tenant scale"): its catalog queries span every schema, so one clone took 0.6 s with 10
schemas and 4 s with 135 (it would take about a minute at 2,000), and it renames UNIQUE constraints, widens
integer identity sequences and leaves the trigger functions pinned to the template's schema (the tenant's
booking counters would count in the template's tables).

The template is kept current: before each use its recorded migrations are compared with the code's, and a
template that differs (a new release, a rollback, none yet) is built again; the deploy's migration job builds
it ahead (`manage.py prepare_tenant_template`). Every new schema's catalog is compared with the template's
(tables, columns, defaults, constraints, indexes, triggers, functions, sequences, privileges); a schema that
differs is dropped and made by the migrations instead: slower, never wrong.

The template is no Municipality: no request, task or `migrate_schemas` run sees it. Its name starts with an
underscore, which no tenant's schema name may (tenants.services.validate_schema_name).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists
from psycopg import sql

from tenants.db import tenant_connection

log = logging.getLogger(__name__)

TEMPLATE_SCHEMA = "_tenant_template"
# pg_advisory_lock key (any constant bigint): building the template takes it exclusively, making a schema from
# the template shares it, so no schema is made from a template being rebuilt.
TEMPLATE_LOCK_KEY = 0x6D67_7473_0001


LEFT_OUT = ("SET SEARCH_PATH", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SELECT", "SHOW")


def template_name() -> str:
    return TEMPLATE_SCHEMA


# Every object of one schema as comparable text, with the schema's own name taken out of the definitions (a
# function's pinned search_path names its own schema: see booking migration 0010).
# A table's NULL privileges (the owner's defaults) read as what they mean, since the clone writes them out.
CATALOG_SQL = """
WITH ns AS MATERIALIZED (SELECT oid, nspname FROM pg_namespace WHERE nspname = %(schema)s),
rel AS MATERIALIZED (  -- one pass over pg_class, which holds every schema's relations
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.relowner, c.relacl, c.relrowsecurity,
           c.relforcerowsecurity, ns.nspname
      FROM pg_class c JOIN ns ON ns.oid = c.relnamespace)
SELECT 'relation', c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text FROM rel c
UNION ALL
SELECT 'column', c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull::text || ' identity=' || a.attidentity::text
       || ' generated=' || a.attgenerated::text
       || ' default=' || coalesce(replace(pg_get_expr(d.adbin, d.adrelid), c.nspname || '.', ''), '')
       || ' collation=' || a.attcollation::regcollation::text
  FROM pg_attribute a JOIN rel c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT 'constraint', c.relname || ' ' || co.conname || ' ' || co.contype::text
       || ' deferrable=' || co.condeferrable::text || ' deferred=' || co.condeferred::text
       || ' ' || replace(pg_get_constraintdef(co.oid), c.nspname || '.', '')
  FROM pg_constraint co JOIN rel c ON c.oid = co.conrelid
UNION ALL
SELECT 'index', replace(pg_get_indexdef(i.indexrelid), c.nspname || '.', '')
  FROM pg_index i JOIN rel c ON c.oid = i.indexrelid
UNION ALL
SELECT 'trigger', replace(pg_get_triggerdef(t.oid), c.nspname || '.', '') || ' enabled=' || t.tgenabled::text
  FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal
UNION ALL
SELECT 'function', replace(replace(pg_get_functiondef(p.oid), ns.nspname || '.', ''),
                           quote_literal(ns.nspname), '<own schema>')
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
UNION ALL
SELECT 'sequence', c.relname || ' ' || s.seqtypid::regtype::text || ' start=' || s.seqstart::text
       || ' step=' || s.seqincrement::text || ' min=' || s.seqmin::text || ' max=' || s.seqmax::text
       || ' cycle=' || s.seqcycle::text
  FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
UNION ALL
SELECT 'type', t.typname || ' ' || t.typtype::text
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd')
    OR (t.typtype = 'c' AND t.typrelid IN (SELECT oid FROM rel WHERE relkind = 'c'))
UNION ALL
SELECT 'privileges', c.relname || ' ' || coalesce(
           c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))::text
  FROM rel c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
UNION ALL
SELECT 'row security', c.relname || ' ' || c.relrowsecurity::text || ' ' || c.relforcerowsecurity::text
  FROM rel c WHERE c.relkind IN ('r', 'p')
UNION ALL
SELECT 'policy', p.polname || ' on ' || c.relname || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
  FROM pg_policy p JOIN rel c ON c.oid = p.polrelid
"""


def catalog(schema: str) -> Counter[tuple[str, str]]:
    """The schema's objects as (kind, definition) pairs, counted: equal for two schemas that the same
    migrations would make alike."""
    connection = tenant_connection()
    with transaction.atomic(), connection.cursor() as cursor:
        # Every name qualified: a reference to the public schema's table of the same name reads differently.
        # No JIT: the planner's estimates over 2,000 schemas' catalogs make it compile for seconds a query
        # that runs in a fifth of one.
        cursor.execute("SET LOCAL search_path = pg_catalog")
        cursor.execute("SET LOCAL jit = off")
        try:
            cursor.execute(CATALOG_SQL, {"schema": schema})
            found = Counter((str(kind), str(text)) for kind, text in cursor.fetchall())
        finally:
            connection.set_schema_to_public()  # django-tenants sets the search_path again on the next cursor
    return found


def catalog_difference(made: str, reference: str) -> list[str]:
    """What differs between two schemas' catalogs, one line each ("-" only in `reference`, "+" only in
    `made`); empty when they are alike."""
    return _difference(catalog(made), catalog(reference))


def _difference(ours: Counter[tuple[str, str]], theirs: Counter[tuple[str, str]]) -> list[str]:
    missing = sorted((theirs - ours).elements())
    extra = sorted((ours - theirs).elements())
    return [f"- {kind}: {text}" for kind, text in missing] + [f"+ {kind}: {text}" for kind, text in extra]


@cache
def code_migrations() -> frozenset[tuple[str, str]]:
    """Every migration of this release's code, as (app, name): what a current schema has recorded."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def recorded_migrations(schema: str) -> set[tuple[str, str]]:
    """What `schema` has recorded (read directly: Django's MigrationRecorder first lists every table the
    search_path shows, a scan of all schemas' catalogs)."""
    connection = tenant_connection()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".django_migrations'])
        if cursor.fetchone()[0] is None:
            return set()
        cursor.execute(sql.SQL("SELECT app, name FROM {}.django_migrations").format(sql.Identifier(schema)))
        return {(str(app), str(name)) for app, name in cursor.fetchall()}


@dataclass(frozen=True)
class Recording:
    """What building the template recorded in its comment: the statements to replay, and the template's
    catalog as they left it (so that checking a new schema reads only the new schema's catalog)."""

    statements: list[str]
    catalog: Counter[tuple[str, str]]


def _recording() -> Recording | None:
    with tenant_connection().cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regnamespace, 'pg_namespace')", [TEMPLATE_SCHEMA])
        row = cursor.fetchone()
    if not row or not row[0]:
        return None
    try:
        data = json.loads(row[0])
        return Recording(list(data["statements"]), Counter((str(k), str(t)) for k, t in data["catalog"]))
    except (ValueError, TypeError, KeyError):  # not a recording (edited by hand, or an older form)
        return None


def template_is_current() -> bool:
    return (
        schema_exists(TEMPLATE_SCHEMA)
        and recorded_migrations(TEMPLATE_SCHEMA) == code_migrations()
        and _recording() is not None
    )


@contextmanager
def template_lock(shared: bool) -> Iterator[None]:
    """Across processes: one template build at a time, and none while a schema is made from the template.
    No lock_timeout while waiting: a provisioning queues behind another, it does not fail."""
    connection = tenant_connection()
    connection.set_schema_to_public()
    take = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")
        cursor.execute(f"SELECT {take}(%s)", [TEMPLATE_LOCK_KEY])
        cursor.execute("RESET lock_timeout")
    try:
        yield
    finally:
        release = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {release}(%s)", [TEMPLATE_LOCK_KEY])


def _recreate(schema: str) -> None:
    connection = tenant_connection()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def migrate_schema(schema: str, verbosity: int = 0) -> None:
    """Make `schema` (dropped first if it exists) by every tenant migration, as django-tenants does, in one
    transaction: django-tenants closes the connection after migrating a schema unless in one, which would
    also let go of the template lock."""
    with transaction.atomic():
        _recreate(schema)
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity
        )
    tenant_connection().set_schema_to_public()


def build_template(verbosity: int = 0) -> None:
    """Make the template by the tenant migrations and record their structural statements in its comment."""
    recorded: list[str] = []

    def record(execute: Callable[..., Any], statement: Any, params: Any, many: bool, context: Any) -> Any:
        text = str(statement).strip()
        # Left out: django-tenants' own `SET search_path` as it switches to the template, Django's savepoints,
        # and the reads (the migrate command's introspection, which scans every schema's tables). A RunSQL
        # that began with a SELECT and went on to change the structure would be lost: the catalog check sees
        # it.
        if not params and not text.upper().startswith(LEFT_OUT):
            recorded.append(text)
        return execute(statement, params, many, context)

    connection = tenant_connection()
    with template_lock(shared=False), transaction.atomic():  # atomic: see migrate_schema
        if template_is_current():  # another process built it while this one waited
            return
        _recreate(TEMPLATE_SCHEMA)
        with connection.execute_wrapper(record):
            call_command(
                "migrate_schemas",
                tenant=True,
                schema_name=TEMPLATE_SCHEMA,
                interactive=False,
                verbosity=verbosity,
            )
        connection.set_schema_to_public()
        naming = [statement for statement in recorded if TEMPLATE_SCHEMA in statement]
        if naming:
            # a statement naming the template's schema would make that object there again: never replayed
            log.warning(
                "a tenant migration names the schema it runs in (%s): new schemas are migrated", naming[0]
            )
            recorded = []
        recording = {"statements": recorded, "catalog": list(catalog(TEMPLATE_SCHEMA).elements())}
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(TEMPLATE_SCHEMA), sql.Literal(json.dumps(recording) if recorded else "")
                )
            )


def ensure_template(verbosity: int = 0) -> bool:
    """Build the template when it is missing or its migrations are not the code's; True if it was built."""
    if template_is_current():
        return False
    log.info("building the tenant template schema %s", TEMPLATE_SCHEMA)
    build_template(verbosity)
    return True


def _has_rows(cursor: Any, schema: str) -> list[str]:
    """The tables of `schema` that have rows (a replayed RunSQL could have written some)."""
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r'", [schema]
    )
    tables = [name for (name,) in cursor.fetchall()]
    if not tables:
        return []
    cursor.execute(
        sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} WHERE EXISTS (SELECT 1 FROM {}.{})").format(
                sql.Literal(table), sql.Identifier(schema), sql.Identifier(table)
            )
            for table in tables
        )
    )
    return [name for (name,) in cursor.fetchall()]


def _copy_rows(cursor: Any, schema: str) -> None:
    """The template's rows and sequence positions, into the same (empty) tables of `schema`."""
    cursor.execute(
        """
        SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
          FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attnum > 0
           AND NOT a.attisdropped AND a.attgenerated = ''
         GROUP BY c.oid, c.relname ORDER BY c.oid
        """,
        [TEMPLATE_SCHEMA],
    )
    copies = [
        sql.SQL("INSERT INTO {}.{} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}.{}").format(
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.SQL(columns),
            sql.SQL(columns),
            sql.Identifier(TEMPLATE_SCHEMA),
            sql.Identifier(table),
        )
        for table, columns in cursor.fetchall()
    ]
    cursor.execute(  # not the pg_sequences view: it reads every schema's sequences before it filters
        "SELECT relname, CASE WHEN relkind = 'S' THEN pg_sequence_last_value(oid) END FROM pg_class "
        "WHERE relnamespace = %s::regnamespace AND relkind = 'S'",
        [TEMPLATE_SCHEMA],
    )
    positions = [
        sql.SQL("SELECT setval({}, {}, true)").format(
            sql.Literal(f'"{schema}"."{sequence}"'), sql.Literal(int(last_value))
        )
        for sequence, last_value in cursor.fetchall()
        if last_value is not None  # never used
    ]
    if copies or positions:
        cursor.execute(sql.SQL(";\n").join(copies + positions))


def _check_references_now(cursor: Any, schema: str) -> None:
    """The copied rows' deferred foreign-key checks, run now rather than at the commit: a schema found unlike
    the template is dropped afterwards, which PostgreSQL refuses while checks on its tables are pending (in
    an enclosing transaction)."""
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace AND condeferrable", [schema]
    )
    names = [name for (name,) in cursor.fetchall()]
    if names:
        cursor.execute(
            sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(
                sql.SQL(", ").join(sql.Identifier(schema, name) for name in names)
            )
        )


def create_schema(schema: str, verbosity: int = 0) -> None:
    """Make a new tenant's schema from the template (built first when it is not current); if the result's
    catalog is not the template's, make it by the migrations instead."""
    ensure_template(verbosity)
    connection = tenant_connection()
    with template_lock(shared=True):
        # current still? A process of another release (a rolling deploy) may have built it again meanwhile
        recording = _recording() if template_is_current() else None
        if recording and recording.statements:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                    cursor.execute(
                        sql.SQL("SET LOCAL search_path = {}, public").format(sql.Identifier(schema))
                    )
                    cursor.execute(";\n".join(recording.statements))
                    cursor.execute("SET LOCAL search_path = public")
                    written = _has_rows(cursor, schema)
                    if not written:
                        _copy_rows(cursor, schema)
                        _check_references_now(cursor, schema)
            except DatabaseError as error:  # rolled back: no schema is left
                difference = [f"the replay failed: {error}"]
            else:
                connection.set_schema_to_public()
                difference = _difference(catalog(schema), recording.catalog)
                if written:  # copying the template's rows over them would double them: migrate instead
                    difference.append(f"rows written by the replay in {', '.join(written)}")
            connection.set_schema_to_public()
        else:
            difference = ["no current template, or no statements recorded in it"]
    if difference:
        log.warning(
            "the schema %s made from the template %s differs from it (%s); migrating %s instead",
            schema,
            TEMPLATE_SCHEMA,
            "; ".join(difference[:5]),
            schema,
        )
        migrate_schema(schema, verbosity)
    connection.set_schema_to_public()
