"""Vendor-console operators for tests: public-schema staff users with a TOTP device (issue 13, finding 3)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

CONSOLE_HOST = "localhost"
OPERATOR_PASSWORD = "Ops-Console1!x"


def make_operator(username: str = "ops", *, with_device: bool = True, **fields: Any) -> tuple[Any, Any]:
    user = get_user_model().objects.create_superuser(username, password=OPERATOR_PASSWORD, **fields)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True) if with_device else None
    return user, device


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, 0):0{device.digits}d}"


def operator_client(user: Any, device: TOTPDevice, **extra: Any) -> Client:
    """A client signed in as if through the console's form: password and TOTP (the device in the session)."""
    client = Client(HTTP_HOST=CONSOLE_HOST, **extra)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def sign_in(client: Client, username: str, password: str, code: str = "") -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "otp_token": code, "next": "/admin/"},
    )


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"
