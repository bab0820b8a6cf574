"""Every staff write leaves an operation-log entry with the staff member's user ID (issue 13; SO-14): the
console shell (sign-in and out, password, second factor, staff accounts, allowed networks, sign-in rules,
sessions, the operation log, bookings, full exports) and the staff API.

The products' screens are walked in `test_every_product_write_is_logged`, the call center's in
`test_every_operator_write_is_logged`; `test_every_staff_url_has_one_row` holds the three tables against the
URL conf, so a new URL under /staff/ or /api/v1/staff/ fails until it is given a row.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.access import accounts
from booking.models import StaffProfile
from tests.audit import staff_walk
from tests.audit import test_every_operator_write_is_logged as call_center
from tests.audit import test_every_product_write_is_logged as products
from tests.audit.staff_walk import Row, Staff, read, writes
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, SETUP, make_staff

pytestmark = pytest.mark.django_db


# --- recipes ---------------------------------------------------------------------------------------------


def sign_in_again(staff: Staff) -> None:
    again = Client(HTTP_HOST=KYOTO_HOST)
    response = again.post("/staff/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302


def sign_out(staff: Staff) -> None:
    assert staff.client.post("/staff/logout/").status_code == 302


def change_password(staff: Staff) -> None:
    new = "Walk-Every-Write-2026!"
    response = staff.client.post("/staff/password/", {"current": PASSWORD, "new": new, "again": new})
    assert response.status_code == 302, response.content.decode()[:500]


def enable_totp(staff: Staff) -> None:
    assert staff.client.get("/staff/totp/").status_code == 200  # makes the unconfirmed device
    device = TOTPDevice.objects.get(user_id=staff.user_id, confirmed=False)
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, 0):0{device.digits}d}"
    assert staff.client.post("/staff/totp/", {"otp": code}).status_code == 302


def create_staff(staff: Staff) -> None:
    data = {"username": "walk-new", "role": "viewer", "password": "Walk-New-Staff-2026!"}
    assert staff.client.post("/staff/users/new/", data).status_code == 302


def _update_staff(action: str, **extra: str) -> staff_walk.Write:
    def write(staff: Staff) -> None:
        if action == "activate":
            accounts.do_set_active(SETUP, _target(), False)
        if action == "remove_totp":  # removing what is not there writes (and logs) nothing
            TOTPDevice.objects.create(user=_target().user, name="phone", confirmed=True)
        url = f"/staff/users/{_target().pk}/"
        assert staff.client.post(url, {"action": action, **extra}).status_code == 302

    return write


def _target() -> StaffProfile:
    found = StaffProfile.objects.filter(user__username="walk-target").first()
    return found or make_staff("walk-target", "counter")


def _security(action: str, **extra: str) -> staff_walk.Write:
    def write(staff: Staff) -> None:
        if action == "remove":
            # The client's own address stays allowed, so the POST itself is let through.
            accounts.do_allow_network(SETUP, "127.0.0.1/32", "walk")
            accounts.do_allow_network(SETUP, "192.0.2.0/24", "walk")
        data = {"action": action, **extra}
        if action == "rules":
            rules = accounts.security()
            data |= {
                "password_expiry_days": str(rules.password_expiry_days),
                "lockout_threshold": str(rules.lockout_threshold % 20 + 1),
                "lockout_minutes": str(rules.lockout_minutes),
                "operation_log_retention_days": str(rules.operation_log_retention_days),
            }
        assert staff.client.post("/staff/security/update/", data).status_code == 302

    return write


def request_export(staff: Staff) -> None:
    assert staff.client.post("/staff/exports/new/").status_code == 302


def api_sign_in(staff: Staff) -> None:
    body = {"username": staff.username, "password": PASSWORD}
    response = Client(HTTP_HOST=KYOTO_HOST).post(
        "/api/v1/staff/sessions/", body, content_type="application/json"
    )
    assert response.status_code == 201


ROWS: dict[str, Row] = {
    "staff:home": read("GET: today's counts"),
    "staff:login": writes((sign_in_again, "login")),
    "staff:cancel_login": read(
        "drops a half-done sign-in from the visitor's own session; nobody is signed in"
    ),
    "staff:logout": writes((sign_out, "logout")),
    "staff:session_extend": read("POST only moves the person's own session's idle clock (WCAG 2.2.1)"),
    "staff:password": writes((change_password, "password.change")),
    "staff:totp_setup": writes((enable_totp, "totp.enable")),
    "staff:invitation": read(
        "no signed-in staff: the invited administrator's one-time link; setting the password is logged as "
        "staff.invite_accept under the invited account (tests/tenants/test_lifecycle.py)"
    ),
    "staff:bookings": read("GET: the list (its read is logged as bookings.list)"),
    "staff:bookings_csv": read("GET: a download (logged as bookings.export)"),
    "staff:booking": read("GET: one booking (logged as booking.view)"),
    "staff:staff_list": read("answers POST like GET: shows the form, saves nothing (staff_create saves)"),
    "staff:staff_create": writes((create_staff, "staff.create")),
    "staff:staff_update": writes(
        (_update_staff("role", role="viewer"), "staff.role"),
        (_update_staff("unlock"), "staff.unlock"),
        (_update_staff("reset"), "staff.reset_password"),
        (_update_staff("deactivate"), "staff.deactivate"),
        (_update_staff("activate"), "staff.activate"),
        (_update_staff("remove_totp"), "totp.remove"),
    ),
    "staff:security": read("answers POST like GET: shows the form, saves nothing (security_update saves)"),
    "staff:security_update": writes(
        (_security("allow", network="127.0.0.0/8", label="walk"), "network.allow"),
        (_security("remove", network="192.0.2.0/24"), "network.remove"),
        (_security("rules"), "security.update"),
        (_security("sessions", session_idle_minutes="45", session_absolute_hours="10"), "security.sessions"),
    ),
    "staff:oplog": read("GET: the log (logged as oplog.view); ?verify=1 checks the chain, writes nothing"),
    "staff:oplog_csv": read("GET: a download (logged as oplog.export)"),
    "staff:exports": read("GET: the list of exports (logged as export.list)"),
    "staff:request_export": writes((request_export, "export.request")),
    "staff:download_export": read("GET: a download (logged as export.download)"),
    "api-staff-sessions": writes((api_sign_in, "login")),
    "api-staff-bookings": read("GET only (logged as api.bookings.list)"),
    "api-staff-bookings-export": read("GET only: a download"),
}


def test_every_staff_url_has_one_row() -> None:
    named = [*ROWS, *products.ROWS, *call_center.ROWS]
    assert len(named) == len(set(named)), "a URL has rows in two tables"
    endpoints = staff_walk.staff_endpoints()
    assert len(endpoints) > 60, "the walk found too few URLs: the URL conf changed shape"
    assert endpoints - set(named) == set(), "a new staff URL: give it a row (its writes, or why none)"
    assert set(named) - endpoints == set(), "a row names a URL that is gone"


def test_rows_without_a_write_say_why() -> None:
    for table in (ROWS, products.ROWS):
        assert all(bool(row.writes) != bool(row.why) for row in table.values())


@pytest.fixture
def staff(kyoto: None, monkeypatch: pytest.MonkeyPatch) -> Staff:
    return staff_walk.signed_in_administrator(monkeypatch, "walk-admin")


@pytest.mark.parametrize(("name", "action"), staff_walk.cases(ROWS))
def test_each_console_write_is_logged_with_the_users_id(staff: Staff, name: str, action: str) -> None:
    staff_walk.assert_logged_by(staff, staff_walk.recipe(ROWS, name, action), action)
