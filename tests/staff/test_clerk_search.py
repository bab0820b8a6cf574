"""Issue 15, the clerks' searches: the bookings list finds a name in kanji (variant forms, widths, spaces),
kana, a reservation number and a phone number; the card list has the same search; a booking's page links to
its card and shows the phone grouped; the as-you-type script is a static file over a plain GET form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from booking.engine.services import do_book
from booking.models import Booking, Card
from tests import factories
from tests.conftest import MIHON_HOST
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(kyoto: None) -> Client:
    make_staff("counter1", "counter")
    return sign_in("counter1")


def book(name: str, kana: str, index: int = 0, phone: str = "") -> Booking:
    card = factories.issue_card(kana).card
    Card.objects.filter(pk=card.pk).update(name=name)
    slot = factories.next_free_slot_list(index + 1)[index]
    return do_book(
        Card.objects.get(pk=card.pk),
        factories.place(),
        factories.card_issuance(),
        slot.starts_at,
        contact_phone=phone,
    )


def bookings(client: Client, q: str) -> str:
    response = client.get("/staff/bookings/", {"q": q})
    assert response.status_code == 200
    return response.content.decode()


def cards(client: Client, **params: Any) -> str:
    response = client.get("/staff/cards/list/", params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("typed", ["高橋", "髙橋", "高橋一郎", "高橋　一郎", "ﾀｶﾊｼ", "たかはし", "一郎"])
def test_the_bookings_list_finds_a_kanji_name_as_clerks_type_it(clerk: Client, typed: str) -> None:
    found = book("髙橋 一郎", "タカハシ イチロウ")
    other = book("山田 花子", "ヤマダ ハナコ", 1)
    page = bookings(clerk, typed)
    assert factories.card_of(found).reservation_number in page
    assert factories.card_of(other).reservation_number not in page


@pytest.mark.parametrize(
    "typed", ["タカハシイチロウ", "たかはしいち", "ﾀｶﾊｼｲﾁﾛｳ", "タカハシ イチ", "タカハシ"]
)
def test_a_kana_name_is_found_with_or_without_its_space(clerk: Client, typed: str) -> None:
    """Registers space family and given names ("タカハシ イチロウ"); clerks often type them run together."""
    found = book("髙橋 一郎", "タカハシ イチロウ")
    other = book("高橋 二郎", "タカハシ ジロウ", 1)
    # run together it would also be "タカハシンジ...": the spaced forms are tried only when the typed
    # prefix itself finds nobody, so a surname typed alone finds those it names and no one else
    near = book("高羽 信二", "タカハ シンジ", 2)
    page = bookings(clerk, typed)
    assert factories.card_of(found).reservation_number in page
    assert (factories.card_of(other).reservation_number in page) == (typed == "タカハシ")
    assert factories.card_of(near).reservation_number not in page
    assert factories.card_of(found).application_id in cards(clerk, q=typed)
    assert factories.card_of(near).application_id not in cards(clerk, q=typed)


def test_variants_fold_both_ways(clerk: Client) -> None:
    found = book("山崎 次郎", "ヤマザキ ジロウ")
    assert factories.card_of(found).reservation_number in bookings(clerk, "山﨑")
    assert factories.card_of(found).reservation_number in bookings(clerk, "山崎　次")
    assert "条件に合う予約はありません" in bookings(clerk, "斎藤")


def test_the_bookings_list_finds_a_phone_number_typed_any_way(clerk: Client) -> None:
    found = book("京都 太郎", "キョウト タロウ", phone="0751234567")
    other = book("京都 花子", "キョウト ハナコ", 1, phone="09012345678")
    for typed in ["075-123-4567", "０７５１２３４５６７", "(075) 123-4567"]:
        page = bookings(clerk, typed)
        assert factories.card_of(found).reservation_number in page
        assert factories.card_of(other).reservation_number not in page


def test_the_booking_page_links_to_its_card_and_groups_the_phone(clerk: Client) -> None:
    booking = book("京都 太郎", "キョウト タロウ", phone="09012345678")
    page = clerk.get(f"/staff/bookings/{booking.pk}/").content.decode()
    assert f'href="/staff/cards/{booking.card_id}/"' in page
    assert "090-1234-5678" in page and "09012345678" not in page
    assert clerk.get(f"/staff/cards/{booking.card_id}/").status_code == 200


def test_the_card_list_searches_names_numbers_and_keeps_the_state_filter(clerk: Client) -> None:
    takahashi = factories.issue_card("タカハシ イチロウ").card
    Card.objects.filter(pk=takahashi.pk).update(name="髙橋 一郎")
    yamada = factories.issue_card("ヤマダ ハナコ").card
    for typed in ["高橋", "たかはし", takahashi.reservation_number, takahashi.application_id]:
        page = cards(clerk, q=typed)
        assert takahashi.application_id in page and yamada.application_id not in page
    assert "髙橋 一郎" in cards(clerk, q="高橋")
    assert takahashi.application_id not in cards(clerk, q="高橋", state="handed_over")
    assert "該当するカードはありません" in cards(clerk, q="存在しない名前")
    assert clerk.get("/staff/cards/list/", {"q": "あ" * 101}).status_code == 400
    unknown = clerk.get("/staff/cards/list/", {"state": "zzz"})  # not every card, silently (a user's walk)
    assert unknown.status_code == 400 and "状態は一覧から選んでください" in unknown.content.decode()
    assert takahashi.application_id not in unknown.content.decode()


def test_the_card_list_pages_keep_the_search(clerk: Client) -> None:
    for _ in range(51):
        card = factories.issue_card("サトウ タロウ").card
        Card.objects.filter(pk=card.pk).update(name="佐藤 太郎")
    page = cards(clerk, q="佐藤")
    assert "51枚" in page and "?state=&amp;q=%E4%BD%90%E8%97%A4&amp;page=2" in page


def test_as_you_type_is_a_static_script_over_a_plain_form(clerk: Client) -> None:
    for page in (bookings(clerk, ""), cards(clerk)):
        assert "data-live-search" in page and "data-live-swap" in page and "data-live-count" in page
        assert 'src="/static/madoguchi/live-search.js"' in page and "<script>" not in page
    from django.contrib.staticfiles import finders

    script = finders.find("madoguchi/live-search.js")
    assert script is not None
    text = Path(script).read_text(encoding="utf-8")
    assert "aria-live" in text and "polite" in text and "isComposing" in text


def test_another_tenant_sees_nothing_of_this_ones_cards(clerk: Client, tenants: Any) -> None:
    card = factories.issue_card("タカハシ イチロウ").card
    Card.objects.filter(pk=card.pk).update(name="髙橋 一郎")
    assert card.application_id in cards(clerk, q="高橋")
    with schema_context("mihon"):
        make_staff("mihon1", "counter")
    other = sign_in("mihon1", host=MIHON_HOST)
    for url in ("/staff/cards/list/", "/staff/bookings/"):
        response = other.get(url, {"q": "高橋"})
        assert response.status_code == 200 and "髙橋" not in response.content.decode()
