"""Structural accessibility of every citizen page (SO-19, WCAG 2.1 AA): language, one h1, labelled controls,
skip link, no inline script or style (the CSP forbids them), and every page reachable without JavaScript."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from booking.engine.services import IssuedCard
from booking.models import Place
from tests import factories
from tests.conftest import KYOTO_HOST

pytestmark = pytest.mark.django_db


class PageStructure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.h1 = 0
        self.labels: set[str] = set()
        self.controls: list[dict[str, str]] = []
        self.links_to: list[str] = []
        self.inline: list[str] = []
        self.buttons_without_text = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "h1":
            self.h1 += 1
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in {"input", "select", "textarea"} and a.get("type") not in {"hidden", "submit"}:
            self.controls.append(a)
        if tag == "a" and a.get("href"):
            self.links_to.append(a["href"])
        if tag == "script" and not a.get("src"):
            self.inline.append("script")
        if "style" in a or any(k.startswith("on") for k in a):
            self.inline.append(f"{tag} attribute")
        if tag == "button":
            self._button = [a.get("aria-label", "")]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            if not "".join(self._button):
                self.buttons_without_text += 1
            self._button = None


def check(html: str) -> PageStructure:
    page = PageStructure()
    page.feed(html)
    assert page.lang in {"ja", "en"}
    assert page.h1 == 1, "one h1 a page"
    assert "#main" in page.links_to, "skip link"
    for control in page.controls:
        assert control.get("id") in page.labels or control.get("aria-label"), f"unlabelled control {control}"
    assert not page.inline, f"inline script/style: {page.inline}"
    assert page.buttons_without_text == 0
    return page


def test_every_step_of_the_flow_is_structurally_accessible(kyoto: None) -> None:
    issued: IssuedCard = factories.issue_card()
    browser = Client(HTTP_HOST=KYOTO_HOST)
    check(browser.get("/").content.decode())
    check(browser.get("/login/").content.decode())
    check(browser.post("/login/", {"reservation_number": "1", "password": "x"}).content.decode())
    browser.post(
        "/login/", {"reservation_number": issued.card.reservation_number, "password": issued.password}
    )
    slot = factories.next_free_slot()
    place = factories.place()
    day = slot.starts_at.date()
    for path in (
        "/mypage/",
        "/book/",
        "/book/card_issuance/",
        f"/book/card_issuance/{place.pk}/",
        f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/",
    ):
        response = browser.get(path, {"month": f"{day:%Y-%m}"} if path.endswith(f"{place.pk}/") else {})
        assert response.status_code == 200
        check(response.content.decode())
    browser.post(f"/book/card_issuance/{place.pk}/{day:%Y-%m-%d}/", {"start": slot.starts_at.isoformat()})
    check(browser.get("/details/").content.decode())
    check(browser.post("/details/", {"phone": "12", "email": "not-an-address"}).content.decode())
    browser.post("/details/", {"phone": "", "email": ""})
    check(browser.get("/confirm/").content.decode())
    browser.post("/confirm/")
    check(browser.get("/done/").content.decode())
    check(browser.get("/cancel/").content.decode())
    browser.post("/i18n/setlang/", {"language": "en", "next": "/mypage/"})
    english = browser.get("/mypage/").content.decode()
    assert check(english).lang == "en"


def test_thirty_and_more_places_are_offered_and_bookable(kyoto: None) -> None:
    """AD-07: at least 30 places. The preset's 21 and 15 more: all listed, the last one bookable."""
    template = Place.objects.get(code="kita")
    for number in range(15):
        place = Place.objects.create(
            code=f"extra-{number}",
            name=f"臨時窓口{number}",
            address="京都市",
            kind=Place.Kind.OTHER,
            display_order=100 + number,
        )
        for pattern in template.opening_patterns.all():
            pattern.pk = None
            pattern.place = place
            pattern.save()
    listed = Client(HTTP_HOST=KYOTO_HOST).get("/api/v1/locations/").json()
    assert len([p for p in listed if "card_issuance" in p["services"]]) >= 30
    slot = factories.next_free_slot(place_code="extra-14")
    from booking.engine.services import do_book

    booking = do_book(
        factories.issue_card().card,
        Place.objects.get(code="extra-14"),
        factories.card_issuance(),
        slot.starts_at,
    )
    assert booking.slot.place.code == "extra-14"
