"""The staff API as specified: sessions (201/401/403/401 otp; a locked account answers as an unknown
one), bookings (paginated, ordered), CSV export; roles and allowed terminals as on the screens."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.citizen.api.serializers import iso
from booking.engine.queries import free_slots
from booking.engine.services import do_book, do_book_visit
from booking.models import AllowedNetwork, Booking, Service
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.staff_helpers import PASSWORD, make_staff

pytestmark = pytest.mark.django_db


def session(username: str, password: str = PASSWORD, host: str = KYOTO_HOST, **body: Any) -> Any:
    return Client(HTTP_HOST=host).post(
        "/api/v1/staff/sessions/",
        {"username": username, "password": password, **body},
        content_type="application/json",
    )


def token_for(username: str) -> str:
    response = session(username)
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


def api_get(token: str, path: str, host: str = KYOTO_HOST, **params: Any) -> Any:
    return Client(HTTP_HOST=host).get(path, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_sessions_answer_as_specified(kyoto: None) -> None:
    make_staff("clerk", "counter")
    ok = session("clerk")
    assert ok.status_code == 201 and set(ok.json()) == {"token", "expires_at"}
    assert (
        session("clerk", "Wrong-pass1!").status_code,
        session("clerk", "Wrong-pass1!").json()["code"],
    ) == (401, "invalid_credentials")
    assert session("nobody").json()["code"] == "invalid_credentials"
    for _ in range(accounts.security().lockout_threshold):
        session("clerk", "Wrong-pass1!")
    locked = session("clerk")
    # Locked answers as an unknown name does (issue 13, finding 4): no 423 tells that the name exists.
    assert (locked.status_code, locked.json()["code"]) == (401, "invalid_credentials")


def test_a_second_factor_is_asked_for(kyoto: None) -> None:
    profile = make_staff("admin1", "administrator")
    device = accounts.do_start_totp(profile.user)
    device.confirmed = True
    device.save()
    missing = session("admin1")
    assert (missing.status_code, missing.json()["code"]) == (401, "otp_required")
    wrong = session("admin1", otp="123456")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "otp_required")


def test_the_one_time_code_is_read_as_the_sign_in_page_reads_it(kyoto: None) -> None:
    # The page's OtpForm takes "123 456" (as authenticator apps show it) and full-width digits; so does the
    # API now. A code of the right shape reaches the check (401 here: the code is wrong), any other is a 400.
    profile = make_staff("admin1", "administrator")
    device = accounts.do_start_totp(profile.user)
    device.confirmed = True
    device.save()
    for typed in ("123 456", "１２３４５６", "123-456"):
        wrong = session("admin1", otp=typed)
        assert (wrong.status_code, wrong.json()["code"]) == (401, "otp_required"), typed
    for typed in ("12345", "1234567", "12345x", "١٢٣٤٥٦"):
        refused = session("admin1", otp=typed)
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid"), typed
        assert "6桁の数字" in refused.json()["fields"]["otp"][0]


def test_sessions_from_a_network_not_allowed_are_403(kyoto: None) -> None:
    make_staff("clerk", "counter")
    AllowedNetwork.objects.create(network="192.0.2.0/24")
    refused = session("clerk")
    assert (refused.status_code, refused.json()["code"]) == (403, "ip_not_allowed")


@override_settings(TRUSTED_PROXY_NETWORKS=["10.0.0.0/8"])
def test_a_token_stops_working_from_another_network(kyoto: None) -> None:
    make_staff("clerk", "counter")
    AllowedNetwork.objects.create(network="192.0.2.0/24")
    client = Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="192.0.2.7")
    token = client.post(
        "/api/v1/staff/sessions/",
        {"username": "clerk", "password": PASSWORD},
        content_type="application/json",
    ).json()["token"]
    inside = client.get("/api/v1/staff/bookings/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert inside.status_code == 200
    outside = Client(HTTP_HOST=KYOTO_HOST, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.3")
    refused = outside.get("/api/v1/staff/bookings/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (refused.status_code, refused.json()["code"]) == (403, "ip_not_allowed")


def test_bookings_by_date_and_place_paginated_and_ordered(kyoto: None) -> None:
    make_staff("viewer", "viewer")
    first, second = factories.next_free_slot_list(2)
    for slot in (second, first):
        do_book(factories.issue_card().card, factories.place(), factories.card_issuance(), slot.starts_at)
    token = token_for("viewer")
    day = first.starts_at.date().isoformat()
    body = api_get(
        token, "/api/v1/staff/bookings/", date=day, location=factories.place().pk, ordering="start"
    ).json()
    assert set(body) == {"count", "next", "previous", "results"}
    starts = [row["start"] for row in body["results"]]
    assert starts == sorted(starts) and len(starts) >= 1
    reverse = api_get(token, "/api/v1/staff/bookings/", date=day, ordering="-start").json()["results"]
    assert [r["start"] for r in reverse] == sorted((r["start"] for r in reverse), reverse=True)
    assert {"reservation_number", "name_kana", "location", "status", "channel"} <= set(body["results"][0])


def test_each_booking_answered_as_its_model_reads(kyoto: None) -> None:
    """The list is read as values (issue 12): every field as the Booking, its card and slot say, and a
    phone-only visit (no card) with the caller's kana and no card fields."""
    make_staff("viewer", "viewer")
    slot = factories.next_free_slot_list(1)[0]
    card = factories.issue_card().card
    booked = do_book(card, factories.place(), factories.card_issuance(), slot.starts_at)
    kita = factories.place("kita")
    ecert = Service.objects.get(code="ecert_renewal")
    today = timezone.localdate()
    free = free_slots(kita, ecert, today, today + dt.timedelta(days=60))[0]
    visit = do_book_visit(
        kita, ecert, free.starts_at, caller_name_kana="スズキ ハナコ", contact_phone="0752223111", actor="op1"
    )
    rows = {r["id"]: r for r in api_get(token_for("viewer"), "/api/v1/staff/bookings/").json()["results"]}
    for booking in (booked, visit):
        booking = Booking.objects.select_related("card", "slot__place", "slot__service").get(pk=booking.pk)
        held = booking.card
        assert rows[booking.pk] == {
            "id": booking.pk,
            "location": booking.slot.place_id,
            "location_name": booking.slot.place.name,
            "service": booking.slot.service.code,
            "start": iso(booking.slot.starts_at),
            "end": iso(booking.slot.ends_at),
            "status": booking.status,
            "channel": booking.channel,
            "reservation_number": held.reservation_number if held else None,
            "application_id": held.application_id if held else None,
            "name": held.name if held else None,
            "name_kana": booking.name_kana,
            "contact_phone": booking.contact_phone,
            "contact_email": booking.contact_email,
        }
    assert rows[visit.pk]["name_kana"] == "スズキ ハナコ" and rows[visit.pk]["name"] is None
    assert rows[booked.pk]["name_kana"] == card.name_kana


@pytest.mark.parametrize(
    "params", [{"date": "2026-02-30"}, {"location": "x"}, {"ordering": "name"}, {"date": "9999-01-01"}]
)
def test_bad_queries_are_400(kyoto: None, params: dict[str, str]) -> None:
    make_staff("viewer", "viewer")
    response = api_get(token_for("viewer"), "/api/v1/staff/bookings/", **params)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    if "location" in params:  # the place as the residents' API words it (one PlaceField), not DRF's "pk"
        assert "場所は id（整数）で指定してください。" in response.json()["fields"]["location"][0]


@pytest.mark.parametrize("date", ["2026-W49-7", "20261206", "2026-12-6", "2026-12-06T00:00"])
def test_a_date_is_yyyy_mm_dd_as_on_the_pages(kyoto: None, date: str) -> None:
    # DRF's parser took the ISO week date and the compact form; the API reads dates as booking.lib does.
    make_staff("viewer", "viewer")
    response = api_get(token_for("viewer"), "/api/v1/staff/bookings/", date=date)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert "YYYY-MM-DD" in response.json()["fields"]["date"][0]


def test_a_date_in_full_width_digits_is_a_date(kyoto: None) -> None:
    make_staff("viewer", "viewer")
    response = api_get(token_for("viewer"), "/api/v1/staff/bookings/", date="２０２６－１２－０７")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("role", "allowed"), [("administrator", True), ("counter", True), ("operator", False), ("viewer", False)]
)
def test_export_csv_by_role_and_encoding(kyoto: None, role: str, allowed: bool) -> None:
    make_staff("someone", role)
    card = factories.issue_card("ヨシダ ハナ").card
    card.name = "𠮷田 花子"
    card.save()
    do_book(card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    token = token_for("someone")
    response = api_get(token, "/api/v1/staff/bookings/export.csv", encoding="cp932", date_from="2000-01-01")
    if not allowed:
        assert response.status_code == 403
        return
    assert response.status_code == 200 and "Shift_JIS" in response["Content-Type"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("cp932"))))
    assert rows[1][10] == "〓田 花子"
    bad = api_get(token, "/api/v1/staff/bookings/export.csv", encoding="latin-1")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def booked_card() -> str:
    card = factories.issue_card("ヤマダ タロウ").card
    do_book(card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    return card.application_id


def test_export_is_plain_for_programs_and_excel_on_request(kyoto: None) -> None:
    make_staff("clerk", "counter")
    application_id = booked_card()
    token = token_for("clerk")
    plain = api_get(token, "/api/v1/staff/bookings/export.csv", date_from="2000-01-01")
    row = list(csv.reader(io.StringIO(b"".join(plain.streaming_content).decode("utf-8-sig"))))[1]
    assert row[9] == application_id and row[14].endswith("+09:00")  # as it always was
    excel = api_get(token, "/api/v1/staff/bookings/export.csv", date_from="2000-01-01", style="excel")
    row = list(csv.reader(io.StringIO(b"".join(excel.streaming_content).decode("utf-8-sig"))))[1]
    assert row[9] == f'="{application_id}"' and "+" not in row[14] and "T" not in row[14]
    bad = api_get(token, "/api/v1/staff/bookings/export.csv", style="lotus")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


@pytest.mark.parametrize(
    "accept",
    [
        "text/csv",
        "text/csv; charset=utf-8",
        "text/*",
        "*/*",
        "application/json",
        "text/csv, application/json;q=0.5",
    ],
)
def test_export_answers_a_client_that_accepts_csv(kyoto: None, accept: str) -> None:
    make_staff("clerk", "counter")
    booked_card()
    response: Any = Client(HTTP_HOST=KYOTO_HOST).get(
        "/api/v1/staff/bookings/export.csv",
        {"date_from": "2000-01-01"},
        HTTP_AUTHORIZATION=f"Bearer {token_for('clerk')}",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))) == 2


def test_export_errors_are_json_even_to_a_csv_client_and_406_only_for_other_types(kyoto: None) -> None:
    make_staff("clerk", "counter")
    token = token_for("clerk")

    def get(accept: str, **params: str) -> Any:
        return Client(HTTP_HOST=KYOTO_HOST).get(
            "/api/v1/staff/bookings/export.csv",
            params,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ACCEPT=accept,
        )

    bad = get("text/csv", encoding="latin-1")
    assert (bad.status_code, bad["Content-Type"], bad.json()["code"]) == (400, "application/json", "invalid")
    refused = get("image/png")
    assert (refused.status_code, refused.json()["code"]) == (406, "not_acceptable")
    assert "text/csv" in refused.json()["message"]
    anonymous = Client(HTTP_HOST=KYOTO_HOST).get("/api/v1/staff/bookings/export.csv", HTTP_ACCEPT="text/csv")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    for asked in ("json", "xml"):  # DRF's ?format= override: csv is all this API answers
        other = get("*/*", format=asked)
        assert (other.status_code, other.json()["code"]) == (406, "not_acceptable")
        assert "format=csv" in other.json()["message"]
    assert get("*/*", format="csv", date_from="2000-01-01")["Content-Type"].startswith("text/csv")


def test_a_csv_client_is_still_kept_to_its_own_tenant(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        make_staff("clerk", "counter")
        token = token_for("clerk")
    other = Client(HTTP_HOST=MIHON_HOST).get(
        "/api/v1/staff/bookings/export.csv", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="text/csv"
    )
    assert other.status_code == 401 and other.json()["code"] == "not_authenticated"


def test_tokens_belong_to_their_tenant(tenants: Tenants) -> None:
    with schema_context("kyoto"):
        make_staff("clerk", "counter")
        token = token_for("clerk")
    assert api_get(token, "/api/v1/staff/bookings/", host=MIHON_HOST).status_code == 401
    assert api_get("forged", "/api/v1/staff/bookings/").status_code == 401
