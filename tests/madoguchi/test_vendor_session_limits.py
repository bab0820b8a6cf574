"""Vendor-console sessions end after an idle time and an absolute time (issue 13, finding 7: they lasted 14
days with no idle timeout). The clock is moved, never slept on."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import Clock, Tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(tenants: Tenants, django_user_model: Any, settings: Any) -> Client:
    settings.VENDOR_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test client's address
    operator = django_user_model.objects.create_user("ops", password="x-Very-Long-Pass-1", is_staff=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_vendor_session_ends_after_30_idle_minutes(operator_client: Client, clock: Clock) -> None:
    operator_client.get("/")
    clock.advance(minutes=29)
    operator_client.get("/")
    assert signed_in(operator_client)
    clock.advance(minutes=30, seconds=1)
    operator_client.get("/")
    assert not signed_in(operator_client)


def test_a_busy_vendor_session_ends_10_hours_after_it_began(operator_client: Client, clock: Clock) -> None:
    operator_client.get("/")
    for _step in range(29):
        clock.advance(minutes=20)
        operator_client.get("/")
        assert signed_in(operator_client)
    clock.advance(minutes=20)
    operator_client.get("/")
    assert not signed_in(operator_client)


def test_the_vendor_limits_come_from_settings(operator_client: Client, clock: Clock, settings: Any) -> None:
    settings.VENDOR_SESSION_IDLE_MINUTES = 5
    operator_client.get("/")
    clock.advance(minutes=5, seconds=1)
    operator_client.get("/")
    assert not signed_in(operator_client)


def test_no_session_lasts_django_s_14_days(settings: Any) -> None:
    assert settings.SESSION_COOKIE_AGE <= 12 * 60 * 60
