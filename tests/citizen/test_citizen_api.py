"""The citizen API behaves exactly as specified (issue: booking engine), on each tenant's host only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from booking.access import throttle
from booking.engine.services import IssuedCard, do_book
from booking.models import Booking, Slot
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, host: str) -> None:
        self.client = Client(HTTP_HOST=host)
        self.token = ""

    def headers(self) -> dict[str, Any]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, **self.headers())

    def send(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        call = getattr(self.client, method)
        return call(path, body, content_type=content_type, **self.headers())

    def login(self, issued: IssuedCard) -> Any:
        response = self.send(
            "post",
            "/api/v1/citizen/sessions/",
            {"reservation_number": issued.card.reservation_number, "password": issued.password},
        )
        self.token = response.json().get("token", "")
        return response


@pytest.fixture
def api(kyoto: None) -> Api:
    return Api(KYOTO_HOST)


@pytest.fixture
def citizen(api: Api) -> IssuedCard:
    issued = factories.issue_card()
    assert api.login(issued).status_code == 201
    return issued


def error(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) >= {"code", "message"} and body["message"]
    return response.status_code, body["code"]


# --- public endpoints ---------------------------------------------------------------------------------


def test_locations_list_places_with_services(api: Api) -> None:
    response = api.get("/api/v1/locations/")
    assert response.status_code == 200
    by_name = {item["name"]: item for item in response.json()}
    center = by_name["マイナンバーカードセンター（下京）3階"]
    assert set(center) == {"id", "name", "address", "services"}
    assert "card_issuance" in center["services"] and "ecert_renewal" in center["services"]
    assert "地下鉄竹田駅 証明書発行コーナー" not in by_name  # ended in 2024


def test_locations_are_per_tenant(tenants: Tenants) -> None:
    assert Client(HTTP_HOST=MIHON_HOST).get("/api/v1/locations/").json() == []


def test_availability_lists_bookable_slots_in_japan_time(api: Api) -> None:
    place = factories.place()
    today = timezone.localdate()
    response = api.get(
        "/api/v1/availability/",
        location=place.pk,
        service="card_issuance",
        **{"from": today.isoformat(), "to": (today + dt.timedelta(days=14)).isoformat()},
    )
    assert response.status_code == 200
    slots = response.json()
    assert slots and set(slots[0]) == {"start", "end", "capacity", "remaining"}
    assert slots[0]["start"].endswith("+09:00")
    first = dt.datetime.fromisoformat(slots[0]["start"])
    assert first.date() >= today + dt.timedelta(days=1)
    assert all(slot["remaining"] > 0 for slot in slots)


def test_availability_shows_remaining_places(api: Api) -> None:
    free = factories.next_free_slot()
    for card in factories.issue_cards(2):
        do_book(card, factories.place(), factories.card_issuance(), free.starts_at)
    day = free.starts_at.date().isoformat()
    slots = api.get(
        "/api/v1/availability/",
        location=factories.place().pk,
        service="card_issuance",
        **{"from": day, "to": day},
    ).json()
    match = [s for s in slots if dt.datetime.fromisoformat(s["start"]) == free.starts_at]
    assert match and match[0]["remaining"] == free.capacity - 2


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"location": "abc", "service": "card_issuance"},
        {"location": 999999, "service": "card_issuance"},
        {"service": "card_issuance"},
        {"location": "LOC", "service": "no_such_service"},
        {"location": "LOC", "service": "card_issuance", "from": "2026-13-01"},
        {"location": "LOC", "service": "card_issuance", "from": "2026-12-10", "to": "2026-12-01"},
        {"location": "LOC", "service": "card_issuance", "from": "2026-01-01", "to": "2026-12-31"},
    ],
)
def test_availability_refuses_bad_queries_with_400(api: Api, params: dict[str, Any]) -> None:
    if params.get("location") == "LOC":
        params["location"] = factories.place().pk
    assert error(api.get("/api/v1/availability/", **params)) == (400, "invalid")


# --- sessions -----------------------------------------------------------------------------------------


def test_login_gives_a_token_with_its_expiry(api: Api) -> None:
    issued = factories.issue_card()
    response = api.login(issued)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"} and len(body["token"]) > 30
    assert dt.datetime.fromisoformat(body["expires_at"]) > timezone.now()


def test_login_accepts_the_number_as_people_type_it(api: Api) -> None:
    issued = factories.issue_card()
    number = issued.card.reservation_number
    typed = "－".join([number[:4], number[4:8], number[8:]]).translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    response = api.send(
        "post",
        "/api/v1/citizen/sessions/",
        {"reservation_number": typed, "password": issued.password.lower()},
    )
    assert response.status_code == 201


def test_unknown_number_and_wrong_password_get_the_same_answer(api: Api) -> None:
    issued = factories.issue_card()
    wrong = api.send(
        "post",
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": "WRONGPASS9"},
    )
    unknown = api.send(
        "post",
        "/api/v1/citizen/sessions/",
        {"reservation_number": "000000000000", "password": issued.password},
    )
    assert error(wrong) == error(unknown) == (401, "invalid_credentials")
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_refused_for_a_while(api: Api) -> None:
    issued = factories.issue_card()
    body = {"reservation_number": issued.card.reservation_number, "password": "WRONGPASS9"}
    codes = [
        error(api.send("post", "/api/v1/citizen/sessions/", body))[1] for _ in range(throttle.SLOW_AFTER + 1)
    ]
    assert codes[: throttle.SLOW_AFTER] == ["invalid_credentials"] * throttle.SLOW_AFTER
    assert codes[-1] == "too_many_attempts"
    refused = api.send(
        "post",
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0  # even the right password waits


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ({"reservation_number": "1"}, "application/json"),
        ("reservation_number=1&password=2", "application/x-www-form-urlencoded"),
        ([], "application/json"),
    ],
)
def test_malformed_login_is_a_400(api: Api, body: Any, content_type: str) -> None:
    assert error(api.send("post", "/api/v1/citizen/sessions/", body, content_type)) == (400, "invalid")


# --- the booking ----------------------------------------------------------------------------------------


def book_body(start: dt.datetime, place_code: str = "center-3f") -> dict[str, Any]:
    return {
        "location": factories.place(place_code).pk,
        "service": "card_issuance",
        "start": start.isoformat(),
    }


def test_booking_needs_a_token(api: Api) -> None:
    assert error(api.get("/api/v1/citizen/booking/")) == (401, "not_authenticated")
    api.token = "forged-token"
    assert error(api.get("/api/v1/citizen/booking/")) == (401, "not_authenticated")


def test_book_view_change_and_cancel(api: Api, citizen: IssuedCard) -> None:
    assert error(api.get("/api/v1/citizen/booking/")) == (404, "no_booking")
    first, second = factories.next_free_slot_list(2)

    created = api.send("post", "/api/v1/citizen/booking/", book_body(first.starts_at))
    assert created.status_code == 201
    booking = created.json()
    assert set(booking) == {"id", "location", "service", "start", "end", "status"}
    assert dt.datetime.fromisoformat(booking["start"]) == first.starts_at
    assert booking["status"] == "confirmed" and booking["service"] == "card_issuance"
    assert api.get("/api/v1/citizen/booking/").json() == booking

    changed = api.send(
        "patch",
        "/api/v1/citizen/booking/",
        {"location": factories.place().pk, "start": second.starts_at.isoformat()},
    )
    assert changed.status_code == 200
    assert dt.datetime.fromisoformat(changed.json()["start"]) == second.starts_at
    assert changed.json()["id"] == booking["id"]
    assert Slot.objects.get(starts_at=first.starts_at, place=factories.place()).taken == 0

    assert api.send("delete", "/api/v1/citizen/booking/").status_code == 204
    assert error(api.get("/api/v1/citizen/booking/")) == (404, "no_booking")
    assert Slot.objects.get(starts_at=second.starts_at, place=factories.place()).taken == 0


def test_a_change_gives_what_changes_and_keeps_the_rest(api: Api, citizen: IssuedCard) -> None:
    """PATCH as the schema says: a new start alone is another time at the same place (and the same for
    the place); neither is a 400 that says what to send."""
    first, second = factories.next_free_slot_list(2)
    api.send("post", "/api/v1/citizen/booking/", book_body(first.starts_at))
    moved = api.send("patch", "/api/v1/citizen/booking/", {"start": second.starts_at.isoformat()})
    assert moved.status_code == 200, moved.content
    assert dt.datetime.fromisoformat(moved.json()["start"]) == second.starts_at
    assert moved.json()["location"] == factories.place().pk
    same = api.send("patch", "/api/v1/citizen/booking/", {"location": factories.place().pk})
    assert same.status_code == 200 and same.json()["start"] == moved.json()["start"]
    nothing = api.send("patch", "/api/v1/citizen/booking/", {})
    assert error(nothing) == (400, "invalid")
    assert "location" in nothing.json()["fields"]["non_field_errors"][0]
    assert dt.datetime.fromisoformat(api.get("/api/v1/citizen/booking/").json()["start"]) == second.starts_at
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    change = next(body for name, body in schema.items() if name.endswith("BookingChangeIn"))
    assert not change.get("required")


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("location", 1.7, "場所は id（整数）で指定してください。"),
        ("location", True, "場所は id（整数）で指定してください。"),
        ("location", "center", "場所は id（整数）で指定してください。"),
        ("location", 999999, "場所 999999 はありません。GET /api/v1/locations/ の id"),
        ("service", "nope", "サービス「nope」はありません。GET /api/v1/locations/ の services"),
        ("service", 12, "サービス「12」はありません。"),
    ],
)
def test_a_wrong_place_or_service_is_told_how_to_find_the_right_one(
    api: Api, citizen: IssuedCard, field: str, value: Any, says: str
) -> None:
    body = {**book_body(factories.next_free_slot().starts_at), field: value}
    refused = api.send("post", "/api/v1/citizen/booking/", body)
    assert error(refused) == (400, "invalid")
    assert says in refused.json()["fields"][field][0]
    assert not Booking.objects.filter(card=citizen.card).exists()


def test_a_place_id_written_as_a_whole_float_or_a_digit_string_is_that_place(
    api: Api, citizen: IssuedCard
) -> None:
    body = book_body(factories.next_free_slot().starts_at)
    body["location"] = float(body["location"])
    assert api.send("post", "/api/v1/citizen/booking/", body).status_code == 201
    later = factories.next_free_slot_list(2)[1].starts_at
    moved = {"location": str(body["location"])[:-2], "start": later.isoformat()}  # "3": a digit string
    assert api.send("patch", "/api/v1/citizen/booking/", moved).status_code == 200


def test_a_second_booking_is_told_the_api_calls_for_a_change(api: Api, citizen: IssuedCard) -> None:
    first, second = factories.next_free_slot_list(2)
    api.send("post", "/api/v1/citizen/booking/", book_body(first.starts_at))
    refused = api.send("post", "/api/v1/citizen/booking/", book_body(second.starts_at))
    assert "PATCH" in refused.json()["message"] and "「" not in refused.json()["message"]


def test_second_booking_is_409_already_booked(api: Api, citizen: IssuedCard) -> None:
    first, second = factories.next_free_slot_list(2)
    api.send("post", "/api/v1/citizen/booking/", book_body(first.starts_at))
    assert error(api.send("post", "/api/v1/citizen/booking/", book_body(second.starts_at))) == (
        409,
        "already_booked",
    )


def test_full_slot_is_409_and_a_change_to_it_keeps_the_old_booking(api: Api, citizen: IssuedCard) -> None:
    full, mine = factories.next_free_slot_list(2)
    for card in factories.issue_cards(full.capacity):
        do_book(card, factories.place(), factories.card_issuance(), full.starts_at)
    assert error(api.send("post", "/api/v1/citizen/booking/", book_body(full.starts_at))) == (
        409,
        "slot_full",
    )

    api.send("post", "/api/v1/citizen/booking/", book_body(mine.starts_at))
    refused = api.send(
        "patch",
        "/api/v1/citizen/booking/",
        {"location": factories.place().pk, "start": full.starts_at.isoformat()},
    )
    assert error(refused) == (409, "slot_full")
    kept = api.get("/api/v1/citizen/booking/").json()
    assert dt.datetime.fromisoformat(kept["start"]) == mine.starts_at


@pytest.mark.parametrize(
    "start",
    [
        lambda: factories.next_free_slot().starts_at + dt.timedelta(minutes=5),  # between slots
        lambda: factories.next_free_slot().starts_at.replace(hour=20),  # after hours
        lambda: dt.datetime(2027, 1, 1, 10, 0, tzinfo=dt.UTC),  # a holiday
    ],
)
def test_a_time_that_is_no_slot_is_400_invalid(api: Api, citizen: IssuedCard, start: Any) -> None:
    assert error(api.send("post", "/api/v1/citizen/booking/", book_body(start()))) == (400, "invalid")


def test_outside_the_window_is_400_outside_window(api: Api, citizen: IssuedCard) -> None:
    past = factories.slot_on_or_after(timezone.localdate() - dt.timedelta(days=20))
    tomorrowish = factories.slot_on_or_after(timezone.localdate())
    for start in (past, tomorrowish):
        assert error(api.send("post", "/api/v1/citizen/booking/", book_body(start))) == (
            400,
            "outside_window",
        )
    from booking.engine.queries import booking_rules

    rules = booking_rules()
    rules.bookable_until = timezone.localdate() + dt.timedelta(days=10)
    rules.save()
    late = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=20))
    assert error(api.send("post", "/api/v1/citizen/booking/", book_body(late))) == (400, "outside_window")


def test_cancel_after_the_deadline_is_400(api: Api, citizen: IssuedCard) -> None:
    soon = factories.slot_on_or_after(timezone.localdate() + dt.timedelta(days=1))
    do_book(
        citizen.card, factories.place(), factories.card_issuance(), soon, now=soon - dt.timedelta(days=10)
    )
    assert error(api.send("delete", "/api/v1/citizen/booking/")) == (400, "deadline_passed")
    assert Booking.objects.get(card=citizen.card).status == "confirmed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"location": "x", "service": "card_issuance", "start": "2026-12-01T10:00:00+09:00"},
        {"location": 1, "service": "card_issuance", "start": "tomorrow"},
        {"location": 1, "service": "card_issuance"},
    ],
)
def test_malformed_booking_is_400_invalid(api: Api, citizen: IssuedCard, body: dict[str, Any]) -> None:
    assert error(api.send("post", "/api/v1/citizen/booking/", body)) == (400, "invalid")


def test_phone_only_service_cannot_be_booked_on_the_web(api: Api, citizen: IssuedCard) -> None:
    start = factories.next_free_slot().starts_at
    body = {**book_body(start), "service": "ecert_renewal"}
    assert error(api.send("post", "/api/v1/citizen/booking/", body)) == (400, "web_not_offered")


def test_a_token_works_only_on_its_own_tenant(api: Api, citizen: IssuedCard) -> None:
    other = Api(MIHON_HOST)
    other.token = api.token
    assert error(other.get("/api/v1/citizen/booking/")) == (401, "not_authenticated")


def test_openapi_schema_lists_the_endpoints(api: Api) -> None:
    response = api.client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (
        "/api/v1/locations/",
        "/api/v1/availability/",
        "/api/v1/citizen/sessions/",
        "/api/v1/citizen/booking/",
    ):
        assert path in text


def test_a_shared_client_address_gets_more_room_than_one_number(api: Api) -> None:
    cards = [factories.issue_card() for _ in range(throttle.SLOW_AFTER + 2)]
    for issued in cards[:-1]:  # one failure on each of several numbers from the same address
        body = {"reservation_number": issued.card.reservation_number, "password": "WRONGPASS9"}
        assert error(api.send("post", "/api/v1/citizen/sessions/", body)) == (401, "invalid_credentials")
    assert api.login(cards[-1]).status_code == 201  # a neighbour behind the same NAT still gets in


def test_the_openapi_schema_builds_without_warnings(tmp_path: Any) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/staff/bookings/" in text and "bearer" in text


def test_logins_go_on_when_redis_is_down(api: Api, settings: Any) -> None:
    """The throttle fails open (and logs it) rather than turning every login into an error."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    issued = factories.issue_card()
    assert api.login(issued).status_code == 201
    wrong = {"reservation_number": issued.card.reservation_number, "password": "WRONGPASS9"}
    assert error(api.send("post", "/api/v1/citizen/sessions/", wrong)) == (401, "invalid_credentials")
