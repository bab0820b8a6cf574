"""The municipality's own texts in the page's language, and the language a booking records (issue 15): the
English version on an English page, the Japanese one marked lang="ja" where there is none; web, API and call
center bookings remember the language the person used."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from booking.engine.queries import booking_rules
from booking.engine.services import IssuedCard, do_book
from booking.models import Booking
from tests import factories
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


def browser(language: str = "ja") -> Client:
    client = Client(HTTP_HOST=KYOTO_HOST)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def set_texts(**texts: str) -> None:
    rules = booking_rules()
    for name, value in texts.items():
        setattr(rules, name, value)
    rules.save()


def log_in(client: Client, issued: IssuedCard) -> None:
    response = client.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    assert response.status_code == 302


def booked(issued: IssuedCard) -> Booking:
    start = factories.next_free_slot(after_days=7).starts_at
    return do_book(issued.card, factories.place(), factories.card_issuance(), start)


@pytest.mark.usefixtures("kyoto")
def test_the_top_page_shows_the_english_text_or_the_japanese_one_marked() -> None:
    set_texts(text_top="ようこそ。窓口は混み合います。", text_top_en="Welcome. The counters are busy.")
    assert "Welcome. The counters are busy." in browser("en").get("/").content.decode()
    japanese = browser("ja").get("/").content.decode()
    assert "ようこそ。窓口は混み合います。" in japanese and "Welcome" not in japanese

    set_texts(text_top_en="")
    page = browser("en").get("/").content.decode()
    assert '<p class="pre" lang="ja">ようこそ。窓口は混み合います。</p>' in page
    assert (
        'lang="ja">ようこそ' not in browser("ja").get("/").content.decode()
    )  # a Japanese page needs no mark


@pytest.mark.usefixtures("kyoto")
def test_the_done_page_and_mypage_show_what_to_bring_in_the_pages_language() -> None:
    set_texts(
        text_bring="はがきと本人確認書類",
        text_bring_en="The postcard and a photo ID",
        text_done="当日は10分前にお越しください。",
        text_done_en="Please come 10 minutes early.",
    )
    issued = factories.issue_card()
    booked(issued)
    english = browser("en")
    log_in(english, issued)
    done = english.get("/done/").content.decode()
    assert '<p class="pre">The postcard and a photo ID</p>' in done
    assert '<p class="pre">Please come 10 minutes early.</p>' in done
    assert "はがきと本人確認書類" not in done and "10分前" not in done
    assert "The postcard and a photo ID" in english.get("/mypage/").content.decode()

    set_texts(text_bring_en="", text_done_en="")
    done = english.get("/done/").content.decode()
    assert '<p class="pre" lang="ja">はがきと本人確認書類</p>' in done
    assert '<p class="pre" lang="ja">当日は10分前にお越しください。</p>' in done
    assert '<p class="pre" lang="ja">はがきと本人確認書類</p>' in english.get("/mypage/").content.decode()

    japanese = browser("ja")
    log_in(japanese, issued)
    assert '<p class="pre">はがきと本人確認書類</p>' in japanese.get("/done/").content.decode()


def _book_on_the_web(client: Client) -> Any:
    slot = factories.next_free_slot(after_days=7)
    day = slot.starts_at.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    place = factories.place().pk
    held = client.post(f"/book/card_issuance/{place}/{day:%Y-%m-%d}/", {"start": slot.starts_at.isoformat()})
    assert held["Location"] == "/details/"
    assert client.post("/details/", {"phone": "", "email": "p@example.jp"})["Location"] == "/confirm/"
    return client.post("/confirm/")


@pytest.mark.usefixtures("kyoto", "eager_celery")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_web_booking_records_the_pages_language(
    language: str, django_capture_on_commit_callbacks: Any
) -> None:
    issued = factories.issue_card()
    client = browser(language)
    log_in(client, issued)
    with django_capture_on_commit_callbacks(execute=True):
        assert _book_on_the_web(client)["Location"] == "/done/"
    assert Booking.objects.get(card=issued.card).language == language


@pytest.mark.usefixtures("kyoto")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_api_booking_records_the_requests_language(language: str) -> None:
    issued = factories.issue_card()
    client = browser(language)  # the API follows the site's language choice (the language cookie)
    session = client.post(
        "/api/v1/citizen/sessions/",
        {"reservation_number": issued.card.reservation_number, "password": issued.password},
        content_type="application/json",
    )
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {session.json()['token']}"}
    start = factories.next_free_slot(after_days=7).starts_at
    body = {"location": factories.place().pk, "service": "card_issuance", "start": start.isoformat()}
    created = client.post("/api/v1/citizen/booking/", body, content_type="application/json", **auth)
    assert created.status_code == 201
    assert Booking.objects.get(pk=created.json()["id"]).language == language


@pytest.mark.usefixtures("kyoto")
@pytest.mark.parametrize(("chosen", "recorded"), [({}, "ja"), ({"language": "en"}, "en")])
def test_the_call_center_books_in_japanese_unless_the_operator_picks_english(
    chosen: dict[str, str], recorded: str
) -> None:
    make_staff("op1", "operator")
    operator = sign_in("op1")
    card = factories.issue_card("ヤマダ タロウ").card
    identified = operator.post(
        "/staff/callcenter/",
        {"reservation_number": card.reservation_number, "birth_date": "1950-04-01", **chosen},
    )
    assert identified["Location"] == "/staff/caller/mypage/"
    slot = factories.next_free_slot(after_days=7)
    place = factories.place().pk
    operator.post(
        f"/staff/caller/book/card_issuance/{place}/{slot.starts_at.date():%Y-%m-%d}/",
        {"start": slot.starts_at.isoformat()},
    )
    operator.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
    operator.post("/staff/caller/confirm/")
    booking = Booking.objects.get(card=card, status="confirmed")
    assert (booking.channel, booking.language) == ("phone", recorded)


@pytest.mark.usefixtures("kyoto")
def test_an_unknown_language_from_the_operator_is_refused_and_identifies_nobody() -> None:
    make_staff("op1", "operator")
    operator = sign_in("op1")
    card = factories.issue_card("ヤマダ タロウ").card
    response = operator.post(
        "/staff/callcenter/",
        {"reservation_number": card.reservation_number, "birth_date": "1950-04-01", "language": "fr"},
    )
    assert response.status_code == 400
    assert operator.get("/staff/caller/mypage/")["Location"] == "/staff/callcenter/"
