"""A booking made with the keyboard alone (WCAG 2.1.1, 2.4.7): Tab to move, Enter on links and buttons, Space
on a button, typing into fields; from the top page to the done page, every focused element visibly marked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.seed import Seed

pytestmark = pytest.mark.django_db
MAX_TABS = 80

# Focus is visible when the focused element draws an outline or a ring (site.css: outline plus box-shadow).
FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'nothing focused';
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== 'none';
  return outline || ring ? '' : 'no visible focus on ' + el.outerHTML.slice(0, 120);
}"""


def tab_to(page: Any, selector: str) -> None:
    """Press Tab until the focused element matches `selector`, checking that each stop shows its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        problem = page.evaluate(FOCUS_SHOWN)
        assert not problem, f"{page.url}: {problem}"
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{page.url}: {selector} not reached with {MAX_TABS} presses of Tab")


def press_and_wait(page: Any, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_a_booking_with_the_keyboard_only(chromium: Any, base_url: str, seeded: Seed) -> None:
    assert seeded.keyboard is not None
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(base_url + "/")
        tab_to(page, "a[href='/login/']")
        press_and_wait(page, "Enter")
        tab_to(page, "input[name=reservation_number]")
        page.keyboard.type(seeded.keyboard.card.reservation_number)
        tab_to(page, "input[name=password]")
        page.keyboard.type(seeded.keyboard.password)
        tab_to(page, "form:has(input[name=password]) [type=submit]")
        press_and_wait(page, "Enter")
        assert page.url.endswith("/mypage/")
        tab_to(page, "main a[href='/book/']")
        press_and_wait(page, "Enter")
        tab_to(page, "main a[href='/book/card_issuance/']")
        press_and_wait(page, "Enter")
        tab_to(page, f"main a[href='/book/card_issuance/{seeded.ids['place']}/']")
        press_and_wait(page, "Enter")
        tab_to(page, f"main a[href='/book/card_issuance/{seeded.ids['place']}/{seeded.walk_day:%Y-%m-%d}/']")
        press_and_wait(page, "Enter")
        tab_to(page, "button[name=start]")
        press_and_wait(page, "Space")
        assert page.url.endswith("/details/")
        tab_to(page, "input[name=phone]")
        page.keyboard.type("075-222-3111")
        tab_to(page, "form:has(input[name=phone]) [type=submit]:not([name=extend])")
        press_and_wait(page, "Enter")
        assert page.url.endswith("/confirm/")
        tab_to(page, "main form[method=post]:not([action]) [type=submit]")
        press_and_wait(page, "Space")
        assert re.search(r"/done/$", page.url), page.url
        assert page.locator("h1").count() == 1
    finally:
        context.close()
