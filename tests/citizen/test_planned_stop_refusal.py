"""Stops that are enforced (SO-01, issue 14 §2): the notice on every page of the municipality's site (citizen,
staff, call center) from its announcement to its end, in the page's language; while a stop that takes the
site down runs, residents' booking writes (web and API) get 503 with Retry-After and change nothing, while
staff and the call center keep working; a stop that keeps the site up refuses nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from booking.engine.services import IssuedCard, do_book, do_hold
from booking.models import Booking, Hold
from console.models import PlannedStop
from tests import factories
from tests.citizen.test_citizen_api import Api
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


def make_stop(
    tenant: Any,
    *,
    starts_in: dt.timedelta = dt.timedelta(minutes=-5),
    lasts: dt.timedelta = dt.timedelta(hours=2),
    announced_before: dt.timedelta = dt.timedelta(days=7),
    site_down: bool = True,
    reason: str = "システム更新のため",
    reason_en: str = "for a system update",
    kind: str = PlannedStop.Kind.PLANNED,
) -> PlannedStop:
    starts = timezone.now() + starts_in
    return PlannedStop.objects.create(
        tenant=tenant,
        kind=kind,
        starts_at=starts,
        ends_at=starts + lasts,
        announced_from=starts - announced_before,
        site_down=site_down,
        reason=reason,
        reason_en=reason_en,
        approved_by="京都市 情報化推進室長",
        approval_reference="京情第7号",
        approved_on=(starts - dt.timedelta(days=40)).date(),
    )


def text(response: Any) -> str:
    return response.content.decode()


def english(client: Client) -> Client:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


@pytest.fixture
def issued(kyoto: None) -> IssuedCard:
    return factories.issue_card()


@pytest.fixture
def browser(issued: IssuedCard) -> Client:
    client = Client(HTTP_HOST=KYOTO_HOST)
    response = client.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    assert response["Location"] == "/mypage/"
    return client


@pytest.fixture
def operator(kyoto: None) -> Client:
    make_staff("op1", "operator")
    return sign_in("op1")


# --- the notice ---


def test_the_notice_is_on_citizen_staff_and_call_center_pages_only_inside_its_window(
    tenants: Tenants, operator: Client
) -> None:
    citizen = Client(HTTP_HOST=KYOTO_HOST)
    pages = {
        "citizen login": lambda: text(citizen.get("/login/")),
        "citizen top": lambda: text(citizen.get("/")),
        "staff": lambda: text(operator.get("/staff/")),
        "call center": lambda: text(operator.get("/staff/callcenter/")),
    }
    stop = make_stop(
        tenants.kyoto, starts_in=dt.timedelta(days=3), announced_before=dt.timedelta(days=-1)
    )  # announced only from tomorrow
    for name, page in pages.items():
        assert "システム更新のため" not in page(), name
    PlannedStop.objects.filter(pk=stop.pk).update(announced_from=timezone.now() - dt.timedelta(hours=1))
    for name, page in pages.items():
        shown = page()
        assert "サービス停止のお知らせ" in shown and "システム更新のため" in shown, name
        assert "現在停止中" not in shown and "（日本時間）" in shown, name
    # Tokyo time: 22:00 UTC is 7:00 the next morning in Japan
    tokyo = timezone.localtime(stop.starts_at)
    assert f"{tokyo.hour}:{tokyo.minute:02d}" in pages["citizen login"]()
    assert "職員用画面とコールセンターの画面は停止中も使えます" in pages["call center"]()
    assert "予約・変更・取消ができません" in pages["citizen login"]()
    PlannedStop.objects.filter(pk=stop.pk).update(
        starts_at=timezone.now() - dt.timedelta(hours=3), ends_at=timezone.now() - dt.timedelta(minutes=1)
    )
    for name, page in pages.items():
        assert "システム更新のため" not in page(), name  # ended


def test_the_notice_is_in_english_on_english_pages(tenants: Tenants, operator: Client) -> None:
    make_stop(tenants.kyoto)
    citizen = english(Client(HTTP_HOST=KYOTO_HOST))
    page = text(citizen.get("/login/"))
    assert "for a system update" in page and "システム更新のため" not in page
    assert "(Japan time)" in page and "Planned service stops" in page
    staff_page = text(english(operator).get("/staff/callcenter/"))
    assert "for a system update" in staff_page and "call center" in staff_page


def test_the_notice_is_read_once_per_request(tenants: Tenants) -> None:
    make_stop(tenants.kyoto, site_down=False)
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.get("/login/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert "システム更新のため" in text(client.get("/login/"))
    assert sum("console_plannedstop" in q["sql"] for q in queries.captured_queries) == 1


# --- refusal during a site-down stop ---


def test_web_writes_are_refused_with_a_clear_page_and_nothing_changes(
    browser: Client, issued: IssuedCard
) -> None:
    first, second = factories.next_free_slot_list(2)
    place = factories.place()
    do_hold(issued.card, place, factories.card_issuance(), first.starts_at)
    stop = make_stop(None)
    day = second.starts_at.date()
    assert browser.get(f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/").status_code == 200  # reads work
    for path, data in [
        (f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/", {"start": second.starts_at.isoformat()}),
        ("/confirm/", {}),
        ("/release/", {}),
        ("/extend/", {}),
    ]:
        response = browser.post(path, data)
        assert response.status_code == 503, path
        remaining = (stop.ends_at - timezone.now()).total_seconds()
        assert remaining - 5 <= int(response["Retry-After"]) <= remaining + 1
        assert "計画停止中のため" in text(response) and "予約の内容は変わっていません" in text(response)
    assert Hold.objects.get(card=issued.card).slot.starts_at == first.starts_at
    assert not Booking.objects.filter(card=issued.card).exists()


def test_a_cancellation_is_refused_and_the_booking_stays(browser: Client, issued: IssuedCard) -> None:
    booking = do_book(
        issued.card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at
    )
    make_stop(None, kind=PlannedStop.Kind.EMERGENCY)
    assert "予約" in text(browser.get("/mypage/"))
    response = browser.post("/cancel/")
    assert response.status_code == 503 and "緊急停止中のため" in text(response)
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_api_writes_are_refused_with_planned_stop_and_the_end_time(issued: IssuedCard) -> None:
    api = Api(KYOTO_HOST)
    assert api.login(issued).status_code == 201  # signing in is not a booking write
    free = factories.next_free_slot()
    stop = make_stop(None)
    body = {"location": factories.place().pk, "service": "card_issuance", "start": free.starts_at.isoformat()}
    response = api.send("post", "/api/v1/citizen/booking/", body)
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    answer = response.json()
    assert answer["code"] == "planned_stop" and answer["message"]
    assert dt.datetime.fromisoformat(answer["ends_at"]) == stop.ends_at
    assert answer["ends_at"].endswith("+09:00")
    assert not Booking.objects.filter(card=issued.card).exists()
    assert api.get("/api/v1/citizen/booking/").status_code == 404  # reads still answer
    assert api.send("delete", "/api/v1/citizen/booking/").status_code == 503


def test_staff_and_the_call_center_are_not_blocked(operator: Client) -> None:
    card = factories.issue_card().card
    make_stop(None)
    operator.post(
        "/staff/callcenter/", {"reservation_number": card.reservation_number, "birth_date": "1950-04-01"}
    )
    free = factories.next_free_slot()
    day = free.starts_at.date()
    held = operator.post(
        f"/staff/caller/book/card_issuance/{factories.place().pk}/{day:%Y-%m-%d}/",
        {"start": free.starts_at.isoformat()},
    )
    assert held.status_code == 302 and held["Location"] == "/staff/caller/details/"
    operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
    operator.post("/staff/caller/confirm/")
    assert Booking.objects.get(card=card).channel == "phone"


def test_a_stop_that_keeps_the_site_up_refuses_nothing(browser: Client, issued: IssuedCard) -> None:
    make_stop(None, site_down=False)
    free = factories.next_free_slot()
    place = factories.place().pk
    held = browser.post(
        f"/book/card_issuance/{place}/{free.starts_at.date():%Y-%m-%d}/",
        {"start": free.starts_at.isoformat()},
    )
    assert held.status_code == 302 and held["Location"] == "/details/"
    assert "この間もこのサイトは使えます" in text(browser.get("/details/"))


def test_a_stop_of_mihon_does_not_touch_kyoto(tenants: Tenants, browser: Client, issued: IssuedCard) -> None:
    make_stop(tenants.mihon, reason="見本市だけの停止")
    free = factories.next_free_slot()
    held = browser.post(
        f"/book/card_issuance/{factories.place().pk}/{free.starts_at.date():%Y-%m-%d}/",
        {"start": free.starts_at.isoformat()},
    )
    assert held.status_code == 302 and Hold.objects.filter(card=issued.card).exists()
    assert "見本市だけの停止" not in text(browser.get("/details/"))
    refused = Client(HTTP_HOST=MIHON_HOST).post("/confirm/")
    assert refused.status_code == 503 and "見本市だけの停止" in text(refused)


def test_a_stop_for_all_municipalities_applies_to_both(tenants: Tenants, issued: IssuedCard) -> None:
    make_stop(None)
    for host in (KYOTO_HOST, MIHON_HOST):
        assert Client(HTTP_HOST=host).post("/confirm/").status_code == 503, host
        assert "システム更新のため" in text(Client(HTTP_HOST=host).get("/")), host
    api = Api(KYOTO_HOST)
    api.login(issued)
    assert api.send("patch", "/api/v1/citizen/booking/", {}).json()["code"] == "planned_stop"
