"""One matrix for the one staff access check (booking.access.gate): a page under /staff/ and an endpoint
under /api/v1/staff/ reach the same decision for every role × allowed networks × second factor × password.

Each case builds its one account, signs it in the way that surface signs in (the two-step web form, or
POST /api/v1/staff/sessions/), then puts the account in the state of the case and makes one request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP

from booking.access import accounts
from booking.audit import oplog
from booking.models import AllowedNetwork, OperationLogEntry, StaffProfile, StaffSecurity
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

ROLES = ["administrator", "counter", "operator", "viewer"]
EXPORTERS = {"administrator", "counter"}  # the roles given Can.EXPORT, which both guarded URLs need
NETWORKS = ["none_listed", "client_inside", "client_outside"]
SECOND_FACTORS = ["not_required", "required_done", "required_not_done"]
PASSWORDS = ["fresh", "expired"]
SURFACES = ["page", "api"]

ALLOWED_NETWORK = "192.0.2.0/24"
INSIDE = "192.0.2.10"
OUTSIDE = "198.51.100.3"
EXPIRY_DAYS = 90
URL = {"page": "/staff/bookings/export.csv", "api": "/api/v1/staff/bookings/export.csv"}

# How each surface shows each decision: (status, where it sends you or which error code).
SHOWN = {
    "page": {
        "allowed": (200, ""),
        "ip_not_allowed": (403, "ip_not_allowed"),
        "not_authenticated": (302, "/staff/login/?next=/staff/bookings/export.csv"),
        "otp_required": (302, "/staff/login/"),
        "otp_setup_required": (302, "/staff/totp/"),
        "password_expired": (302, "/staff/password/"),
        "forbidden": (403, "forbidden"),
    },
    "api": {
        "allowed": (200, ""),
        "ip_not_allowed": (403, "ip_not_allowed"),
        "not_authenticated": (401, "not_authenticated"),
        "otp_required": (401, "otp_required"),
        "otp_setup_required": (401, "otp_setup_required"),
        "password_expired": (403, "password_expired"),
        "forbidden": (403, "forbidden"),
    },
}


def expected(role: str, network: str, second_factor: str, password: str) -> str:
    """The order the gate checks in, written out independently of it."""
    # None listed: the platform's STAFF_DEFAULT_NETWORKS apply (loopback in tests), and INSIDE is not in them.
    if network != "client_inside":
        return "ip_not_allowed"
    if second_factor == "required_not_done":
        return "otp_required"
    if password == "expired":
        return "password_expired"
    if role not in EXPORTERS:
        return "forbidden"
    return "allowed"


def shown(surface: str, response: Any) -> tuple[int, str]:
    """What a response says, in the terms of SHOWN."""
    status = response.status_code
    if status == 302:
        return status, response["Location"]
    if status == 200:
        return status, ""
    if surface == "api":
        return status, response.json()["code"]
    found = re.search(r"<code>([a-z_]+)</code>", response.content.decode())
    return status, found.group(1) if found else ""


def code_now(profile: StaffProfile) -> str:
    device = accounts.totp_device(profile.user)
    assert device is not None
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def give_second_factor(profile: StaffProfile) -> None:
    device = accounts.do_start_totp(profile.user)
    device.confirmed = True
    device.save()


@dataclass
class SignedIn:
    """A client signed in on one surface: the session cookie rides in the client, the token in a header."""

    client: Client
    headers: dict[str, str]

    def get(self, path: str, address: str) -> Any:
        return self.client.get(path, REMOTE_ADDR=address, headers=self.headers)


def sign_in(surface: str, profile: StaffProfile, *, with_code: bool) -> SignedIn:
    username = profile.user.get_username()
    client = Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR=INSIDE)
    if surface == "page":
        first = client.post("/staff/login/", {"username": username, "password": PASSWORD})
        assert first.status_code == 302, first.content.decode()[:300]
        if with_code:
            assert client.post("/staff/login/", {"otp": code_now(profile)}).status_code == 302
        return SignedIn(client, {})
    body = {"username": username, "password": PASSWORD, **({"otp": code_now(profile)} if with_code else {})}
    response = client.post("/api/v1/staff/sessions/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return SignedIn(Client(HTTP_HOST=KYOTO_HOST), {"Authorization": f"Bearer {response.json()['token']}"})


@pytest.fixture(autouse=True)
def _quick_hasher(settings: Any) -> None:
    """Password hashing is not what these cases are about, and Argon2's deliberate cost, paid some 300
    times, would be most of their run (53 s against 8 s); the sign-in tests beside them use Argon2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CASES = list(itertools.product(SURFACES, ROLES, NETWORKS, SECOND_FACTORS, PASSWORDS))


@pytest.mark.parametrize(("surface", "role", "network", "second_factor", "password"), CASES)
def test_both_surfaces_decide_alike(
    kyoto: None, surface: str, role: str, network: str, second_factor: str, password: str
) -> None:
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"password_expiry_days": EXPIRY_DAYS})
    # Listed for signing in in every case; "none_listed" takes the list away afterwards (deny by default).
    AllowedNetwork.objects.create(network=ALLOWED_NETWORK, label="庁内")
    profile = make_staff(f"{role}-{surface}", role)
    if second_factor == "required_done":
        give_second_factor(profile)
    signed_in = sign_in(surface, profile, with_code=second_factor == "required_done")
    if network == "none_listed":
        AllowedNetwork.objects.all().delete()
    if second_factor == "required_not_done":
        give_second_factor(profile)  # after signing in: this session or token never passed it
    if password == "expired":
        StaffProfile.objects.filter(pk=profile.pk).update(
            password_changed_at=timezone.now() - dt.timedelta(days=EXPIRY_DAYS + 1)
        )

    response = signed_in.get(URL[surface], OUTSIDE if network == "client_outside" else INSIDE)

    decision = expected(role, network, second_factor, password)
    assert shown(surface, response) == SHOWN[surface][decision]
    refusals = OperationLogEntry.objects.filter(action="refused", username=profile.user.get_username())
    assert refusals.count() == (1 if decision == "forbidden" else 0)


# --- the cases the matrix cannot reach through a signed-in account ------------------------------------------


@pytest.mark.parametrize(("surface", "network"), list(itertools.product(SURFACES, NETWORKS)))
def test_nobody_signed_in(kyoto: None, surface: str, network: str) -> None:
    """The terminal comes first: from outside, even a visitor with no session or token is refused for it."""
    if network != "none_listed":
        AllowedNetwork.objects.create(network=ALLOWED_NETWORK)
    address = OUTSIDE if network == "client_outside" else INSIDE
    response = Client(HTTP_HOST=KYOTO_HOST).get(URL[surface], REMOTE_ADDR=address)
    decision = "ip_not_allowed" if network != "client_inside" else "not_authenticated"
    assert shown(surface, response) == SHOWN[surface][decision]


@pytest.mark.parametrize("network", NETWORKS)
def test_an_unknown_token_is_nobody_in_the_same_order(kyoto: None, network: str) -> None:
    if network != "none_listed":
        AllowedNetwork.objects.create(network=ALLOWED_NETWORK)
    address = OUTSIDE if network == "client_outside" else INSIDE
    response = Client(HTTP_HOST=KYOTO_HOST).get(
        URL["api"], REMOTE_ADDR=address, HTTP_AUTHORIZATION="Bearer pw.not-a-token"
    )
    decision = "ip_not_allowed" if network != "client_inside" else "not_authenticated"
    assert shown("api", response) == SHOWN["api"][decision]
    if decision == "not_authenticated":
        assert response["WWW-Authenticate"] == 'Bearer realm="staff"'
        assert "トークンが無効か、有効期限が切れています" in response.json()["message"]


@pytest.mark.parametrize("surface", SURFACES)
def test_a_second_factor_required_but_never_set_up_sends_to_its_setup(kyoto: None, surface: str) -> None:
    """Administrators must use a second factor once the tenant says so; an account signed in before that
    is sent to set it up (pages) or told to (API)."""
    AllowedNetwork.objects.create(network=ALLOWED_NETWORK)  # INSIDE is no platform network (deny by default)
    profile = make_staff(f"admin-{surface}", "administrator")
    signed_in = sign_in(surface, profile, with_code=False)
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"require_totp_for_administrators": True})
    assert shown(surface, signed_in.get(URL[surface], INSIDE)) == SHOWN[surface]["otp_setup_required"]


def test_no_token_is_issued_while_a_required_second_factor_is_not_set_up(kyoto: None) -> None:
    make_staff("admin1", "administrator")
    StaffSecurity.objects.update_or_create(singleton=True, defaults={"require_totp_for_administrators": True})
    response = Client(HTTP_HOST=KYOTO_HOST).post(
        "/api/v1/staff/sessions/",
        {"username": "admin1", "password": PASSWORD},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (401, "otp_setup_required")
    assert OperationLogEntry.objects.filter(action="login.refused", target="otp_setup_required").exists()


def test_a_token_cannot_be_rewritten_to_claim_a_second_factor(kyoto: None) -> None:
    """The token says in its text whether a code was checked; only the digest of the whole text is stored."""
    profile = make_staff("clerk", "counter")
    give_second_factor(profile)
    client = Client(HTTP_HOST=KYOTO_HOST)
    body = {"username": "clerk", "password": PASSWORD, "otp": code_now(profile)}
    token = client.post("/api/v1/staff/sessions/", body, content_type="application/json").json()["token"]
    assert token.startswith(accounts.TOKEN_AFTER_SECOND_FACTOR)
    assert client.get(URL["api"], HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    plain = make_staff("clerk2", "counter")
    body = {"username": "clerk2", "password": PASSWORD}
    token = client.post("/api/v1/staff/sessions/", body, content_type="application/json").json()["token"]
    assert token.startswith(accounts.TOKEN_PASSWORD_ONLY)
    give_second_factor(plain)
    forged = accounts.TOKEN_AFTER_SECOND_FACTOR + token.removeprefix(accounts.TOKEN_PASSWORD_ONLY)
    for presented, decision in ((token, "otp_required"), (forged, "not_authenticated")):
        response = client.get(URL["api"], HTTP_AUTHORIZATION=f"Bearer {presented}")
        assert shown("api", response) == SHOWN["api"][decision]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer two parts", "bearer  a b", "Bearer トークン"],
    ids=["empty", "two", "three", "ascii"],
)
@pytest.mark.parametrize("url", [URL["api"], "/api/v1/citizen/booking/"], ids=["staff", "citizen"])
def test_both_apis_refuse_a_malformed_bearer_header_alike(kyoto: None, url: str, header: str) -> None:
    response = Client(HTTP_HOST=KYOTO_HOST).get(url, HTTP_AUTHORIZATION=header.encode().decode("latin-1"))
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize("surface", SURFACES)
def test_reads_are_logged_by_the_gate_on_both_surfaces(kyoto: None, surface: str) -> None:
    AllowedNetwork.objects.create(network=ALLOWED_NETWORK)  # INSIDE is no platform network (deny by default)
    profile = make_staff(f"viewer-{surface}", "viewer")
    signed_in = sign_in(surface, profile, with_code=False)
    path = {"page": "/staff/bookings/", "api": "/api/v1/staff/bookings/"}[surface]
    assert signed_in.get(f"{path}?date=2026-12-07", INSIDE).status_code == 200
    action = {"page": "bookings.list", "api": "api.bookings.list"}[surface]
    logged = OperationLogEntry.objects.get(action=action, username=profile.user.get_username())
    assert logged.target == f"{path}?date=2026-12-07" and logged.address == INSIDE


def test_removing_or_replacing_the_second_factor_ends_the_accounts_api_tokens(kyoto: None) -> None:
    """A token issued after a code must not outlive the device it was checked against (a lost phone)."""
    AllowedNetwork.objects.create(network=ALLOWED_NETWORK)  # INSIDE is no platform network (deny by default)
    profile = make_staff("clerk", "counter")
    actor = oplog.Actor(None, "admin", INSIDE)
    give_second_factor(profile)
    removed = sign_in("api", profile, with_code=True)
    assert removed.get(URL["api"], INSIDE).status_code == 200
    accounts.do_remove_totp(actor, profile)
    assert shown("api", removed.get(URL["api"], INSIDE)) == SHOWN["api"]["not_authenticated"]

    give_second_factor(profile)
    replaced = sign_in("api", profile, with_code=True)
    assert replaced.get(URL["api"], INSIDE).status_code == 200
    new_device = accounts.do_start_totp(profile.user)
    assert accounts.do_confirm_totp(actor, new_device, code_for(new_device))
    assert shown("api", replaced.get(URL["api"], INSIDE)) == SHOWN["api"]["not_authenticated"]


def code_for(device: Any) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"
