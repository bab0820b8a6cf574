"""The citizen pool (MADOGUCHI_WEB_POOL=citizen) serves residents only (issue 13, finding 1): staff pages,
the staff API and the vendor console answer 404 there, whatever the gateway in front lets through."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import KYOTO_PUBLIC_HOST, Tenants

pytestmark = pytest.mark.django_db

STAFF_PATHS = [
    "/staff",
    "/staff/",
    "/staff/login/",
    "/staff/bookings/",
    "/staff/caller/",
    "/api/v1/staff",
    "/api/v1/staff/sessions/",
    "/api/v1/staff/bookings/",
]
VENDOR_PATHS = ["/", "/admin/", "/admin/login/", "/login/", "/i18n/setlang/"]
VENDOR_HOST = "localhost"  # BASE_DOMAIN in tests: the public schema's host


@pytest.fixture
def citizen_pool(settings: Any) -> None:
    settings.MADOGUCHI_WEB_POOL = "citizen"


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_staff_paths_are_not_served_on_the_citizen_pool(
    tenants: Tenants, citizen_pool: None, path: str
) -> None:
    client = Client(HTTP_HOST=KYOTO_PUBLIC_HOST)
    for response in (client.get(path), client.post(path, {"username": "a", "password": "b"})):
        assert response.status_code == 404, path
        if path.startswith("/api/"):
            assert response.json()["code"] == "not_found"
        else:
            assert "ページが見つかりません" in response.content.decode()
        assert "Content-Security-Policy" in response.headers  # the security headers still come


@pytest.mark.parametrize("path", VENDOR_PATHS)
def test_the_vendor_console_is_not_served_on_the_citizen_pool(
    tenants: Tenants, citizen_pool: None, path: str
) -> None:
    assert Client(HTTP_HOST=VENDOR_HOST).get(path).status_code == 404


def test_residents_pages_and_health_are_still_served(tenants: Tenants, citizen_pool: None) -> None:
    client = Client(HTTP_HOST=KYOTO_PUBLIC_HOST)
    assert client.get("/").status_code == 200
    assert client.get("/login/").status_code == 200
    assert client.get("/staffing-news/").status_code == 404  # an unknown page, not a staff one
    assert Client(HTTP_HOST="10.0.0.9").get("/healthz").status_code == 200


@pytest.mark.parametrize("pool", ["staff", ""])
def test_other_pools_serve_staff_and_vendor_paths(tenants: Tenants, settings: Any, pool: str) -> None:
    settings.MADOGUCHI_WEB_POOL = pool
    assert Client(HTTP_HOST=KYOTO_PUBLIC_HOST).get("/staff/login/").status_code == 200
    assert Client(HTTP_HOST=VENDOR_HOST).get("/admin/login/").status_code == 200
