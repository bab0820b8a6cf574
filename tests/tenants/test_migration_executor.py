"""`migrate_schemas` hands django-tenants' executor only the schemas that lack a migration (issue 12 §4;
tenants.migration_executor): up-to-date schemas are skipped, one behind is migrated as before."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tenants.migration_executor import schemas_behind
from tenants.models import Municipality
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db


def _one_schema_behind(*, up_to_date_first: bool = False) -> None:
    """A new municipality "behind", then its booking migrations undone back to 0021, as before a release."""
    Municipality(schema_name="behind", name="遅れ市").save(verbosity=0)
    if up_to_date_first:
        assert schemas_behind(["kyoto", "mihon", "behind"]) == []
    call_command(
        "migrate_schemas",
        "booking",
        "0021",
        tenant=True,
        schema_name="behind",
        interactive=False,
        verbosity=0,
    )


def test_up_to_date_schemas_are_skipped_and_one_behind_is_migrated(
    tenants: Tenants, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_schema_behind(up_to_date_first=True)
    assert schemas_behind(["kyoto", "behind", "mihon"]) == ["behind"]
    capsys.readouterr()

    call_command("migrate_schemas", tenant=True, interactive=False, executor="standard")
    out = capsys.readouterr().out
    assert "schemas have every migration already: skipped" in out
    assert "standard:behind]" in out and "standard:kyoto]" not in out
    assert "Applying booking.0022_probe_card" in out
    assert schemas_behind(["kyoto", "behind", "mihon"]) == []


def test_a_run_naming_an_app_hands_every_schema_over(
    tenants: Tenants, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("migrate_schemas", "booking", tenant=True, interactive=False, executor="standard")
    out = capsys.readouterr().out
    assert "skipped" not in out
    assert "standard:kyoto]" in out


@pytest.mark.parametrize("schema", ["kyoto", "public"])
def test_the_table_list_is_djangos(tenants: Tenants, schema: str) -> None:
    """madoguchi.postgresql's table list (found through pg_depend, not by testing every relation of every
    schema) is the one django-tenants' introspection gives."""
    from django.db import connection
    from django_tenants.postgresql_backend.introspection import DatabaseSchemaIntrospection
    from django_tenants.utils import schema_context

    with schema_context(schema), connection.cursor() as cursor:
        ours = connection.introspection.get_table_list(cursor)
        theirs = DatabaseSchemaIntrospection(connection).get_table_list(cursor)
    assert sorted(ours) == sorted(theirs)
    assert any(table.name == "django_migrations" for table in ours)


def test_a_municipality_without_its_schema_is_named_and_left_out(
    tenants: Tenants, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provisioning that ended before its schema was made does not fail every other tenant's migrations."""
    Municipality.objects.bulk_create([Municipality(schema_name="unfinished", name="未完市")])  # no schema
    _one_schema_behind()
    capsys.readouterr()

    call_command("migrate_schemas", tenant=True, interactive=False, executor="standard")
    out, err = capsys.readouterr()
    assert "1 municipalities have no schema yet" in err and "unfinished" in err
    assert "standard:behind]" in out and "standard:unfinished]" not in out
    assert schemas_behind(["behind"]) == []
    with pytest.raises(CommandError, match="unfinished"):  # --check says so
        call_command(
            "migrate_schemas", tenant=True, interactive=False, executor="standard", check_unapplied=True
        )


def test_a_provisioned_municipality_whose_schema_is_gone_fails_the_run_after_the_others(
    tenants: Tenants, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its preset was applied, so it had a schema: a loss to restore, which the release must not pass over."""
    Municipality.objects.bulk_create([Municipality(schema_name="lost", name="消失市", preset="blank")])
    _one_schema_behind()
    capsys.readouterr()

    with pytest.raises(CommandError, match="lost"):
        call_command("migrate_schemas", tenant=True, interactive=False, executor="standard")
    out, err = capsys.readouterr()
    assert "lost their schema" in err and "restore them from the backup" in err
    assert "standard:behind]" in out  # the others were migrated first
    assert schemas_behind(["behind"]) == []
