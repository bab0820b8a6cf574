"""The availability report's pages (BK-08) in Japanese and English: the vendor console's list and a month with
samples, stops, an outage record and its form's error state, and the municipality's staff page: 0 axe
violations (WCAG 2.1 A and AA) at 360 and 1280 px and no sideways scrolling at 320 px."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.seed import LANGUAGES, Seed
from tests.browser.walk import AXE, Results, Walker

pytestmark = pytest.mark.django_db
OPERATOR = "avail-ops"
MONTH = "2026-02"


@pytest.fixture(scope="module")
def month(seeded: Seed, base_url: str, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Kyoto's February: a sample every minute of two days (some failed), a planned stop and an outage record;
    an operator per language (a TOTP code is accepted once); committed, and removed afterwards."""
    from console.availability import TOKYO
    from console.models import Outage, PlannedStop, ProbeSample
    from tenants.models import Municipality
    from tests.vendor_helpers import make_operator

    with django_db_blocker.unblock():
        kyoto = Municipality.objects.get(schema_name="kyoto")
        start = dt.datetime(2026, 2, 10, tzinfo=TOKYO)
        samples = ProbeSample.objects.bulk_create(
            ProbeSample(
                at=start + dt.timedelta(minutes=i, seconds=15),
                tenant=kyoto,
                ok=not 600 <= i < 640,
                latency_ms=90,
                reason="" if not 600 <= i < 640 else "top: HTTP 502 (expected 200)",
            )
            for i in range(2 * 1440)
        )
        stop = PlannedStop.objects.create(
            tenant=kyoto,
            starts_at=start + dt.timedelta(hours=10),
            ends_at=start + dt.timedelta(hours=10, minutes=20),
            approved_by="情報政策課長",
            approval_reference="京情第1号",
            approved_on=dt.date(2026, 1, 5),
        )
        outage = Outage.objects.create(
            tenant=kyoto,
            cause=Outage.Cause.MUNICIPALITY,
            reference="京情第2号",
            starts_at=start + dt.timedelta(hours=10, minutes=20),
            ends_at=start + dt.timedelta(hours=10, minutes=30),
            note="庁内ネットワークの工事",
            recorded_by=OPERATOR,
            recorded_at=start + dt.timedelta(days=1),
        )
        devices = {language: make_operator(f"{OPERATOR}-{language}")[1] for language in LANGUAGES}
    port = base_url.rsplit(":", 1)[1]
    yield {"console": f"http://localhost:{port}", "devices": devices}
    with django_db_blocker.unblock():
        ProbeSample.objects.filter(pk__in=[s.pk for s in samples]).delete()
        stop.delete()
        outage.delete()


def walk_console(walker: Walker, device: Any) -> None:
    from tests.vendor_helpers import OPERATOR_PASSWORD, current_code

    page = walker.page
    walker.goto("/")
    page.fill("#id_username", f"{OPERATOR}-{walker.language}")
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.fill("#id_otp_token", current_code(device))
    walker.submit("main form")
    for path, state in {"/availability/": "availability", f"/availability/kyoto/{MONTH}/": "month"}.items():
        walker.goto(path)
        walker.examine(f"console: {state} [{walker.language}] {page.url}")
    page.select_option("#id_cause", "municipality")  # no reference, and the end before the start: the errors
    page.fill("#id_starts_at", "2026-02-10T11:00")
    page.fill("#id_ends_at", "2026-02-10T10:00")
    walker.submit("main form.stacked")
    walker.examine(f"console: outage form, invalid [{walker.language}]")


def walk_staff(walker: Walker, seeded: Seed) -> None:
    from tests.browser.seed import staff_name
    from tests.browser.walk import staff_login

    page = walker.page
    walker.goto("/staff/login/")
    staff_login(walker, staff_name("administrator"), seeded.staff_password)
    walker.goto(f"/staff/availability/?month={MONTH}")
    walker.examine(f"staff: availability [{walker.language}] {page.url}")


@pytest.fixture(scope="module")
def walked(chromium: Any, seeded: Seed, base_url: str, month: dict[str, Any]) -> Iterator[Results]:
    from django.conf import settings

    results = Results()
    for language in LANGUAGES:
        for base, walk in ((month["console"], "console"), (base_url, "staff")):
            context = chromium.new_context(locale="ja-JP" if language == "ja" else "en-US")
            context.add_init_script(path=str(AXE))
            context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}])
            page = context.new_page()
            try:
                walker = Walker(page, base, language, results)
                if walk == "console":
                    walk_console(walker, month["devices"][language])
                else:
                    walk_staff(walker, seeded)
            finally:
                context.close()
    yield results


def test_the_availability_pages_have_no_axe_violations(walked: Results) -> None:
    assert len(walked.states) == 2 * 4
    assert walked.violations == [], "\n".join(walked.violations)


def test_no_availability_page_is_wider_than_a_320px_viewport(walked: Results) -> None:
    assert walked.reflow == [], "\n".join(walked.reflow)
