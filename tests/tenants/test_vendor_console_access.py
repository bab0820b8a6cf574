"""The vendor console's sign-in and actions (issue 13, finding 3): lockout, a throttle per client address,
a TOTP second factor for every operator, allowed networks, and every vendor action in the vendor
operation log."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from console import vendor_log
from console.models import OperatorSignIn, PlannedStop, VendorLogEntry
from console.services import CLIENT_LOCK_AFTER, LOCK_AFTER
from tests.conftest import KYOTO_HOST, Tenants
from tests.vendor_helpers import (
    CONSOLE_HOST,
    OPERATOR_PASSWORD,
    current_code,
    make_operator,
    operator_client,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.usefixtures("tenants")


def client_from(address: str, **extra: Any) -> Client:
    return Client(HTTP_HOST=CONSOLE_HOST, REMOTE_ADDR=address, **extra)


def actions() -> list[tuple[str, str]]:
    return [(entry.action, entry.target) for entry in VendorLogEntry.objects.order_by("seq")]


def test_thirty_wrong_passwords_lock_the_account_and_the_right_one_is_then_refused(db: None) -> None:
    user, device = make_operator()
    for attempt in range(30):
        # a new address each time, so that what stops the right password is the account's lock,
        # not the per-address throttle
        response = sign_in(client_from(f"127.0.1.{attempt + 1}"), "ops", f"wrong-{attempt}")
        assert not signed_in(response)
    response = sign_in(client_from("127.0.2.1"), "ops", OPERATOR_PASSWORD, current_code(device))
    assert not signed_in(response)
    # the answer is that of a wrong password: the form does not say which accounts exist or are locked
    unknown = sign_in(client_from("127.0.2.9"), "nobody", "wrong")
    assert response.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
    state = OperatorSignIn.objects.get(user=user)
    assert state.locked_until is not None and state.locked_until > timezone.now() + dt.timedelta(minutes=25)
    assert ("signin.locked", "ops") in actions()

    # the lock ends after its period (here: moved into the past), and the right sign-in works again
    OperatorSignIn.objects.filter(user=user).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # the same code may be used once more
    device.refresh_from_db()
    again = sign_in(client_from("127.0.2.2"), "ops", OPERATOR_PASSWORD, current_code(device))
    assert signed_in(again), again.context["form"].errors
    assert OperatorSignIn.objects.get(user=user).failures == 0


def test_failures_from_one_address_are_throttled_whatever_the_account(db: None) -> None:
    _user, device = make_operator()
    attacker = client_from("127.0.3.1")
    for attempt in range(CLIENT_LOCK_AFTER):
        assert not signed_in(sign_in(attacker, f"guess-{attempt}", "nope"))
    refused = sign_in(attacker, "ops", OPERATOR_PASSWORD, current_code(device))
    assert not signed_in(refused)
    assert "サインインの失敗が多すぎる" in refused.content.decode()
    # the account itself was never tried, so it is not locked, and another address signs in
    assert not OperatorSignIn.objects.filter(user__username="ops", locked_until__isnull=False).exists()
    assert signed_in(sign_in(client_from("127.0.3.2"), "ops", OPERATOR_PASSWORD, current_code(device)))


def test_no_sign_in_without_a_totp_code(db: None) -> None:
    make_operator()
    make_operator("newcomer", with_device=False, email="")
    # the right password without a code, and an operator who has no device at all: both refused
    assert not signed_in(sign_in(client_from("127.0.0.1"), "ops", OPERATOR_PASSWORD))
    assert not signed_in(sign_in(client_from("127.0.0.1"), "ops", OPERATOR_PASSWORD, "000000"))
    assert not signed_in(sign_in(client_from("127.0.0.1"), "newcomer", OPERATOR_PASSWORD, "123456"))


def test_a_password_only_session_opens_nothing(db: None, django_user_model: Any) -> None:
    operator = django_user_model.objects.create_superuser("ops", password=OPERATOR_PASSWORD)
    client = Client(HTTP_HOST=CONSOLE_HOST)
    client.force_login(operator)  # signed in, but no second factor verified this session
    for path in ["/", "/log/", "/admin/", "/admin/tenants/domain/", "/admin/console/plannedstop/add/"]:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path


def test_a_signed_in_operator_with_totp_works_and_the_sign_in_is_logged(db: None) -> None:
    _user, device = make_operator()
    client = client_from("127.0.0.9")
    assert signed_in(sign_in(client, "ops", OPERATOR_PASSWORD, current_code(device)))
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 200
    entry = VendorLogEntry.objects.get(action="signin")
    assert (entry.actor, entry.address) == ("ops", "127.0.0.9")


def test_a_client_outside_the_allowed_networks_gets_403(db: None, settings: Any) -> None:
    settings.VENDOR_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    for path in ["/", "/admin/login/", "/admin/", "/log/"]:
        assert client_from("127.0.0.1").get(path).status_code == 403, path
    assert client_from("10.20.1.1").get("/admin/login/").status_code == 200
    # a client cannot choose its address with X-Forwarded-For ...
    spoofed = client_from("198.51.100.7", HTTP_X_FORWARDED_FOR="10.20.1.1")
    assert spoofed.get("/admin/login/").status_code == 403
    # ... which is believed only from our own proxies
    settings.TRUSTED_PROXY_NETWORKS = ["192.0.2.0/24"]
    through_gateway = client_from("192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.1.1")
    assert through_gateway.get("/admin/login/").status_code == 200
    # tenants' sites are not the vendor console's business
    assert Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR="198.51.100.7").get("/").status_code == 200


def test_no_allowed_networks_means_nobody(db: None, settings: Any) -> None:
    settings.VENDOR_ALLOWED_NETWORKS = []  # production without VENDOR_ALLOWED_NETWORKS
    assert client_from("127.0.0.1").get("/admin/login/").status_code == 403


def test_vendor_actions_are_in_the_vendor_log(tenants: Tenants, db: None) -> None:
    user, device = make_operator()
    client = operator_client(user, device)
    starts = timezone.localtime() + dt.timedelta(days=40)
    response = client.post(
        "/admin/console/plannedstop/add/",
        {
            "tenant": tenants.kyoto.pk,
            "starts_at_0": starts.strftime("%Y-%m-%d"),
            "starts_at_1": "22:00:00",
            "ends_at_0": starts.strftime("%Y-%m-%d"),
            "ends_at_1": "23:00:00",
            "reason": "点検のため",
            "reason_en": "for an inspection",
            "kind": "planned",
            "site_down": "on",
            "approved_by": "京都市 情報化推進室長",
            "approval_reference": "京情第1号",
            "approved_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    stop = PlannedStop.objects.get(reason="点検のため")

    # a municipality's domains change on the console's own pages (issue 14 §3), not in the admin
    response = client.post("/municipalities/mihon/domains/", {"domain": "mihon2.localhost"})
    assert response.status_code == 302, response.content.decode()[:2000]

    response = client.post(
        "/admin/console/plannedstop/",
        {"action": "delete_selected", "_selected_action": [stop.pk], "post": "yes"},
    )
    assert response.status_code == 302
    logged = actions()
    assert [(action, target.split(" ")[0]) for action, target in logged] == [
        ("stop.record", f"console.plannedstop:{stop.pk}"),  # by do_record_stop, with the approval
        ("tenant.domain_add", "tenant:mihon"),
        ("admin.delete", f"console.plannedstop:{stop.pk}"),
    ]
    change = VendorLogEntry.objects.get(action="tenant.domain_add")
    assert change.detail == {"domain": "mihon2.localhost", "primary": False}
    assert change.actor == "ops" and change.actor_id == user.pk and change.address == "127.0.0.1"

    # the screen shows them, and the chain verifies
    page = client.get("/log/?verify=1").content.decode()
    assert "mihon2.localhost" in page and "改ざんはありませんでした" in page


def test_the_vendor_log_cannot_be_changed_and_a_forged_entry_is_named(db: None) -> None:
    with transaction.atomic():
        first = vendor_log.record(vendor_log.Actor("ops", None, "127.0.0.1"), "admin.change", "x")
        vendor_log.record(vendor_log.Actor("ops", None, "127.0.0.1"), "admin.change", "y")
    for statement in [
        "UPDATE console_vendorlogentry SET actor = 'someone'",
        "DELETE FROM console_vendorlogentry",
        "TRUNCATE console_vendorlogentry",
    ]:
        with pytest.raises(DatabaseError, match="vendor_log_append_only"), transaction.atomic():
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert vendor_log.verify().intact
    # someone with the database owner's rights who drops the trigger still cannot forge the chain
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE console_vendorlogentry DISABLE TRIGGER console_vendor_log_append_only")
        cursor.execute("UPDATE console_vendorlogentry SET target = 'z' WHERE seq = %s", [first.seq])
        cursor.execute("ALTER TABLE console_vendorlogentry ENABLE TRIGGER console_vendor_log_append_only")
    verdict = vendor_log.verify()
    assert not verdict.intact and verdict.first_bad == first.seq


def test_operators_enrol_totp_from_the_server_and_then_sign_in(db: None, django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("operator", password=OPERATOR_PASSWORD)
    out = io.StringIO()
    call_command("enrol_operator_totp", "operator", stdout=out)
    assert "otpauth://totp/" in out.getvalue()
    with pytest.raises(CommandError, match="--replace"):
        call_command("enrol_operator_totp", "operator", stdout=io.StringIO())
    with pytest.raises(CommandError, match="nobody"):
        call_command("enrol_operator_totp", "nobody", stdout=io.StringIO())
    device = TOTPDevice.objects.get(user__username="operator")
    assert signed_in(sign_in(client_from("127.0.0.1"), "operator", OPERATOR_PASSWORD, current_code(device)))
    assert [action for action, _target in actions()] == ["totp.enrol", "signin"]


def test_attempts_are_counted_before_they_are_checked(db: None) -> None:
    """A burst cannot check more passwords than the limit: each attempt takes its number first, so the
    one past the limit is refused even while the earlier ones are still being checked (finding 5's rule)."""
    from console.services import do_claim_sign_in

    make_operator()
    claims = [do_claim_sign_in("ops", f"127.0.3.{n}") for n in range(LOCK_AFTER + 1)]
    assert [c.refused for c in claims] == [False] * LOCK_AFTER + [True]
    assert claims[-2].failures == LOCK_AFTER


def test_the_sign_in_page_speaks_japanese_about_the_code(db: None) -> None:
    """django-otp's own labels and messages are English only; the console's are Japanese first."""
    make_operator()
    page = client_from("127.0.4.1").get("/admin/login/").content.decode()
    assert "確認コード（認証アプリの6桁）" in page and "OTP Token" not in page
    missing = sign_in(client_from("127.0.4.2"), "ops", OPERATOR_PASSWORD, "")
    assert "確認コードを入力してください。" in missing.content.decode()
    wrong = sign_in(client_from("127.0.4.3"), "ops", OPERATOR_PASSWORD, "000000")
    assert "Invalid token" not in wrong.content.decode()
