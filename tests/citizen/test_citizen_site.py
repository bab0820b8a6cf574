"""The citizen's web flow, walked as a person would: log in, choose, hold, confirm, change, cancel."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from booking.access import throttle
from booking.engine.queries import booking_rules
from booking.engine.services import IssuedCard
from booking.models import Booking, FieldRequirement, Hold
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(kyoto: None) -> Client:
    return Client(HTTP_HOST=KYOTO_HOST)


@pytest.fixture
def issued(kyoto: None) -> IssuedCard:
    return factories.issue_card()


def text(response: Any) -> str:
    return response.content.decode()


def log_in(browser: Client, issued: IssuedCard) -> Any:
    return browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )


def walk_to_hold(browser: Client, start: dt.datetime) -> Any:
    service = text(browser.get("/book/"))
    assert "マイナンバーカードの交付" in service
    place = factories.place()
    places = text(browser.get("/book/card_issuance/"))
    assert place.name in places
    day = start.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    calendar = text(browser.get(f"/book/card_issuance/{place.pk}/", {"month": f"{day:%Y-%m}"}))
    assert f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/" in calendar
    times = text(browser.get(f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/"))
    assert start.isoformat() in times
    return browser.post(f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/", {"start": start.isoformat()})


def test_top_page_leads_to_login(browser: Client) -> None:
    top = text(browser.get("/"))
    assert 'href="/login/"' in top


def test_pages_need_login(browser: Client) -> None:
    for path in ("/mypage/", "/book/", "/details/", "/confirm/", "/done/", "/cancel/"):
        response = browser.get(path)
        assert response.status_code == 302 and response["Location"] == "/login/"


def test_book_from_start_to_finish_with_confirmation_mail(
    browser: Client, issued: IssuedCard, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    assert log_in(browser, issued)["Location"] == "/mypage/"
    assert "現在、予約はありません" in text(browser.get("/mypage/"))
    start = factories.next_free_slot().starts_at

    held = walk_to_hold(browser, start)
    assert held["Location"] == "/details/"
    assert Hold.objects.get(card=issued.card).slot.starts_at == start
    details = text(browser.get("/details/"))
    assert "まで有効です" in details and "時間を延長する" in details and 'autocomplete="email"' in details

    assert (
        browser.post("/details/", {"phone": "075-222-3111", "email": "taro@example.jp"})["Location"]
        == "/confirm/"
    )
    confirm = text(browser.get("/confirm/"))
    # The phone is shown grouped (stored as digits).
    assert "この内容で予約を確定する" in confirm and "075-222-3111" in confirm

    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post("/confirm/", follow=True)
    page = text(done)
    assert "予約が完了しました" in page and "持ち物" in page and "変更・取消のしかた" in page
    booking = Booking.objects.get(card=issued.card, status="confirmed")
    assert booking.slot.starts_at == start and booking.contact_email == "taro@example.jp"
    assert not Hold.objects.filter(card=issued.card).exists()
    assert booking.slot.taken == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["taro@example.jp"]
    assert factories.place().name in mail.outbox[0].body
    mine = text(browser.get("/mypage/"))  # where the reminders go, beside the phone
    assert "075-222-3111" in mine and "<dt>メールアドレス</dt><dd>taro@example.jp</dd>" in mine


def test_change_moves_the_booking_and_cancel_frees_it(browser: Client, issued: IssuedCard) -> None:
    first, second = factories.next_free_slot_list(2)
    log_in(browser, issued)
    walk_to_hold(browser, first.starts_at)
    browser.post("/details/", {"phone": "", "email": ""})
    browser.post("/confirm/")

    mypage = text(browser.get("/mypage/"))
    assert "日時・場所を変更する" in mypage and "予約を取り消す" in mypage
    walk_to_hold(browser, second.starts_at)
    browser.post("/details/", {"phone": "", "email": ""})
    confirm = text(browser.get("/confirm/"))
    assert "変更前" in confirm and "変更後" in confirm
    browser.post("/confirm/")
    booking = Booking.objects.get(card=issued.card, status="confirmed")
    assert booking.slot.starts_at == second.starts_at and booking.changed_at is not None

    assert "予約を取り消しますか" in text(browser.get("/cancel/"))
    after = text(browser.post("/cancel/", follow=True))
    assert "予約を取り消しました" in after
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"


def test_wrong_details_get_one_message_for_unknown_and_wrong(browser: Client, issued: IssuedCard) -> None:
    wrong = browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": "NOPE"}
    )
    unknown = browser.post("/login/", {"reservation_number": "9999-9999-9999", "password": issued.password})
    message = "この予約番号とパスワードでは予約できません"
    assert wrong.status_code == unknown.status_code == 400
    assert message in text(wrong) and message in text(unknown)


def test_repeated_failures_are_slowed_and_the_page_says_so(browser: Client, issued: IssuedCard) -> None:
    for _ in range(throttle.SLOW_AFTER):
        browser.post("/login/", {"reservation_number": issued.card.reservation_number, "password": "NOPE"})
    refused = log_in(browser, issued)
    assert refused.status_code == 400
    assert "しばらく受け付けを停止しています" in text(refused)
    assert re.search(r"\d+(分|秒)", text(refused))


def test_login_rotates_the_session_id(browser: Client, issued: IssuedCard) -> None:
    browser.get("/login/")
    browser.session.save()
    before = browser.cookies["sessionid"].value if "sessionid" in browser.cookies else ""
    log_in(browser, issued)
    assert browser.cookies["sessionid"].value != before


def test_a_full_time_is_refused_with_a_clear_message(browser: Client, issued: IssuedCard) -> None:
    slot = factories.next_free_slot()
    from booking.engine.services import do_book

    log_in(browser, issued)
    day = slot.starts_at.date()
    page_before = text(browser.get(f"/book/card_issuance/{factories.place().pk}/{day:%Y-%m-%d}/"))
    assert slot.starts_at.isoformat() in page_before
    for card in factories.issue_cards(slot.capacity):
        do_book(card, factories.place(), factories.card_issuance(), slot.starts_at)
    refused = browser.post(
        f"/book/card_issuance/{factories.place().pk}/{day:%Y-%m-%d}/", {"start": slot.starts_at.isoformat()}
    )
    assert refused.status_code == 409
    assert "満員になりました" in text(refused)
    assert slot.starts_at.isoformat() not in text(refused)


def test_releasing_the_hold_frees_the_place(browser: Client, issued: IssuedCard) -> None:
    slot = factories.next_free_slot()
    log_in(browser, issued)
    walk_to_hold(browser, slot.starts_at)
    assert Hold.objects.filter(card=issued.card).exists()
    browser.post("/release/")
    assert not Hold.objects.filter(card=issued.card).exists()


def test_an_expired_hold_sends_the_person_back_to_choose(browser: Client, issued: IssuedCard) -> None:
    slot = factories.next_free_slot()
    log_in(browser, issued)
    walk_to_hold(browser, slot.starts_at)
    Hold.objects.filter(card=issued.card).update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    response = browser.get("/details/", follow=True)
    assert "期限が切れました" in text(response)


def test_contact_fields_follow_the_tenant_settings(browser: Client, issued: IssuedCard) -> None:
    rules = booking_rules()
    rules.phone_requirement = FieldRequirement.REQUIRED
    rules.email_requirement = FieldRequirement.HIDDEN
    rules.save()
    log_in(browser, issued)
    walk_to_hold(browser, factories.next_free_slot().starts_at)
    form = text(browser.get("/details/"))
    assert 'name="phone"' in form and 'name="email"' not in form
    missing = browser.post("/details/", {"phone": ""})
    assert missing.status_code == 200 and "入力内容を確認してください" in text(missing)
    bad = browser.post("/details/", {"phone": "12345"})
    assert "0から始まる10桁または11桁" in text(bad)
    assert browser.post("/details/", {"phone": "０９０－１２３４－５６７８"})["Location"] == "/confirm/"


def test_tenant_texts_are_shown_escaped(browser: Client, issued: IssuedCard) -> None:
    rules = booking_rules()
    rules.text_top = "<script>alert(1)</script>お知らせ"
    rules.save()
    top = text(browser.get("/"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;お知らせ" in top and "<script>alert" not in top


def test_a_kyoto_login_does_not_open_another_tenant(
    tenants: Tenants, browser: Client, issued: IssuedCard
) -> None:
    log_in(browser, issued)
    other = Client(HTTP_HOST=MIHON_HOST)
    other.cookies = browser.cookies
    assert other.get("/mypage/")["Location"] == "/login/"


def test_bad_day_and_month_in_the_address_are_handled(browser: Client, issued: IssuedCard) -> None:
    log_in(browser, issued)
    place = factories.place().pk
    assert browser.get(f"/book/card_issuance/{place}/2026-02-31/").status_code == 404
    assert browser.get(f"/book/card_issuance/{place}/", {"month": "garbage"}).status_code == 200
    assert browser.get(f"/book/card_issuance/{place}/", {"month": "1999-01"}).status_code == 200
    assert browser.get("/book/ecert_renewal/").status_code == 404  # phone-only service
    assert browser.get("/book/card_issuance/999999/").status_code == 404
    bad_post = browser.post(f"/book/card_issuance/{place}/2026-12-01/", {"start": "not a time"})
    assert bad_post.status_code == 409 and "時間を選んでください" in text(bad_post)
