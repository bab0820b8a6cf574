"""The tenant's one settings row: reading it never writes (not even when it is missing), provisioning and
migration 0015 make it, and the first settings change makes it if it is still missing."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.audit import oplog
from booking.configuration.rule_settings import WindowInput, do_update_window
from booking.engine.queries import booking_rules, free_slots
from booking.models import BookingSettings, OperationLogEntry
from booking.provisioning import apply_preset, load_preset
from tests import factories
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db
SETUP = oplog.Actor(None, "test", "127.0.0.1")
MIGRATION = "0015_singleton_rows"


@contextmanager
def read_only() -> Iterator[None]:
    """A savepoint the database itself keeps read-only: any INSERT/UPDATE/DELETE inside raises. Rolled back
    at the end, which also ends the read-only mode for the rest of the test."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
        yield
        transaction.set_rollback(True)


def default_values() -> dict[str, Any]:
    """What a new settings row holds, field by field (its id aside)."""
    fresh = BookingSettings()
    return {f.name: getattr(fresh, f.name) for f in BookingSettings._meta.concrete_fields if f.name != "id"}


def values_of(rules: BookingSettings) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in default_values()}


def test_the_read_only_guard_refuses_a_write(kyoto: None) -> None:
    """The guard the tests below rely on: what booking_rules() used to do (get_or_create) fails in it."""
    BookingSettings.objects.all().delete()
    with pytest.raises(DatabaseError, match="read-only transaction"), read_only():
        BookingSettings.objects.get_or_create(singleton=True)


def test_booking_rules_reads_the_row_in_one_select(kyoto: None) -> None:
    row, _ = BookingSettings.objects.get_or_create(singleton=True)
    BookingSettings.objects.filter(pk=row.pk).update(hold_minutes=25)
    with read_only(), CaptureQueriesContext(connection) as queries:
        rules = booking_rules()
    assert (rules.pk, rules.hold_minutes) == (row.pk, 25)
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_without_a_row_booking_rules_gives_the_defaults_unsaved_and_writes_nothing(kyoto: None) -> None:
    BookingSettings.objects.all().delete()
    with read_only(), CaptureQueriesContext(connection) as queries:
        rules = booking_rules()
    assert rules.pk is None and rules.singleton is True
    assert values_of(rules) == default_values()
    assert rules.deadline_time == dt.time(17, 0) and rules.hold_minutes == 10
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    assert not BookingSettings.objects.exists()


def test_without_a_row_availability_and_the_citizen_top_page_work_and_write_no_row(
    kyoto: None, kyoto_client: Client
) -> None:
    BookingSettings.objects.all().delete()
    today = timezone.localdate()
    with read_only():
        slots = free_slots(factories.place(), factories.card_issuance(), today, today + dt.timedelta(days=30))
    assert slots  # the default window (from tomorrow, no end) offers the preset's times
    response = kyoto_client.get("/")
    assert response.status_code == 200
    with schema_context("kyoto"):
        assert not BookingSettings.objects.exists()


def test_the_first_settings_change_makes_the_missing_row_and_logs_it(kyoto: None) -> None:
    BookingSettings.objects.all().delete()
    data = WindowInput(
        first_days_ahead=3,
        bookable_until=None,
        deadline_days_before=1,
        deadline_time=dt.time(12, 0),
        hold_minutes=15,
        booking_horizon_days=90,
    )
    changes = do_update_window(SETUP, data)
    rules = BookingSettings.objects.get()
    assert (rules.first_days_ahead, rules.deadline_days_before, rules.hold_minutes) == (3, 1, 15)
    assert changes["first_days_ahead"] == {"old": 1, "new": 3}
    entry = OperationLogEntry.objects.filter(action="settings.window").order_by("-seq").first()
    assert entry is not None and entry.detail["changes"] == changes


def test_provisioning_makes_the_row_and_keeps_an_existing_one(kyoto: None) -> None:
    BookingSettings.objects.all().delete()
    apply_preset("kyoto")
    made = BookingSettings.objects.get()
    # The model's defaults, and the preset's English texts where the defaults have none (issue 15).
    preset_texts = load_preset("kyoto")["texts"]
    assert values_of(made) == {**default_values(), **preset_texts}
    BookingSettings.objects.filter(pk=made.pk).update(hold_minutes=30, text_bring_en="Bring the postcard.")
    apply_preset("kyoto")  # applying again changes nothing: the administrator's texts stay
    assert list(BookingSettings.objects.values_list("pk", "hold_minutes", "text_bring_en")) == [
        (made.pk, 30, "Bring the postcard.")
    ]


def test_a_newly_provisioned_tenant_has_its_row(tenants: Tenants) -> None:
    with schema_context(tenants.mihon.schema_name):
        assert BookingSettings.objects.filter(singleton=True).count() == 1


# --- migration 0015 ---------------------------------------------------------------------------------------


def run_migration_function() -> None:
    """The migration's function with the models as they were at 0015, in the current schema."""
    module = importlib.import_module(f"booking.migrations.{MIGRATION}")
    historical = MigrationLoader(connection).project_state(("booking", MIGRATION)).apps
    with connection.schema_editor() as editor:
        module.create_settings_row(historical, editor)


def test_the_migration_makes_the_missing_row_with_the_defaults(kyoto: None) -> None:
    BookingSettings.objects.all().delete()
    run_migration_function()
    made = BookingSettings.objects.get()
    assert values_of(made) == default_values()


def test_the_migration_is_idempotent_and_keeps_an_existing_row(kyoto: None) -> None:
    row, _ = BookingSettings.objects.get_or_create(singleton=True)
    BookingSettings.objects.filter(pk=row.pk).update(hold_minutes=42, text_top="ようこそ")
    run_migration_function()
    run_migration_function()
    assert list(BookingSettings.objects.values_list("pk", "hold_minutes", "text_top")) == [
        (row.pk, 42, "ようこそ")
    ]


def test_the_migration_reverses_as_a_no_op() -> None:
    module = importlib.import_module(f"booking.migrations.{MIGRATION}")
    assert len(module.Migration.operations) == 2
    for operation in module.Migration.operations:
        assert isinstance(operation, RunPython)
        assert operation.reversible and operation.reverse_code is RunPython.noop


# --- the staff sign-in rules: the same rule ----------------------------------------------------------------


def test_the_staff_sign_in_rules_are_read_without_writing(kyoto: None) -> None:
    from booking.access import accounts
    from booking.models import StaffSecurity

    StaffSecurity.objects.all().delete()
    with read_only():
        rules = accounts.security()
    assert rules.pk is None and rules.lockout_threshold == StaffSecurity().lockout_threshold
    assert not StaffSecurity.objects.exists()


def test_a_newly_provisioned_tenant_has_its_staff_sign_in_rules(tenants: Tenants) -> None:
    from booking.models import StaffSecurity

    with schema_context(tenants.mihon.schema_name):
        assert StaffSecurity.objects.filter(singleton=True).count() == 1
