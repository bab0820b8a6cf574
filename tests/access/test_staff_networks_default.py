"""Deny by default (issue 13, finding 1): a tenant that lists no allowed networks is not open to anyone
anywhere; the platform's LGWAN and call-center networks (STAFF_DEFAULT_NETWORKS) apply, and with none of
those either, staff functions are closed until they are set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from booking.access import accounts
from booking.models import AllowedNetwork
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, make_staff, sign_in

pytestmark = pytest.mark.django_db

PLATFORM = "198.51.100.0/24"  # the platform's LGWAN gateway, say
ON_PLATFORM = "198.51.100.7"
INTERNET = "203.0.113.50"
TENANT = "192.0.2.0/24"
IN_TENANT = "192.0.2.20"


def login_status(address: str) -> tuple[int, str]:
    client = Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR=address)
    response = client.post("/staff/login/", {"username": "admin1", "password": PASSWORD})
    return response.status_code, response.content.decode()


def api_status(address: str) -> tuple[int, str]:
    response = Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR=address).post(
        "/api/v1/staff/sessions/",
        {"username": "admin1", "password": PASSWORD},
        content_type="application/json",
    )
    return response.status_code, response.json().get("code", "")


@override_settings(STAFF_DEFAULT_NETWORKS=[PLATFORM])
def test_an_empty_list_allows_only_the_platform_networks(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    assert not AllowedNetwork.objects.exists()
    status, body = login_status(INTERNET)
    assert status == 403 and "ip_not_allowed" in body
    assert api_status(INTERNET) == (403, "ip_not_allowed")
    assert Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR=INTERNET).get("/staff/").status_code == 403
    assert login_status(ON_PLATFORM)[0] == 302
    assert api_status(ON_PLATFORM)[0] == 201


@override_settings(STAFF_DEFAULT_NETWORKS=[PLATFORM])
def test_a_tenant_list_replaces_the_platform_networks(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    AllowedNetwork.objects.create(network=TENANT, label="庁内")
    assert login_status(IN_TENANT)[0] == 302
    assert login_status(ON_PLATFORM)[0] == 403
    assert login_status(INTERNET)[0] == 403


@override_settings(STAFF_DEFAULT_NETWORKS=[])
def test_nothing_configured_closes_staff_functions_and_says_why(kyoto: None) -> None:
    """Production before STAFF_DEFAULT_NETWORKS is set: closed everywhere, loopback included."""
    make_staff("admin1", "administrator")
    for address in ("127.0.0.1", INTERNET):
        assert not accounts.address_allowed(address)
        status, body = login_status(address)
        assert status == 403
        assert "接続を許可するネットワークがまだ設定されていない" in body
        assert "STAFF_DEFAULT_NETWORKS" in body
        assert api_status(address) == (403, "ip_not_allowed")


def test_local_runs_default_to_loopback(kyoto: None) -> None:
    """With DEBUG on (make run, the tests) the default is this machine only."""
    make_staff("admin1", "administrator")
    assert accounts.networks_in_force().networks == ("127.0.0.0/8", "::1/128")
    assert accounts.address_allowed("127.0.0.1") and accounts.address_allowed("::1")
    assert not accounts.address_allowed(INTERNET)


@override_settings(STAFF_DEFAULT_NETWORKS=[PLATFORM])
def test_the_administrators_see_what_applies(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    client = sign_in("admin1", REMOTE_ADDR=ON_PLATFORM)
    home = client.get("/staff/").content.decode()
    assert "共通の許可ネットワーク（LGWAN・コールセンター）からだけ使えます" in home
    screen = client.get("/staff/security/").content.decode()
    assert PLATFORM in screen
    assert "どこからでも" not in screen + home


def settings_in_production(**env: str) -> subprocess.CompletedProcess[str]:
    """STAFF_DEFAULT_NETWORKS as a production process (DEBUG off) reads it from its environment."""
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "p7Qm2x9Lr4Tz8Vw1Ks6Hd3Fb5Nc0Yj7Ue2Ia9Og4Rl1Xs8Wq3Ez6Tv5By0Pn2Mk",
        "DATABASE_URL": "postgres://u@db/x",
        "REDIS_URL": "redis://r:6379/0",
        "RESERVATION_PASSWORD_KEY": "k" * 40,
        "OPLOG_KEY": "o" * 40,
    }
    base = {k: v for k, v in os.environ.items() if k not in {*production, "STAFF_DEFAULT_NETWORKS"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(','.join(settings.STAFF_DEFAULT_NETWORKS) or '-')",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**base, **production, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_has_no_default_networks_unless_set() -> None:
    unset = settings_in_production()
    assert (unset.returncode, unset.stdout.strip()) == (0, "-"), unset.stderr[-500:]
    given = settings_in_production(STAFF_DEFAULT_NETWORKS="192.0.2.0/24, 198.51.100.0/28")
    assert given.stdout.strip() == "192.0.2.0/24,198.51.100.0/28", given.stderr[-500:]
    typo = settings_in_production(STAFF_DEFAULT_NETWORKS="192.0.2.0/33")
    assert typo.returncode != 0 and "STAFF_DEFAULT_NETWORKS: not a network" in typo.stderr
