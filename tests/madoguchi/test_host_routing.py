"""Tenants are reached on their own hosts; any other host gets a clean 404 page (MT-02, SO-18)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import KYOTO_HOST, KYOTO_PUBLIC_HOST, MIHON_HOST, Tenants
from tests.vendor_helpers import operator_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "host",
    [
        KYOTO_HOST,
        KYOTO_PUBLIC_HOST,
        f"{KYOTO_HOST}:8000",
        "KYOTO.LOCALHOST",
        f"www.{KYOTO_PUBLIC_HOST}",
        f"{KYOTO_PUBLIC_HOST}.",
    ],
)
def test_kyoto_hosts_reach_kyoto(tenants: Tenants, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code == 200
    assert "京都市 マイナンバーカード交付等予約" in response.content.decode()


def test_second_tenant_has_its_own_top_page(tenants: Tenants) -> None:
    response = Client(HTTP_HOST=MIHON_HOST).get("/")
    assert response.status_code == 200
    assert "見本市 マイナンバーカード交付等予約" in response.content.decode()


@pytest.mark.parametrize(
    "host",
    [
        "unknown.localhost",
        "kyoto.localhost.evil.example",
        "evil.example.com",
        "yoyaku.city.osaka.lg.jp",
        "127.0.0.1",
        "bad_host!.localhost",
        "[::1]",
    ],
)
def test_unknown_host_gets_the_404_page(tenants: Tenants, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "ページが見つかりません" in body
    assert "このアドレスで提供しているサービスはありません" in body
    assert "<html" in body  # the site's page, not a bare error


def test_unknown_path_on_a_tenant_gets_the_404_page(kyoto_client: Client) -> None:
    response = kyoto_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "お探しのページは" in response.content.decode()


def test_vendor_console_is_on_the_base_domain_and_needs_login(tenants: Tenants) -> None:
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    # and it is not reachable on a tenant's host
    assert Client(HTTP_HOST=KYOTO_HOST).get("/admin/").status_code == 404


def test_vendor_console_lists_tenants_for_our_staff(tenants: Tenants, django_user_model: Any) -> None:
    operator = django_user_model.objects.create_user("ops", password="x-Very-Long-Pass-1", is_staff=True)
    # issue 13: the console counts an operator as signed in only with a verified TOTP device
    device = TOTPDevice.objects.create(user=operator, name="test", confirmed=True)
    client = operator_client(operator, device)
    body = client.get("/").content.decode()
    assert "kyoto" in body and KYOTO_PUBLIC_HOST in body and "mihon" in body


def test_health_check_answers_on_any_host(tenants: Tenants) -> None:
    for host in ["10.1.2.3:8000", KYOTO_HOST, "localhost"]:
        response = Client(HTTP_HOST=host).get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_security_headers_on_tenant_pages(kyoto_client: Client) -> None:
    response = kyoto_client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"


def test_stylesheet_is_served(kyoto_client: Client) -> None:
    page = kyoto_client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/madoguchi/site.css">' in page
    response = kyoto_client.get("/static/madoguchi/site.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


def test_japanese_first_whatever_the_browser_asks(kyoto_client: Client) -> None:
    page = kyoto_client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="ja">' in page
    assert "交付場所と受付時間" in page


def test_english_is_switchable(kyoto_client: Client) -> None:
    response = kyoto_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = kyoto_client.get("/").content.decode()
    assert 'lang="en"' in page
    assert "Kyoto City My Number Card appointments" in page
    assert "Places and opening hours" in page
    assert "Kita Ward Office" in page
    assert "My Number Card issuance: Mon, Tue, Wed, Thu, Fri 9:00–17:00 (last reception 16:45)" in page


def test_a_forms_address_opened_directly_gets_a_page_not_a_blank_405(kyoto: None) -> None:
    """`GET /staff/users/new/` (a bookmarked form target) says what to do; the API keeps its JSON answer."""
    from tests.staff_helpers import make_staff

    profile = make_staff("page-admin", "administrator")
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.force_login(profile.user)
    response = client.get("/staff/users/new/", HTTP_REFERER=f"http://{KYOTO_HOST}/staff/users/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    page = response.content.decode()
    assert (
        "この操作はボタンから行ってください" in page and 'href="http://kyoto.localhost/staff/users/"' in page
    )
    elsewhere = client.get("/staff/users/new/", HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in elsewhere.content.decode()
    api = Client(HTTP_HOST=KYOTO_HOST).get("/api/v1/staff/sessions/")
    assert api.status_code == 405 and api["Content-Type"].startswith("application/json")
