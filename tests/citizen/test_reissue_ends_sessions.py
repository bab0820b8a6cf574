"""A reissued password ends every web session and API token of the card, at once (issue 13, finding 6: the
API token was revoked, the web session was not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from booking.audit import oplog
from booking.citizen.login import card_for_token, do_create_citizen_token
from booking.engine.services import IssuedCard, do_reissue_credentials
from booking.lifecycle import notices
from booking.rules.card_states import CardState
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db


def signed_in_browser(issued: IssuedCard) -> Client:
    browser = Client(HTTP_HOST=KYOTO_HOST)
    response = browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    assert response["Location"] == "/mypage/"
    assert browser.get("/mypage/").status_code == 200
    return browser


def ended(browser: Client) -> bool:
    response = browser.get("/mypage/")
    return response.status_code == 302 and response["Location"] == "/login/"


def text(response: Any) -> str:
    return response.content.decode()


def test_a_reissue_ends_every_web_session_and_token_of_the_card(kyoto: None) -> None:
    issued = factories.issue_card()
    at_home, on_the_phone = signed_in_browser(issued), signed_in_browser(issued)
    token, _expires = do_create_citizen_token(issued.card)
    bystander = factories.issue_card()
    other = signed_in_browser(bystander)

    new = do_reissue_credentials(issued.card)

    assert ended(at_home) and ended(on_the_phone)
    assert card_for_token(token) is None
    assert other.get("/mypage/").status_code == 200  # another card's session is untouched
    # The new password opens a new session.
    assert signed_in_browser(IssuedCard(card=issued.card, password=new.password))


def test_the_ended_session_says_why_and_keeps_nothing(kyoto: None) -> None:
    issued = factories.issue_card()
    browser = signed_in_browser(issued)
    session_key = browser.session.session_key
    do_reissue_credentials(issued.card)
    response = browser.get("/mypage/", follow=True)
    assert "パスワードが新しくなったため、ログアウトしました。" in text(response)
    assert browser.session.session_key != session_key  # flushed: what it held (contact details) is gone
    assert "citizen_card" not in browser.session


def test_a_printed_letter_ends_the_sessions_of_the_old_password(
    kyoto: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path / "exports"))  # the letters' files, thrown away
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    # Printing a notice letter gives the card a new password by a bulk UPDATE, not by the reissue service:
    # the session ends all the same, because it is tied to the password itself.
    issued = factories.issue_card(state=CardState.SET_UP)
    browser = signed_in_browser(issued)
    notices.do_print_notices([issued.card.pk], actor=oplog.Actor(None, "admin1", "127.0.0.1"))
    assert ended(browser)


def test_a_session_without_the_password_proof_is_not_accepted(kyoto: None) -> None:
    # A session naming a card but not proving the password it was opened with (one opened before this
    # check, or a forged one) opens nothing.
    issued = factories.issue_card()
    browser = Client(HTTP_HOST=KYOTO_HOST)
    session = browser.session
    session["citizen_card"] = issued.card.pk
    session.save()
    assert session.session_key is not None
    browser.cookies["sessionid"] = session.session_key
    assert ended(browser)
