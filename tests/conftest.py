"""Shared fixtures: two real tenants (Kyoto with its preset, a blank demo town) made through the same
provisioning action production uses, once per test session, in real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client

from tenants.db import tenant_connection
from tenants.models import Municipality
from tenants.services import do_provision_tenant

KYOTO_HOST = "kyoto.localhost"
KYOTO_PUBLIC_HOST = "yoyaku.city.kyoto.lg.jp"
MIHON_HOST = "mihon.localhost"


@dataclass(frozen=True)
class Tenants:
    kyoto: Municipality
    mihon: Municipality


@pytest.fixture(scope="session")
def tenants(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Tenants:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        kyoto = do_provision_tenant("kyoto", name="京都市", domain=KYOTO_HOST, preset="kyoto").tenant
        do_provision_tenant("kyoto", name="京都市", domain=KYOTO_PUBLIC_HOST, preset="kyoto")
        mihon = do_provision_tenant("mihon", name="見本市", domain=MIHON_HOST, preset="blank").tenant
    return Tenants(kyoto=kyoto, mihon=mihon)


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Requests switch the shared connection to their tenant; every test starts and ends on public."""
    tenant_connection().set_schema_to_public()
    yield
    tenant_connection().set_schema_to_public()


@pytest.fixture
def kyoto_client(tenants: Tenants, db: None) -> Client:
    return Client(HTTP_HOST=KYOTO_HOST)


@pytest.fixture
def mihon_client(tenants: Tenants, db: None) -> Client:
    return Client(HTTP_HOST=MIHON_HOST)
