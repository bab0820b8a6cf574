"""IPA「安全なウェブサイトの作り方」: the classes no other test file owns (docs/security.md maps every class
to its tests). CSRF, mail header injection, OS command injection and oversized input."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.mail import BadHeaderError
from django.test import Client

from booking.citizen.web.forms import ContactForm
from booking.models import BookingSettings, FieldRequirement
from integrations.mail import send_text_mail
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import make_staff

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
PRODUCT = ["booking", "integrations", "tenants", "platform"]


# --- 6. CSRF --------------------------------------------------------------------------------------------


def test_a_citizen_sign_in_without_the_csrf_token_is_refused(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST, enforce_csrf_checks=True)
    response = client.post("/login/", {"number": "123456789012", "password": "x"})
    assert response.status_code == 403


def test_a_staff_change_without_the_csrf_token_is_refused(kyoto: None) -> None:
    profile = make_staff("csrf-admin", "administrator")
    client = Client(HTTP_HOST=KYOTO_HOST, enforce_csrf_checks=True)
    client.force_login(profile.user)
    before = list(BookingSettings.objects.values_list("first_days_ahead", flat=True))
    response = client.post("/staff/settings/window/", {"first_days_ahead": "9"})
    assert response.status_code == 403
    assert list(BookingSettings.objects.values_list("first_days_ahead", flat=True)) == before


# --- 8. mail header injection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["taro@example.jp\r\nBcc: all@example.jp", "taro@example.jp\nCc: x@example.jp", "a@b\rc"]
)
def test_a_contact_address_with_a_line_break_is_refused(kyoto: None, address: str) -> None:
    rules = BookingSettings(email_requirement=FieldRequirement.OPTIONAL)
    form = ContactForm({"email": address, "phone": ""}, rules=rules)
    assert not form.is_valid() and "email" in form.errors


def test_the_mail_sender_refuses_a_subject_with_a_line_break() -> None:
    """Subjects come from the municipality's texts: a line break there must never become a header."""
    with pytest.raises(BadHeaderError):
        send_text_mail("taro@example.jp", "予約\r\nBcc: all@example.jp", "本文")


# --- 2. OS command injection ---------------------------------------------------------------------------


def test_the_product_runs_no_shell_commands() -> None:
    """No product module starts a process: there is no command line to inject into."""
    found = []
    for folder in PRODUCT:
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = (
                        [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    )
                    if any(n.split(".")[0] in {"subprocess", "pty"} for n in names):
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}")
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                    and node.attr in {"system", "popen", "execv", "spawnl"}
                ):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


# --- 10. oversized input (Python has no buffer overflow; its counterpart is unbounded input) -----------


def test_an_oversized_form_body_is_a_400_not_a_500(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    response = client.post("/login/", {"number": "1" * 3_000_000, "password": "x"})
    assert response.status_code == 400
