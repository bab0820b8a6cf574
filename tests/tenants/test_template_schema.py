"""Provisioning makes a schema from the template schema (issue 12 §4; tenants.template_schema): the result is
what the tenant migrations would have made, structure and rows alike; a stale or missing template is built
again before it is used, and a schema unlike the template is replaced by a migrated one."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_exists

from tenants import template_schema
from tenants.db import tenant_connection
from tenants.models import Municipality
from tenants.services import ProvisioningError, do_provision_tenant, validate_schema_name
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db

REFERENCE = "ref_migrated"


def _make_by_migrations(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    tenant_connection().set_schema_to_public()


@pytest.fixture(scope="module")
def reference(
    tenants: Tenants, django_db_blocker: Any
) -> Iterator[str]:  # a schema made by every migration, as before cloning
    with django_db_blocker.unblock():
        _make_by_migrations(REFERENCE)
    yield REFERENCE
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{REFERENCE}" CASCADE')


def _new_tenant(schema: str) -> Municipality:
    """A tenant row and its schema, no preset: the schema as provisioning starts from."""
    tenant = Municipality(schema_name=schema, name=schema)
    tenant.save(verbosity=0)
    return tenant


def _rows(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in key order (when each migration ran is left out: it differs by nature)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r'", [schema]
        )
        tables = sorted(name for (name,) in cursor.fetchall())
        rows = {}
        for table in tables:
            columns = "app, name" if table == "django_migrations" else "*"
            cursor.execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY 1, 2')  # noqa: S608
            rows[table] = cursor.fetchall()
        cursor.execute(
            "SELECT relname, pg_sequence_last_value(oid) FROM pg_class "
            "WHERE relnamespace = %s::regnamespace AND relkind = 'S' ORDER BY 1",
            [schema],
        )
        rows["(sequences)"] = cursor.fetchall()
    return rows


def test_a_cloned_schema_is_the_migrated_one(reference: str) -> None:
    _new_tenant("clone_a")
    # tables, columns, defaults, constraints with their names, indexes, triggers, functions (with their pinned
    # search_path), sequences, privileges
    assert template_schema.catalog_difference("clone_a", reference) == []
    assert template_schema.catalog("clone_a")[("trigger", _trigger_text())] == 1
    # the rows the migrations and their post-migrate hooks write, and where each sequence stands
    assert _rows("clone_a") == _rows(reference)
    assert _rows("clone_a")["booking_bookingsettings"]  # migration 0015's row is among them


def _trigger_text() -> str:
    return (
        "CREATE TRIGGER booking_booking_count AFTER INSERT OR DELETE OR UPDATE OF status, slot_id "
        "ON booking_booking FOR EACH ROW EXECUTE FUNCTION booking_booking_count() enabled=O"
    )


def test_a_new_tenants_trigger_functions_are_pinned_to_its_own_schema(tenants: Tenants) -> None:
    """Migration 0010 pins them with current_schema(); a copy pinned to the template's schema would count the
    tenant's bookings in the template's slots (django-tenants' clone_schema does that)."""
    _new_tenant("clone_b")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, p.proconfig FROM pg_proc p WHERE p.pronamespace = 'clone_b'::regnamespace "
            "AND p.proconfig IS NOT NULL"
        )
        pinned = dict(cursor.fetchall())
    assert pinned, "migration 0010 pins the trigger functions' search_path"
    # and the functions made again later: 0023's one-call booking, 0026's counters (re-made, pinned again)
    assert {"booking_book_in_one_call", "booking_booking_count", "booking_hold_count"} <= pinned.keys(), (
        pinned
    )
    assert "booking_slot_take" not in pinned  # 0026: the counters run their UPDATE themselves
    assert all(config == ["search_path=clone_b, pg_catalog"] for config in pinned.values()), pinned


def test_provisioning_through_the_service_clones_and_is_quick(tenants: Tenants, reference: str) -> None:
    result = do_provision_tenant("clone_c", name="複製市", domain="clone-c.localhost", preset="kyoto")
    assert result.created and "applied preset kyoto" in result.changes[-1]
    assert template_schema.template_is_current()
    assert template_schema.catalog_difference("clone_c", reference) == []


def test_a_stale_template_is_built_again_before_it_is_cloned(reference: str) -> None:
    template = template_schema.template_name()
    _new_tenant("clone_warm")  # the template exists and is current
    # As after a release whose newest migration the template has not had: its last booking migration (the
    # probe card's triggers) is neither applied nor recorded.
    with connection.cursor() as cursor:
        cursor.execute(f'SET search_path = "{template}"')
        cursor.execute("DROP TRIGGER booking_booking_probe ON booking_booking")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'booking' AND name = '0022_probe_card'")
    tenant_connection().set_schema_to_public()
    assert not template_schema.template_is_current()

    _new_tenant("clone_d")
    assert template_schema.catalog_difference("clone_d", reference) == []
    assert template_schema.template_is_current()


def test_a_template_ahead_of_the_code_is_built_again(reference: str) -> None:
    """A template a newer release made (a rollback since) records migrations this code does not have."""
    _new_tenant("clone_warm2")
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{template_schema.template_name()}".django_migrations (app, name, applied) '  # noqa: S608
            "VALUES ('booking', '9999_from_the_future', now())"
        )
        cursor.execute(
            f'ALTER TABLE "{template_schema.template_name()}".booking_place ADD COLUMN future text'
        )
    _new_tenant("clone_e")
    assert template_schema.catalog_difference("clone_e", reference) == []


def test_a_missing_template_is_built(reference: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{template_schema.template_name()}" CASCADE')
    _new_tenant("clone_f")
    assert schema_exists(template_schema.template_name())
    assert template_schema.catalog_difference("clone_f", reference) == []


def test_a_schema_unlike_the_template_is_made_by_the_migrations_instead(
    reference: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever the replay gets wrong (here: a recorded statement lost), the tenant gets a schema made by the
    migrations, never a wrong one."""
    _new_tenant("clone_warm3")
    template = template_schema.template_name()
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regnamespace, 'pg_namespace')", [template])
        recording = json.loads(cursor.fetchone()[0])
        statements = recording["statements"]
        kept = [s for s in statements if "CREATE TRIGGER booking_booking_probe" not in s]  # migration 0022's
        assert len(kept) == len(statements) - 1
        cursor.execute(
            f'COMMENT ON SCHEMA "{template}" IS %s', [json.dumps({**recording, "statements": kept})]
        )
    with caplog.at_level(logging.WARNING, logger="tenants.template_schema"):
        _new_tenant("clone_g")
    assert "migrating clone_g instead" in caplog.text
    assert "booking_booking_probe" in caplog.text
    assert template_schema.catalog_difference("clone_g", reference) == []
    assert _rows("clone_g") == _rows(reference)


def test_an_existing_schema_is_left_alone(tenants: Tenants) -> None:
    """Saving a tenant whose schema exists clones nothing and drops nothing."""
    before = template_schema.catalog("kyoto")
    Municipality.objects.get(schema_name="kyoto").create_schema(check_if_exists=True, verbosity=0)
    assert template_schema.catalog("kyoto") == before


def test_no_tenant_can_take_the_templates_name() -> None:
    with pytest.raises(ProvisioningError, match="スキーマ名が正しくありません"):
        validate_schema_name(template_schema.template_name())
