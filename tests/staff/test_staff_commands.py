"""create_staff makes the first administrator (password from STAFF_PASSWORD), refuses bad requests clearly;
verify_oplog's exit status (SO-06) is covered in test_operation_log."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from booking.models import AllowedNetwork, OperationLogEntry, StaffProfile
from tests.conftest import Tenants
from tests.processes import REPO, database_url
from tests.staff_helpers import sign_in

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue()


def test_creates_the_first_administrator_who_must_then_change_the_password(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", "First-Admin1!")
    assert "admin01 (administrator) in kyoto" in create(
        "kyoto", "admin01", "--role", "administrator", "--allow", "192.0.2.0/24", "--allow", "127.0.0.0/8"
    )
    with schema_context("kyoto"):
        profile = StaffProfile.objects.get(user__username="admin01")
        assert profile.role == "administrator" and profile.must_change_password
        assert profile.user.password.startswith("argon2")
        assert set(AllowedNetwork.objects.values_list("network", flat=True)) == {
            "192.0.2.0/24",
            "127.0.0.0/8",
        }
        assert OperationLogEntry.objects.filter(action="staff.create", target="admin01").exists()
        client = sign_in("admin01", "First-Admin1!")
        assert client.get("/staff/")["Location"] == "/staff/password/"
    with schema_context("mihon"):
        assert not StaffProfile.objects.exists()


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (
            ["osaka", "x", "--role", "viewer"],
            "Good-Pass1!",
            "no tenant with schema 'osaka' \\(known: kyoto, mihon",
        ),
        (["kyoto", "weak", "--role", "viewer"], "password", "英大文字"),
        (
            ["kyoto", "bad", "--role", "viewer", "--allow", "not-a-network"],
            "Good-Pass1!",
            "ネットワークの形式が正しくありません",
        ),
    ],
)
def test_refuses_bad_requests(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch, args: list[str], password: str, message: str
) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", password)
    with pytest.raises(CommandError, match=message):
        create(*args)


def test_refuses_a_duplicate_username(tenants: Tenants, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_PASSWORD", "Good-Pass1!")
    create("kyoto", "dup", "--role", "viewer")
    with pytest.raises(CommandError, match="既にあります"):  # commands speak the default language, Japanese
        create("kyoto", "dup", "--role", "viewer")
    with pytest.raises(CommandError, match="既にあります"):  # "DUP" is taken for "dup"
        create("kyoto", "DUP", "--role", "viewer")


def test_unknown_role_is_refused_by_the_command_line(tenants: Tenants) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        create("kyoto", "x", "--role", "superuser")


def test_without_a_terminal_or_staff_password_it_says_what_to_do(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", StringIO(""))  # a pipe with nothing in it: not a terminal
    with pytest.raises(CommandError, match="STAFF_PASSWORD"):
        create("kyoto", "nobody", "--role", "viewer")
    with schema_context("kyoto"):
        assert not StaffProfile.objects.filter(user__username="nobody").exists()


def test_without_a_terminal_the_process_exits_non_zero_without_a_traceback(tenants: Tenants) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STAFF_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "manage.py", "create_staff", "kyoto", "nobody", "--role", "viewer"],
        cwd=REPO,
        env={**env, "DATABASE_URL": database_url()},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "STAFF_PASSWORD" in done.stderr and "Traceback" not in done.stderr
    assert "EOFError" not in done.stderr
