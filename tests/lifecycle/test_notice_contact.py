"""The notice letter names the call center's number and hours (issue 14 §5): "お問い合わせ: 京都市
コールセンター 075-123-4567（平日 9:00〜17:00）"; with no number set, the municipality only."""

from __future__ import annotations

from pathlib import Path

from booking.lifecycle import notices
from booking.models import BookingSettings
from booking.rules.card_states import CardState
from tests import factories
from tests.lifecycle.test_notice_letters import ACTOR, kyoto, page_texts, stored

__all__ = ["kyoto"]  # the fixture, shared with the notice-letter tests


def test_the_letter_says_the_call_centers_number_and_hours(kyoto: Path) -> None:
    BookingSettings.objects.filter(singleton=True).update(
        callcenter_phone="0751234567", callcenter_hours="平日 9:00〜17:00"
    )
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    text = "".join(page_texts(stored(kyoto, run.pdf_key)))
    assert "お問い合わせ:京都市コールセンター075-123-4567（平日9:00〜17:00）" in text


def test_without_a_number_the_letter_names_the_municipality(kyoto: Path) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    text = "".join(page_texts(stored(kyoto, run.pdf_key)))
    assert "お問い合わせ:京都市" in text and "コールセンター" not in text
