"""The citizen API's shorter middleware list (madoguchi.api_lane, issue 12) and the availability answer
outside DRF's dispatch: the same answers, headers and refusals as the full stack, and nothing a session
would leave behind."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from madoguchi import api_lane
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Cross-Origin-Opener-Policy",
    "Cache-Control",
)


def place_id(kyoto: None) -> int:
    return int(factories.place().pk)


def test_which_requests_take_the_lane(tenants: Any) -> None:
    def request(path: str, tenant: Any) -> HttpRequest:
        made = RequestFactory().get(path)
        made.tenant = tenant  # type: ignore[attr-defined]
        return made

    kyoto = tenants.kyoto
    assert api_lane.is_citizen_api(request("/api/v1/availability/", kyoto))
    assert api_lane.is_citizen_api(request("/api/v1/citizen/booking/", kyoto))
    assert not api_lane.is_citizen_api(request("/api/v1/staff/bookings/", kyoto))
    assert not api_lane.is_citizen_api(request("/api/schema/", kyoto))
    assert not api_lane.is_citizen_api(request("/booking/", kyoto))

    class Public:
        schema_name = "public"

    assert not api_lane.is_citizen_api(request("/api/v1/availability/", Public()))
    assert not api_lane.is_citizen_api(request("/api/v1/availability/", None))


def test_the_lane_runs_its_own_list_and_not_the_rest(tenants: Any) -> None:
    ran: list[str] = []

    def rest(request: HttpRequest) -> HttpResponse:
        ran.append(request.path)
        return HttpResponse("rest")

    lane = api_lane.CitizenApiLaneMiddleware(rest)
    citizen = RequestFactory().get("/api/v1/no-such-thing/")
    citizen.tenant = tenants.kyoto  # type: ignore[attr-defined]
    citizen.urlconf = "madoguchi.urls_tenant"
    answer = lane(citizen)
    assert answer.status_code == 404 and answer.has_header("Content-Language")  # the lane's own list ran
    assert ran == []
    for path in ("/booking/", "/api/v1/staff/bookings/"):  # a page, the staff API: the whole list
        other = RequestFactory().get(path)
        other.tenant = tenants.kyoto  # type: ignore[attr-defined]
        assert lane(other).content == b"rest"
    assert ran == ["/booking/", "/api/v1/staff/bookings/"]


def test_citizen_api_answers_carry_every_security_header(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.cookies["sessionid"] = "not-a-session"
    client.cookies["csrftoken"] = "x" * 32
    query = {"location": str(place_id(kyoto)), "service": "card_issuance"}
    response = client.get("/api/v1/availability/", query)
    assert response.status_code == 200
    for header in SECURITY_HEADERS:
        assert response.has_header(header), header
    assert response["X-Frame-Options"] == "DENY"
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    # the language middleware is in the lane: the answer says its language
    assert response["Content-Language"] == "ja"


def test_a_citizen_api_refusal_is_in_the_chosen_language(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.cookies["django_language"] = "en"
    response = client.get("/api/v1/availability/", {"location": "x", "service": "card_issuance"})
    assert response.status_code == 400
    assert response["Content-Language"] == "en"


def test_the_plain_availability_answer_is_the_one_drf_gives(kyoto: None) -> None:
    """`location=01` is not read plainly (DRF's IntegerField reads it as 1): the two paths answer alike."""
    client = Client(HTTP_HOST=KYOTO_HOST)
    pk = place_id(kyoto)
    plain = client.get("/api/v1/availability/", {"location": str(pk), "service": "card_issuance"})
    through_drf = client.get("/api/v1/availability/", {"location": f"0{pk}", "service": "card_issuance"})
    assert plain.status_code == through_drf.status_code == 200
    assert plain.content == through_drf.content
    assert sorted(plain.headers.items()) == sorted(through_drf.headers.items())


def test_an_unknown_place_read_plainly_gets_drfs_refusal(kyoto: None) -> None:
    client = Client(HTTP_HOST=KYOTO_HOST)
    response = client.get("/api/v1/availability/", {"location": "999999", "service": "card_issuance"})
    assert response.status_code == 400
    assert "location" in response.json()["fields"]


def test_the_plain_path_reads_the_query_string_as_django_does(kyoto: None) -> None:
    """The plain path reads the query string itself (no QueryDict): percent escapes, a repeated name (the
    last one counts, as QueryDict.get) and an empty `from` read alike on both paths; too many fields are
    refused with a 400 by Django's own check, never a 500."""
    client = Client(HTTP_HOST=KYOTO_HOST)
    pk = place_id(kyoto)
    usual = client.get(f"/api/v1/availability/?location={pk}&service=card_issuance")
    assert usual.status_code == 200
    escaped = client.get(
        f"/api/v1/availability/?location=%3{str(pk)[0]}{str(pk)[1:]}&service=card%5Fissuance"
    )
    repeated = client.get(f"/api/v1/availability/?location=999999&location={pk}&service=card_issuance")
    assert escaped.status_code == repeated.status_code == 200
    assert escaped.content == repeated.content == usual.content
    empty_from = client.get(f"/api/v1/availability/?location={pk}&service=card_issuance&from=")
    assert empty_from.status_code == 400 and "from" in empty_from.json()["fields"]
    many = "&".join(f"x{n}=1" for n in range(1001))
    flooded = client.get(f"/api/v1/availability/?location={pk}&service=card_issuance&{many}")
    assert flooded.status_code == 400
