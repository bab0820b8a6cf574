"""Every kind of answer carries the security headers, including those made before any view runs (the unknown
host's 404, the bulkhead's 503); answers with personal data are never cached (issue 13, finding 11; IPA
安全なウェブサイトの作り方 5 クリックジャッキング, 4 セッション管理 / キャッシュ, SO-08)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.http import HttpResponseBase
from django.test import Client, override_settings

from madoguchi.bulkhead import CitizenLane
from tests import factories
from tests.conftest import KYOTO_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


def assert_security_headers(response: HttpResponseBase) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Cache-Control"] == "no-store"


def test_a_normal_page(kyoto_client: Client) -> None:
    response = kyoto_client.get("/")
    assert response.status_code == 200
    assert_security_headers(response)


@pytest.mark.parametrize("host", ["unknown.localhost", "evil.example.com", "bad_host!.localhost"])
def test_the_unknown_hosts_404(tenants: Tenants, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code == 404
    assert_security_headers(response)


@pytest.mark.parametrize("host", [KYOTO_HOST, "unknown.localhost", "bad_host!.localhost"])
def test_with_the_https_redirect_on(tenants: Tenants, host: str) -> None:
    """As in production (DEBUG off): plain http to a known host is redirected, with every header; an unknown
    or malformed host is still the 404 page, never a redirect to whatever the Host header said; https is
    answered with every header."""
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
    ):
        client = Client(HTTP_HOST=host)
        plain = client.get("/")
        assert plain.status_code == (301 if host == KYOTO_HOST else 404)
        assert_security_headers(plain)
        if host == KYOTO_HOST:
            assert plain["Location"] == f"https://{KYOTO_HOST}/"
            secure = client.get("/", HTTP_X_FORWARDED_PROTO="https")
            assert secure.status_code == 200
            assert_security_headers(secure)


def test_a_known_hosts_404(kyoto_client: Client) -> None:
    response = kyoto_client.get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)


def test_the_refusal_page_403(kyoto: None) -> None:
    make_staff("hdr-op", "operator")
    response = sign_in("hdr-op").get("/staff/users/")
    assert response.status_code == 403
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/", "/api/v1/locations/"])
def test_the_bulkheads_503(tenants: Tenants, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    refuse: Callable[[CitizenLane], bool] = lambda lane: False  # noqa: E731 - the lane is full
    monkeypatch.setattr(CitizenLane, "enter", refuse)
    response = Client(HTTP_HOST=KYOTO_HOST).get(path)
    assert response.status_code == 503
    assert_security_headers(response)


def test_a_nul_byte_refusal_400(kyoto_client: Client) -> None:
    response = kyoto_client.get("/?q=%00")
    assert response.status_code == 400
    assert_security_headers(response)


def test_citizen_api_answers_with_personal_data_are_not_cached(kyoto: None) -> None:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    signed_in = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    )
    assert signed_in.status_code == 201
    assert_security_headers(signed_in)  # the token itself
    token = signed_in.json()["token"]
    booking = client.get("/api/v1/citizen/booking/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert booking.status_code in {200, 404}
    assert_security_headers(booking)


def test_staff_api_answers_with_personal_data_are_not_cached(kyoto: None) -> None:
    make_staff("hdr-clerk", "counter")
    token = Client(HTTP_HOST=KYOTO_HOST).post(
        "/api/v1/staff/sessions/",
        {"username": "hdr-clerk", "password": "Kyoto-2026!ok"},
        content_type="application/json",
    )
    assert token.status_code == 201, token.content
    assert_security_headers(token)
    listing = Client(HTTP_HOST=KYOTO_HOST).get(
        "/api/v1/staff/bookings/", HTTP_AUTHORIZATION=f"Bearer {token.json()['token']}"
    )
    assert listing.status_code == 200
    assert_security_headers(listing)


def test_static_files_keep_their_own_caching(kyoto_client: Client) -> None:
    response = kyoto_client.get("/static/madoguchi/site.css")
    assert response.status_code == 200
    assert response["Cache-Control"] != "no-store"
