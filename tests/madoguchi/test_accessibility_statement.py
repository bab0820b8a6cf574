"""The accessibility statement (issue 15): /accessibility/ on every host, for anyone, in Japanese and English,
naming only its own municipality; every page's footer links it; the results in docs/ are the page's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import translation

from madoguchi.accessibility import RESULTS, Results, result_rows
from madoguchi.bulkhead import busy_response
from madoguchi.views import server_error
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in
from tests.vendor_helpers import CONSOLE_HOST, make_operator, operator_client

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
LINK = 'href="/accessibility/"'
JA_HEADINGS = ["ウェブアクセシビリティ方針", "対象範囲", "目標", "試験方法", "結果", "既知の制約", "連絡先"]
EN_HEADINGS = [
    "Accessibility",
    "Scope",
    "Target",
    "How it is tested",
    "Results",
    "Known limitations",
    "Contact",
]


def page(host: str, language: str = "ja", path: str = "/accessibility/") -> Any:
    client = Client(HTTP_HOST=host)
    if language != "ja":
        client.cookies["django_language"] = language
    return client.get(path)


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("host", [KYOTO_HOST, MIHON_HOST, CONSOLE_HOST])
def test_the_statement_answers_on_every_host_in_both_languages_without_sign_in(
    tenants: Tenants, host: str, language: str
) -> None:
    response = page(host, language)
    assert response.status_code == 200
    assert response["Content-Language"] == language
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    assert "JIS X 8341-3:2016" in body
    if language == "ja":
        for heading in JA_HEADINGS:
            assert f">{heading}</h" in body, heading
        assert "JIS X 8341-3:2016 適合レベルAA 準拠" in body
        assert "axe-core 4.x" in body and "360" in body and "1280" in body and "320" in body
    else:
        for heading in EN_HEADINGS:
            assert f">{heading}</h" in body, heading
        assert "ウェブアクセシビリティ方針" not in body and "対象範囲" not in body


def test_each_municipality_sees_only_its_own_name(tenants: Tenants) -> None:
    kyoto, mihon, vendor = (page(host).content.decode() for host in (KYOTO_HOST, MIHON_HOST, CONSOLE_HOST))
    assert "京都市" in kyoto and "見本市" not in kyoto
    assert "見本市" in mihon and "京都" not in mihon
    assert "京都" not in vendor and "見本市" not in vendor and "お住まいの自治体" in vendor
    assert "Kyoto City" in page(KYOTO_HOST, "en").content.decode()


def test_results_not_yet_entered_are_said_so_and_conformance_is_not_claimed(tenants: Tenants) -> None:
    body = page(KYOTO_HOST).content.decode()
    if RESULTS.tested_on is None:
        assert "試験の結果は、試験を実施した後にここに掲載します。" in body
        assert body.count("未記入（試験の実施後に記入します）") == len(result_rows())


def test_filled_results_are_shown_as_entered() -> None:
    filled = Results("2026-03-01", "4.10.2", 184, 0, True, True, "conforms")
    with translation.override("ja"):
        rows = dict(result_rows(filled))
    assert rows["試験実施日"] == "2026-03-01" and rows["試験ツール"] == "axe-core 4.10.2"
    assert rows["自動試験で見つかった問題の数"] == "0" and rows["キーボードだけでの予約"] == "合格"
    assert rows["適合状況"] == "準拠"


def test_the_docs_repeat_the_results_the_page_shows() -> None:
    """RESULTS is the one place the figures live; docs/accessibility.md must show the same table."""
    docs = (REPO / "docs" / "accessibility.md").read_text(encoding="utf-8")
    with translation.override("ja"):
        for label, value in result_rows():
            assert f"| {label} | {value} |" in docs, f"docs/accessibility.md: update the row {label!r}"


# --- the footer link on every kind of page ---------------------------------------------------------------


def assert_linked(response: Any, status: int = 200) -> None:
    assert response.status_code == status, response.content.decode()[:300]
    body = response.content.decode()
    assert LINK in body and "ウェブアクセシビリティ方針" in body, body[-600:]


def test_citizen_pages_link_it(tenants: Tenants) -> None:
    for path in ["/", "/login/"]:
        assert_linked(page(KYOTO_HOST, path=path))
    english = page(KYOTO_HOST, "en", path="/login/").content.decode()
    assert f"{LINK}>Accessibility</a>" in english


def test_staff_and_call_center_pages_link_it(kyoto: None) -> None:
    assert_linked(Client(HTTP_HOST=KYOTO_HOST).get("/staff/login/"))
    make_staff("a11y-admin", "administrator")
    assert_linked(sign_in("a11y-admin").get("/staff/"))
    make_staff("a11y-op", "operator")
    operator = sign_in("a11y-op")
    assert_linked(operator.get("/staff/callcenter/"))


def test_vendor_console_pages_link_it(tenants: Tenants) -> None:
    assert_linked(Client(HTTP_HOST=CONSOLE_HOST).get("/admin/login/"))
    user, device = make_operator("a11y-ops")
    client = operator_client(user, device)
    assert_linked(client.get("/"))
    assert_linked(client.get("/admin/"))


def test_error_pages_link_it(tenants: Tenants) -> None:
    assert_linked(page(KYOTO_HOST, path="/no-such-page/"), 404)
    assert_linked(page(KYOTO_HOST, path="/?q=%00"), 400)
    make_staff_client = Client(HTTP_HOST=KYOTO_HOST)
    assert_linked(make_staff_client.get("/logout/"), 405)
    request = RequestFactory().get("/", HTTP_HOST=KYOTO_HOST)
    assert_linked(server_error(request), 500)
    assert_linked(busy_response(request), 503)


def test_an_unknown_host_does_not_link_a_page_it_has_not(tenants: Tenants) -> None:
    response = page("nowhere.example.jp", path="/")
    assert response.status_code == 404 and LINK not in response.content.decode()


# --- the internet gateway lets it through -----------------------------------------------------------------


def test_the_internet_gateway_does_not_refuse_it() -> None:
    """internet.conf refuses only staff-only paths (a deny list, not an allow list): none matches it."""
    conf = (REPO / "infra" / "gateways" / "internet.conf").read_text(encoding="utf-8")
    block = conf.split("map $uri $madoguchi_staff_only_path {", 1)[1].split("}", 1)[0]
    patterns = re.findall(r"^\s*~\*(\S+)\s+1;", block, flags=re.MULTILINE)
    assert patterns, "the staff-only map was not found"
    assert not [p for p in patterns if re.search(p, "/accessibility/", flags=re.IGNORECASE)]
    assert [p for p in patterns if re.search(p, "/staff/", flags=re.IGNORECASE)]  # the parse is right
