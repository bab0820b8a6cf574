"""Every page of the citizen's flow, the operators' and the staff console, in Japanese and English: 0 axe
violations (WCAG 2.1 A and AA) at 360 and 1280 px, no sideways scrolling at a 320-px viewport (WCAG 1.4.10
reflow), and no URL pattern left out of the walk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.browser.seed import LANGUAGES, Seed
from tests.browser.walk import AXE, AXE_WIDTHS, REFLOW_WIDTH, TENANT_URLCONF, Results, run_walk

# URL patterns of the walked namespaces that are not pages: downloads, and targets that only take a POST
# and answer with a redirect (the pages their forms are on are walked, and so are their error states).
NOT_PAGES: dict[str, str] = {
    "healthz": "the load balancer's probe (text)",
    "set_language": "POST only (the language switch), redirects back",
    "citizen:logout": "POST only, redirects to the top page",
    "citizen:release": "POST only, gives the held time back and redirects",
    "citizen:extend": "POST only, extends the held time (the page's own form; timeout.js sends it too)",
    "caller:logout": "POST only, ends the operator's call and redirects",
    "caller:extend": "POST only, extends the held time",
    "caller:done": "redirects to the call center's script for the booking (walked)",
    "staff:session_extend": "POST only, extends the staff session",
    "staff:card_scan": "redirects to the card found or to the cards page (both walked)",
    "caller:release": "POST only, gives the held time back and redirects",
    "staff:cancel_login": "POST only, redirects to the sign-in page",
    "staff:logout": "POST only, redirects to the sign-in page",
    "staff:bookings_csv": "download (CSV)",
    "staff:staff_create": "POST only; its errors are shown on the users page",
    "staff:staff_update": "POST only; its errors are shown on the users page",
    "staff:security_update": "POST only; a refusal shows the security page again, as typed",
    "staff:oplog_csv": "download (CSV)",
    "staff:request_export": "POST only, redirects to the exports page",
    "staff:download_export": "download (zip)",
    "staff:settings_place_delete": "POST only, redirects",
    "staff:settings_pattern_delete": "POST only, redirects",
    "staff:settings_closed_day_delete": "POST only, redirects",
    "staff:callcenter_log": "POST only, redirects to the call center",
    "staff:callcenter_end": "POST only, redirects to the call center",
    "staff:reports_monthly_csv": "download (CSV)",
    "staff:availability_csv": "download (CSV)",
    "staff:card_move": "POST only, redirects to the card",
    "staff:card_return": "POST only, redirects to the card",
    "staff:notices_start": "POST only, redirects to the print run",
    "staff:notice_download": "download (PDF, CSV)",
    "staff:notice_delete_files": "POST only, redirects",
    "staff:transfer_csv": "download (CSV)",
    "staff:transfer_pdf": "download (PDF)",
    "staff:transfer_confirm": "POST only, redirects to the transfers page",
    "staff:transfer_return": "POST only, redirects to the transfers page",
    "staff:counter_scan": "POST only, redirects to the counter",
    "staff:counter_check_in": "POST only, redirects to the counter",
    "staff:counter_hand_over": "POST only, redirects to the counter",
    "staff:counter_no_show": "POST only, redirects to the counter",
}
API_ROUTES = ("api/",)
# pytest-django creates the test database only for a run whose tests ask for it; the data itself is the
# session's committed seed, which the server's threads read.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def walked(chromium: Any, base_url: str, seeded: Seed) -> Iterator[Results]:
    """The whole walk, once per language, in one browser context per language."""
    results = Results()
    for language in LANGUAGES:
        context = chromium.new_context(locale="ja-JP" if language == "ja" else "en-US")
        # axe is added as the browser's own script (CDP), not as a page script, which the CSP would refuse.
        context.add_init_script(path=str(AXE))
        try:
            run_walk(context, base_url, seeded, language, results)
        finally:
            context.close()
    print(
        f"\n[browser] {len(results.states)} page states ({len(LANGUAGES)} languages), "
        f"{results.axe_runs} axe runs at {AXE_WIDTHS} px, reflow at {REFLOW_WIDTH} px, "
        f"{len(results.violations)} violations, {len(results.reflow)} reflow failures, "
        f"{results.seconds:.0f} s"
    )
    yield results


def test_no_axe_violations(walked: Results) -> None:
    assert not walked.violations, "\n".join(["axe violations:", *walked.violations])


def test_no_page_is_wider_than_a_320px_viewport(walked: Results) -> None:
    assert not walked.reflow, "\n".join(["sideways scrolling at 320 px:", *walked.reflow])


def _names(entries: list[URLPattern | URLResolver], namespace: str, prefix: str) -> Iterator[str]:
    """The name of every pattern of the tenant host but the JSON API's (its own tests cover it)."""
    for entry in entries:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _names(entry.url_patterns, entry.namespace or namespace, route)
        elif entry.name and not route.startswith(API_ROUTES):
            yield f"{namespace}:{entry.name}" if namespace else entry.name


def test_every_url_is_walked(walked: Results) -> None:
    """A new page of the tenant host fails here until the walk visits it or NOT_PAGES says why it is none."""
    every = set(_names(get_resolver(TENANT_URLCONF).url_patterns, "", ""))
    assert every - walked.url_names - set(NOT_PAGES) == set(), "neither walked nor listed in NOT_PAGES"
    assert set(NOT_PAGES) <= every, "NOT_PAGES names a URL that is gone"
    assert not set(NOT_PAGES) & walked.url_names, "a URL in NOT_PAGES was walked as a page"
