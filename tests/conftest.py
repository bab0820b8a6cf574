"""Shared fixtures: two real tenants (Kyoto with its preset, a blank demo town) made through the same
provisioning action production uses, once per test session, in real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.db import tenant_connection
from tenants.models import Municipality
from tenants.services import do_provision_tenant

T = TypeVar("T")
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
        kyoto = do_provision_tenant(
            "kyoto", name="京都市", name_en="Kyoto City", domain=KYOTO_HOST, preset="kyoto"
        ).tenant
        do_provision_tenant("kyoto", name="京都市", domain=KYOTO_PUBLIC_HOST, preset="kyoto")
        mihon = do_provision_tenant("mihon", name="見本市", domain=MIHON_HOST, preset="blank").tenant
    return Tenants(kyoto=kyoto, mihon=mihon)


@pytest.fixture(autouse=True)
def _own_cache_keys(settings: Any) -> None:
    """Each test sees its own keys in the real Redis (login counters etc.), and clears nobody else's."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run tasks in-process (mail tests read Django's outbox); the broker path is tested on its own."""
    from madoguchi.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_host_routing() -> None:
    """The host routing's memory (tenants.routing) starts empty: tests make, change and drop municipalities
    and domains with the ORM directly, which the services' forget_routes() would otherwise announce."""
    from tenants.routing import _forget_here

    _forget_here()


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Requests switch the shared connection to their tenant; every test starts and ends on public."""
    tenant_connection().set_schema_to_public()
    yield
    tenant_connection().set_schema_to_public()


@pytest.fixture
def kyoto(tenants: Tenants) -> Iterator[None]:
    """The test runs in Kyoto's schema (the ORM reads and writes Kyoto's tables)."""
    with schema_context("kyoto"):
        yield


@pytest.fixture
def kyoto_client(tenants: Tenants, db: None) -> Client:
    return Client(HTTP_HOST=KYOTO_HOST)


@pytest.fixture
def mihon_client(tenants: Tenants, db: None) -> Client:
    return Client(HTTP_HOST=MIHON_HOST)


def _in_kyoto(fn: Callable[[], T]) -> T:
    from django.db import connections

    try:
        with schema_context("kyoto"):
            return fn()
    finally:
        connections.close_all()


def _remove_bookings() -> None:
    from booking.models import (
        Booking,
        BookingSettings,
        Card,
        CardImportJob,
        CitizenToken,
        ClosedDay,
        Hold,
        NoticeRun,
        Slot,
        TransferConfirmation,
    )

    lifecycle = (TransferConfirmation, NoticeRun)
    for model in (
        CitizenToken,
        Hold,
        Booking,
        Slot,
        Card,
        CardImportJob,
        *lifecycle,
        ClosedDay,
        BookingSettings,
    ):
        model.objects.all().delete()
    # The rules row exists in every provisioned schema (reads never create it): put Kyoto's back as its preset
    # makes it (the English texts, the call center's number), so no later test sees a bare default row.
    from booking.provisioning import apply_preset

    apply_preset("kyoto")
    _forget_committed_operation_log()


def _forget_committed_operation_log() -> None:
    """Entries a committing test wrote (failed sign-ins of a burst, operators' bookings) would number the
    next test's entries from where they stopped. The log refuses DELETE by trigger; a test may go around it
    as only a superuser can (session_replication_role), the way the tamper tests play an attacker."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM booking_operationlogentry")
        cursor.execute("DELETE FROM booking_operationloganchor")


@pytest.fixture
def committed_kyoto(tenants: Tenants, db: None) -> Iterator[Callable[[Callable[[], T]], T]]:
    """Run code in Kyoto's schema on a connection of its own, which commits for real.

    The test's own connection sits in a transaction that is rolled back; rows that other connections
    (threads) must see are made through this instead, and everything it booked is removed afterwards.
    """

    def run(fn: Callable[[], T]) -> T:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(_in_kyoto, fn).result()

    try:
        yield run
    finally:
        run(_remove_bookings)


class Clock:
    """Every `timezone.now()` (Django's sessions, ours, the operation log) reads this."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A clock the test moves by hand (no sleeping): `clock.advance(minutes=31)`."""
    fixed = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    yield fixed


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """The browser suite (tests/browser) needs Chromium and axe-core: it runs only when named on the command
    line (`make test-browser`), never as part of `make test`."""
    if collection_path.name == "browser" and collection_path.parent.name == "tests":
        named = any("tests/browser" in str(arg) for arg in config.args)
        return None if named else True
    return None
