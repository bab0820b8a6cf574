"""Staff users and signed-in clients for tests, made through the production services."""

from __future__ import annotations

from typing import Any

from django.test import Client

from booking.access import accounts
from booking.audit import oplog
from booking.models import StaffProfile
from tests.conftest import KYOTO_HOST

PASSWORD = "Kyoto-2026!ok"
SETUP = oplog.Actor(None, "test-setup", "127.0.0.1")


def make_staff(username: str, role: str, *, must_change: bool = False) -> StaffProfile:
    """In the current schema."""
    return accounts.do_create_staff(SETUP, username, role, PASSWORD, must_change=must_change).profile


def sign_in(username: str, password: str = PASSWORD, host: str = KYOTO_HOST, **extra: Any) -> Client:
    client = Client(HTTP_HOST=host, **extra)
    response = client.post("/staff/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client
