"""A municipality whose schema is missing (a provisioning stopped before making it, or a schema lost) is never
worked in: its search_path would fall through to the public schema's tables of the same names (the operators'
accounts and sessions). The host routing answers 503 (tests/tenants/test_routing.py); the control plane's
actions refuse with what to do (tenants.lifecycle.in_schema_of); the commands refuse before they start."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_tenants.utils import get_public_schema_name, schema_context

from console import vendor_log
from tenants import lifecycle, offboarding
from tenants.models import Domain, Municipality
from tenants.services import ProvisioningError
from tests.conftest import Tenants
from tests.vendor_helpers import make_operator, operator_client

pytestmark = pytest.mark.django_db

ACTOR = vendor_log.Actor("ops", None, "127.0.0.1")


def schemaless(name: str = "kusatsu") -> Municipality:
    (tenant,) = Municipality.objects.bulk_create([Municipality(schema_name=name, name="草津市")])  # no schema
    Domain.objects.bulk_create([Domain(domain=f"{name}.localhost", tenant=tenant, is_primary=True)])
    return tenant


def public_users() -> list[str]:
    with schema_context(get_public_schema_name()):
        return sorted(get_user_model().objects.values_list("username", flat=True))


def test_the_console_shows_the_municipality_and_says_what_to_do(tenants: Tenants) -> None:
    schemaless()
    page = operator_client(*make_operator()).get("/municipalities/kusatsu/")
    text = page.content.decode()
    assert page.status_code == 200 and "草津市" in text and "kusatsu.localhost" in text
    assert "のスキーマがありません" in text and "provision_tenant" in text


def test_an_invitation_export_or_offboarding_is_refused_and_nothing_reaches_the_public_tables(
    tenants: Tenants,
) -> None:
    tenant = schemaless()
    before = public_users()
    with pytest.raises(ProvisioningError, match="のスキーマがありません"):
        lifecycle.do_invite(ACTOR, tenant, "ops", "a@example.jp")  # an operator's name: never looked up
    with pytest.raises(ProvisioningError, match="のスキーマがありません"):
        lifecycle.do_request_export(ACTOR, tenant)
    record = offboarding.do_request_offboarding(
        ACTOR, "kusatsu", confirm="kusatsu", asked_by="x", queue=False
    )
    done = offboarding.do_run_offboarding(record.pk)  # never a "final export" of the public schema's tables
    assert done.status == done.Status.FAILED and "のスキーマがありません" in done.error
    assert public_users() == before


@pytest.mark.parametrize(
    "command",
    [
        ["create_staff", "kusatsu", "clerk", "--role", "administrator"],
        ["verify_oplog", "kusatsu"],
        ["import_cards", "kusatsu", "docs/examples/cards.csv"],
    ],
)
def test_a_command_refuses_before_it_starts(
    tenants: Tenants, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    schemaless()
    monkeypatch.setenv("STAFF_PASSWORD", "Kumo-Sora-58#q")
    before = public_users()
    with pytest.raises(CommandError, match="has no schema"):
        call_command(*command)
    assert public_users() == before
