"""The vendor console's municipality pages (issue 14 §3) in Japanese and English: 0 axe violations (WCAG 2.1
A and AA) at 360 and 1280 px and no sideways scrolling at 320 px, their error states included. An operator
signs in through the console's own form (password and the TOTP code of their device)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.seed import LANGUAGES, Seed
from tests.browser.walk import AXE, Results, Walker

pytestmark = pytest.mark.django_db
OPERATOR = "b-ops"


@pytest.fixture(scope="module")
def console(
    seeded: Seed, base_url: str, django_db_blocker: Any
) -> Iterator[tuple[str, dict[str, Any], list[int]]]:
    """The console's address, an operator per language with a TOTP device (a code is accepted once, so two
    sign-ins within 30 s need two devices), a disposal certificate and a failed offboarding, committed."""
    from django.utils import timezone

    from tenants.models import OffboardingRecord
    from tests.vendor_helpers import make_operator

    with django_db_blocker.unblock():
        devices = {language: make_operator(f"{OPERATOR}-{language}")[1] for language in LANGUAGES}
        now = timezone.now()
        record = OffboardingRecord.objects.create(
            schema_name="uji",
            name="宇治市",
            status=OffboardingRecord.Status.DONE,
            started_at=now,
            offboarded_at=now,
            export_key="_offboarded/uji/20261206T100000-final-export.zip",
            export_size=123456,
            export_sha256="0" * 64,
            requested_by=OPERATOR,
            asked_by="宇治市 総務部 情報政策課（宇総情第45号）",
            tables=[{"table": "booking_booking", "rows": 1200}, {"table": "booking_card", "rows": 3400}],
            files=[{"key": "uji/notices/20261201T100000-1.pdf", "size": 987654}],
        )
        pending = OffboardingRecord.objects.create(
            schema_name="uji2",
            name="宇治二市",
            status=OffboardingRecord.Status.FAILED,
            requested_by=OPERATOR,
            asked_by="宇治二市",
            error="保存先に接続できません",
        )
    port = base_url.rsplit(":", 1)[1]
    yield f"http://localhost:{port}", devices, [record.pk, pending.pk]
    with django_db_blocker.unblock():
        OffboardingRecord.objects.filter(pk__in=[record.pk, pending.pk]).delete()


def walk_console(walker: Walker, device: Any, records: list[int]) -> None:
    from tests.vendor_helpers import OPERATOR_PASSWORD, current_code

    page = walker.page
    walker.goto("/")
    page.fill("#id_username", f"{OPERATOR}-{walker.language}")
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.fill("#id_otp_token", current_code(device))
    walker.submit("main form")
    shown = {
        "/": "municipalities",
        "/municipalities/new/": "new municipality",
        "/municipalities/mihon/": "municipality",
        "/municipalities/mihon/offboard/": "offboarding",
        "/offboarded/": "disposal certificates",
        f"/offboarded/{records[0]}/": "disposal certificate",
        f"/offboarded/{records[1]}/": "offboarding: failed",
    }
    for path, state in shown.items():
        walker.goto(path)
        walker.examine(f"console: {state} [{walker.language}] {page.url}")
    walker.goto("/municipalities/new/")
    page.fill("#id_schema_name", "Bad Name")
    page.fill("#id_admin_email", "not-mail")
    walker.submit("main form")
    walker.examine(f"console: new municipality, invalid [{walker.language}]")
    walker.goto("/municipalities/mihon/")
    walker.submit("form[action$='/domains/']")  # nothing typed: the field's error
    walker.examine(f"console: municipality, domain missing [{walker.language}]")
    walker.goto("/municipalities/mihon/offboard/")
    page.fill("#id_confirm", "kyoto")
    page.fill("#id_asked_by", "見本市")
    walker.submit("main form")
    walker.examine(f"console: offboarding, wrong confirmation [{walker.language}]")


@pytest.fixture(scope="module")
def walked(chromium: Any, console: tuple[str, dict[str, Any], list[int]]) -> Iterator[Results]:
    from django.conf import settings

    base, devices, records = console
    results = Results()
    for language in LANGUAGES:
        context = chromium.new_context(locale="ja-JP" if language == "ja" else "en-US")
        context.add_init_script(path=str(AXE))
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}])
        page = context.new_page()
        try:
            walk_console(Walker(page, base, language, results), devices[language], records)
        finally:
            context.close()
    yield results


def test_the_console_pages_have_no_axe_violations(walked: Results) -> None:
    assert len(walked.states) == 2 * 10
    assert not walked.violations, "\n".join(["axe violations:", *walked.violations])


def test_no_console_page_is_wider_than_a_320px_viewport(walked: Results) -> None:
    assert not walked.reflow, "\n".join(["sideways scrolling at 320 px:", *walked.reflow])
