"""Malformed and hostile input gets a 4xx with a clear answer, never a 500 (SO-08; "a 500 is a bug")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db
LOC = object()  # replaced by a real place id


def fill(data: Any) -> Any:
    return (
        {k: (factories.place().pk if v is LOC else v) for k, v in data.items()}
        if isinstance(data, dict)
        else data
    )


@pytest.mark.parametrize(
    "params",
    [
        {"location": "99999999999999999999", "service": "card_issuance"},
        {"location": "-1", "service": "card_issuance"},
        {"location": LOC, "service": "card_issuance", "from": "9999-12-31"},
        {"location": LOC, "service": "card_issuance", "from": "0001-01-01", "to": "0001-01-02"},
        {"location": LOC, "service": "x" * 5000},
        {"location": LOC, "service": "card_issuance\x00"},
    ],
)
def test_availability_with_hostile_queries(kyoto: None, params: dict[str, Any]) -> None:
    response = Client(HTTP_HOST=KYOTO_HOST).get("/api/v1/availability/", fill(params))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "body",
    [
        {"location": 99999999999999999999, "service": "card_issuance", "start": "2026-12-01T10:00:00+09:00"},
        {"location": LOC, "service": "card_issuance", "start": "9999-12-31T23:59:59+09:00"},
        {"location": LOC, "service": "card_issuance", "start": "0001-01-01T00:00:00+00:00"},
        {"location": LOC, "service": "card_issuance", "start": "2026-12-01T10:00:00+14:00"},
        {"location": LOC, "service": ["card_issuance"], "start": {"a": 1}},
        {"location": True, "service": None, "start": 12},
        {"location": LOC, "service": "card_issuance\u0000", "start": "2026-12-01T10:00:00+09:00"},
        "just a string",
        12345,
    ],
)
def test_booking_with_hostile_bodies(kyoto: None, body: Any) -> None:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    token = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    ).json()["token"]
    for method in ("post", "patch"):
        response = getattr(client, method)(
            "/api/v1/citizen/booking/",
            fill(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert 400 <= response.status_code < 500, (method, response.content[:200])
        assert "code" in response.json()


def test_login_with_hostile_values(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    for body in (
        {"reservation_number": "1" * 10000, "password": "x"},
        {"reservation_number": "123456789012", "password": "\x00"},
    ):
        assert (
            client.post("/api/v1/citizen/sessions/", body, content_type="application/json").status_code == 400
        )
        assert client.post("/login/", body).status_code == 400


def test_citizen_pages_with_hostile_addresses(kyoto: None) -> None:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    place = factories.place().pk
    assert client.get("/book/card_issuance/99999999999999999999/").status_code == 404
    for path in (f"/book/card_issuance/{place}/9999-12-31/", f"/book/card_issuance/{place}/0001-01-01/"):
        assert client.get(path).status_code == 404
    for month in ("9999-12", "0001-01", "2026-00", "2026-13", "x"):
        assert client.get(f"/book/card_issuance/{place}/", {"month": month}).status_code == 200
    for start in ("9999-12-31T23:59:59+09:00", "", "0001-01-01T00:00:00+09:00", "10:00"):
        response = client.post(f"/book/card_issuance/{place}/2026-12-01/", {"start": start})
        assert response.status_code in {409, 404}, start
    assert client.get("/mypage/?q=%00").status_code == 400


def _signed_in_client() -> Client:
    issued = factories.issue_card()
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    return client


def test_citizen_addresses_naming_no_day_are_404(kyoto: None) -> None:
    client = _signed_in_client()
    place = factories.place().pk
    for day in ("2026-02-30", "0000-01-01", "2026-00-10", "2026-13-01"):
        assert client.get(f"/book/card_issuance/{place}/{day}/").status_code == 404, day


def test_the_month_asked_for_is_yyyy_mm_and_anything_else_shows_the_first_month(kyoto: None) -> None:
    client = _signed_in_client()
    url = f"/book/card_issuance/{factories.place().pk}/"
    first = client.get(url).context["month"]
    following = (first + dt.timedelta(days=32)).replace(day=1)
    asked = following.strftime("%Y-%m")
    assert client.get(url, {"month": asked}).context["month"] == following
    wide = asked.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert client.get(url, {"month": wide}).context["month"] == following  # an IME in full-width mode
    arabic = asked.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))  # int() read these digits
    for month in (arabic, f"{following.year}-{following.month}-1", "0000-01", f"{asked}-01"):
        response = client.get(url, {"month": month})
        assert (response.status_code, response.context["month"]) == (200, first), month


@pytest.mark.parametrize("day", ["2026-W49-7", "20261206", "2026-12-6", "２０２６年１２月６日"])
def test_availability_dates_are_yyyy_mm_dd(kyoto: None, day: str) -> None:
    # DRF's date parser took the ISO week date and the compact form; the API reads dates as the pages do.
    response = Client(HTTP_HOST=KYOTO_HOST).get(
        "/api/v1/availability/", fill({"location": LOC, "service": "card_issuance", "from": day})
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert "YYYY-MM-DD" in str(response.json()["fields"])
