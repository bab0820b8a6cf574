"""The web accessibility statement (ウェブアクセシビリティ方針, issue 15) at /accessibility/ on every host.

One page for residents, staff, operators and the vendor console: it names the host's own municipality
(never another's) or, on the vendor host, the vendor. The test results live in ONE place, `RESULTS`
below: the page reads it, `docs/accessibility.md` repeats it, and a test
(tests/madoguchi/test_accessibility_statement.py) fails when the two differ. The lead fills `RESULTS`
from the browser suite's run (`make test-browser`); until then every figure shows as not yet entered, and
the page does not claim conformance: under the guideline for stating JIS X 8341-3:2016 conformance
(ウェブアクセシビリティ基盤委員会「対応度表記ガイドライン」) 「準拠」 may be written only once the tests
are done and their results published.

No database read beyond the tenant the host routing already loaded, so the page costs no more than any
citizen page, and a reader signed in nowhere can open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from tenants.models import Municipality

PATH = "/accessibility/"


@dataclass(frozen=True)
class Results:
    """The figures of the last accessibility test run. `None`: not yet entered (shown as such)."""

    tested_on: str | None  # 試験実施日, ISO date of the run
    axe_core_version: str | None  # e.g. "4.10.2"
    pages_tested: int | None  # page × language × width combinations checked by axe-core
    violations: int | None  # axe-core violations (WCAG 2.0 A/AA rules) over all of them
    keyboard_booking: bool | None  # a booking made from start to end with the keyboard only
    reflow_320: bool | None  # every citizen page readable at 320 CSS px without horizontal scrolling
    conformance: str | None  # a key of CONFORMANCE: the claim, once the results are in


# Filled by the lead from the browser suite's run. Keep docs/accessibility.md (section 結果) in step: a test
# compares them.
# The automated checks pass in full; the hand checks of every success criterion (試験方法) have not been done
# yet, so the claim is 「配慮」, not 「準拠」, until they are.
RESULTS = Results(
    tested_on="2026-12-06",
    axe_core_version="4.14.1",
    pages_tested=324,  # 81 page states × 2 languages × 2 widths (tests/browser/walk.py)
    violations=0,
    keyboard_booking=True,
    reflow_320=True,
    conformance="considered",
)

# The three wordings of the guideline's 対応度 (how far the target is met), Japanese as published.
CONFORMANCE = {
    "conforms": _("準拠"),
    "partially": _("一部準拠"),
    "considered": _("配慮"),
}
NOT_ENTERED = _("未記入（試験の実施後に記入します）")


def result_rows(results: Results = RESULTS) -> list[tuple[str, str]]:
    """(label, value) of the results table, in the active language; the page and the docs show the same."""

    def text(value: str | int | None) -> str:
        return str(NOT_ENTERED) if value is None else str(value)

    def passed(value: bool | None) -> str:
        return str(NOT_ENTERED) if value is None else str(_("合格") if value else _("不合格"))

    conformance = None if results.conformance is None else str(CONFORMANCE[results.conformance])
    return [
        (str(_("試験実施日")), text(results.tested_on)),
        (str(_("試験ツール")), text(results.axe_core_version and f"axe-core {results.axe_core_version}")),
        (str(_("試験したページ数（ページ×言語×画面幅）")), text(results.pages_tested)),
        (str(_("自動試験で見つかった問題の数")), text(results.violations)),
        (str(_("キーボードだけでの予約")), passed(results.keyboard_booking)),
        (str(_("幅320ピクセルでの表示（リフロー）")), passed(results.reflow_320)),
        (str(_("適合状況")), text(conformance)),
    ]


def statement(request: HttpRequest) -> HttpResponse:
    """The statement, for anyone: no sign-in, the same on every host but for whose site it is."""
    tenant = getattr(request, "tenant", None)
    municipality = (
        tenant
        if isinstance(tenant, Municipality) and tenant.schema_name != settings.PUBLIC_SCHEMA_NAME
        else None
    )
    context = {
        "municipality": municipality,
        "site_title": municipality.label if municipality else "Madoguchi",
        "results": result_rows(),
        "filled": RESULTS.tested_on is not None,
    }
    return render(request, "accessibility.html", context)
