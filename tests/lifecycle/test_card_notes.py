"""A card's history notes in the page's language (booking.cards.notes): stored in Japanese, shown in English
on an English page (a new user's walk saw "CARDS.csv取込（import_cards）" in the English history)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from booking.cards.moves import do_record_event
from booking.cards.notes import MIGRATED, import_note, shown_note
from booking.lifecycle import notices
from tests import factories
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("note", "japanese", "english"),
    [
        (import_note("CARDS.csv", 12), "CARDS.csvの取込（ジョブ 12）", "Import of CARDS.csv (job 12)"),
        (
            import_note("J-LIS"),
            "J-LISの取込（import_cards コマンド）",
            "Import of J-LIS (import_cards command)",
        ),
        (notices.PRINT_NOTE, "通知書印刷", "Notice letter printed"),
        (notices.REPRINT_NOTE, "通知書再印刷", "Notice letter reprinted"),
        (MIGRATED, "旧システムから移行", "Moved from the previous system"),
        ("来庁なし", "来庁なし", "No-show"),
        ("窓口で本人確認済み", "窓口で本人確認済み", "窓口で本人確認済み"),  # typed by staff: as typed
        ("", "", ""),
    ],
)
def test_a_note_in_the_pages_language(note: str, japanese: str, english: str) -> None:
    with translation.override("ja"):
        assert shown_note(note) == japanese
    with translation.override("en"):
        assert shown_note(note) == english


def test_the_english_card_page_shows_an_import_note_in_english(kyoto: None) -> None:
    card = factories.issue_card().card
    do_record_event(card, actor="clerk", note=import_note("CARDS.csv", 7))
    make_staff("admin1", "administrator")
    client = sign_in("admin1")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/staff/cards/{card.pk}/").content.decode()
    assert "Import of CARDS.csv (job 7)" in page and "取込" not in page
