"""The walk: every page state of the citizen's flow, the operators' version of it and the staff console, in
one language, each checked by axe-core at 360 and 1280 px and for reflow at a 320-px viewport.

Pages are reached as a person reaches them (forms filled and submitted in the browser), so states that
only a POST shows (errors, a held time, a change) are walked too. Each checked page records the URL
pattern it came from, so `test_every_url_is_walked` can tell when a new page escapes the walk.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve

from tests.browser.seed import LONG_EMAIL, Seed, staff_name

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TENANT_URLCONF = "madoguchi.urls_tenant"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_WIDTHS = (360, 1280)
REFLOW_WIDTH = 320
HEIGHT = 800


@dataclass
class Results:
    """What the walk saw: each state checked, every violation and reflow failure, the URL names visited."""

    states: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    reflow: list[str] = field(default_factory=list)
    url_names: set[str] = field(default_factory=set)
    axe_runs: int = 0
    seconds: float = 0.0


def url_name(path: str) -> str:
    match = resolve(path, urlconf=TENANT_URLCONF)
    return f"{match.namespace}:{match.url_name}" if match.namespace else str(match.url_name)


class Walker:
    def __init__(self, page: Any, base_url: str, language: str, results: Results) -> None:
        self.page = page
        self.base_url = base_url
        self.language = language
        self.results = results

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"

    def submit(self, form: str, button: str = "[type=submit]") -> None:
        """Submit `form` (a CSS selector) with its first matching button, and wait for the next page."""
        target = self.page.locator(form).locator(button).first
        if not target.count():
            shown = self.page.inner_text("main")
            raise AssertionError(f"{self.page.url}: no {form} {button} on the page:\n{shown}")
        with self.page.expect_navigation():
            target.click()

    def check(self, state: str) -> None:
        """axe at each width, then the reflow check; every finding names the state, language and width."""
        path = urlsplit(self.page.url).path
        where = f"{state} [{self.language}] {self.page.url}"
        try:
            self.results.url_names.add(url_name(path))
        except Resolver404:
            self.results.violations.append(f"{where}: not a URL of the tenant urlconf")
        self.examine(where)

    def examine(self, where: str) -> None:
        """The page's language, axe at each width and the reflow check (pages of any host)."""
        self.results.states.append(where)
        # The walk in English must really be in English: the page says which language it is in.
        shown = self.page.evaluate("document.documentElement.lang")
        if shown != self.language:
            self.results.violations.append(f"{where}: <html lang={shown!r}>, expected {self.language!r}")
        for width in AXE_WIDTHS:
            self.page.set_viewport_size({"width": width, "height": HEIGHT})
            found = self.page.evaluate(
                "async (tags) => JSON.stringify((await axe.run(document, "
                "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})).violations)",
                AXE_TAGS,
            )
            self.results.axe_runs += 1
            for violation in json.loads(found):
                targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
                self.results.violations.append(
                    f"{where} @{width}px: {violation['id']} ({len(targets)} nodes): {targets[:5]}"
                    f" - {violation['help']}"
                )
        self.page.set_viewport_size({"width": REFLOW_WIDTH, "height": HEIGHT})
        wide = self.page.evaluate("document.documentElement.scrollWidth")
        if wide > REFLOW_WIDTH:
            culprits = self.page.evaluate(WIDEST_ELEMENTS, REFLOW_WIDTH)
            self.results.reflow.append(f"{where}: scrollWidth {wide} > {REFLOW_WIDTH}: {culprits}")


# Which elements stick out past the viewport (for the failure message only).
WIDEST_ELEMENTS = """(limit) => [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > limit + 0.5)
  .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= limit + 0.5)
  .slice(0, 5)
  .map((el) => el.tagName.toLowerCase()
    + (el.className ? '.' + String(el.className).split(' ').join('.') : ''))"""


def citizen_login(walker: Walker, number: str, password: str) -> None:
    walker.page.fill("input[name=reservation_number]", number)
    walker.page.fill("input[name=password]", password)
    walker.submit("form:has(input[name=password])")


def citizen_logout(walker: Walker) -> None:
    walker.submit("form.signout")


def walk_citizen(walker: Walker, seed: Seed) -> None:
    language = walker.language
    walker.goto("/")
    walker.check("top")
    walker.goto("/accessibility/")
    walker.check("accessibility statement")
    walker.goto("/login/")
    walker.check("login")
    card = seed.walkers[language]
    citizen_login(walker, card.card.reservation_number, "wrong-password")
    walker.check("login: wrong password")
    citizen_login(walker, card.card.reservation_number, card.password)
    assert walker.page.url.endswith("/mypage/"), walker.page.inner_text("main")
    walker.check("mypage: no booking")
    place = seed.ids["place"]
    walker.goto("/book/")
    walker.check("service")
    walker.goto("/book/card_issuance/")
    walker.check("place")
    walker.goto(f"/book/card_issuance/{place}/?month={seed.walk_day:%Y-%m}")
    walker.check("day")
    walker.goto(f"/book/card_issuance/{place}/{seed.walk_day:%Y-%m-%d}/")
    walker.check("time")
    walker.submit("form:has(button[name=start])", "button[name=start]")
    walker.check("details")
    walker.page.fill("input[name=phone]", "abc")
    walker.page.fill("input[name=email]", "not-an-address")
    walker.submit("form:has(input[name=phone])")
    walker.check("details: invalid phone and e-mail")
    walker.page.fill("input[name=phone]", "075-222-3111")
    walker.page.fill("input[name=email]", LONG_EMAIL)
    walker.submit("form:has(input[name=phone])")
    walker.check("confirm (long e-mail address)")
    walker.submit("main form[method=post]:not([action])")
    walker.check("done")
    walker.goto("/mypage/")
    walker.check("mypage: a booking")
    walker.goto("/cancel/")
    walker.check("cancel: question")
    walker.submit("main form[method=post]:not([action])")
    walker.check("cancel: done")
    citizen_logout(walker)
    walker.check("top after logout")
    # The change flow, from a card that has a booking.
    booked = seed.booked[language]
    walker.goto("/login/")
    citizen_login(walker, booked.card.reservation_number, booked.password)
    walker.check("mypage: a booking to change")
    walker.goto(f"/book/card_issuance/{place}/{seed.change_day:%Y-%m-%d}/")
    walker.check("time: change")
    walker.submit("form:has(button[name=start])", "button[name=start]")
    walker.check("details: change")
    walker.submit("form:has(input[name=phone])")
    walker.check("confirm: change (before and after)")
    walker.submit("main form[method=post]:not([action])")
    walker.check("done: changed")
    citizen_logout(walker)


def staff_login(walker: Walker, username: str, password: str) -> None:
    walker.page.fill("input[name=username]", username)
    walker.page.fill("input[name=password]", password)
    walker.submit("form:has(input[name=password])")


def walk_caller(walker: Walker, seed: Seed) -> None:
    """The operator's screens: identify a caller, then the citizen's flow under /staff/caller/."""
    walker.goto("/staff/login/")
    staff_login(walker, staff_name("operator"), seed.staff_password)
    walker.check("staff home: operator")
    walker.goto("/staff/callcenter/")
    walker.check("call center")
    walker.page.fill("input[name=reservation_number]", seed.callers[walker.language].reservation_number)
    walker.submit("form:has(input[name=reservation_number])")
    walker.check("call center: caller not identified")
    walker.page.fill("input[name=reservation_number]", seed.callers[walker.language].reservation_number)
    walker.page.fill("input[name=birth_date]", "1950-04-01")
    walker.submit("form:has(input[name=reservation_number])")
    walker.check("caller: mypage")
    place = seed.ids["place"]
    for path, state in (
        ("/staff/caller/book/", "caller: service"),
        ("/staff/caller/book/card_issuance/", "caller: place"),
        (f"/staff/caller/book/card_issuance/{place}/?month={seed.walk_day:%Y-%m}", "caller: day"),
        (f"/staff/caller/book/card_issuance/{place}/{seed.walk_day:%Y-%m-%d}/", "caller: time"),
    ):
        walker.goto(path)
        walker.check(state)
    walker.submit("form:has(button[name=start])", "button[name=start]")
    walker.check("caller: details")
    walker.page.fill("input[name=phone]", "075-000-1111")
    walker.submit("form:has(input[name=phone])")
    walker.check("caller: confirm")
    walker.submit("main form[method=post]:not([action])")
    walker.check("caller: script after booking")
    walker.goto("/staff/caller/cancel/")
    walker.check("caller: cancel question")
    walker.goto("/staff/callcenter/visit/")
    walker.check("call center: phone-only visit")
    walker.goto(f"/staff/callcenter/visit/?{seed.visit_query}")
    walker.check("call center: phone-only visit, free times")
    walker.submit("main form[method=post]:not([action])")
    walker.check("call center: phone-only visit, nothing chosen")
    walker.goto(f"/staff/callcenter/script/{seed.ids['visit']}/")
    walker.check("call center: script of a visit")
    walker.goto(f"/staff/callcenter/visit/{seed.ids['visit']}/cancel/")
    walker.check("call center: cancelling a visit, asked first")
    walker.goto("/staff/caller/login/")
    walker.check("caller: login (leads to the call center)")


# Every GET page of the staff console an administrator sees (the operators' pages are walk_caller's).
def staff_pages(seed: Seed) -> list[tuple[str, str]]:
    ids = seed.ids
    return [
        ("/staff/", "staff home: administrator"),
        ("/staff/password/", "password"),
        ("/staff/totp/", "TOTP"),
        ("/staff/bookings/", "bookings"),
        ("/staff/bookings/?q=%E3%82%B9%E3%82%BA%E3%82%AD", "bookings: search"),
        (f"/staff/bookings/{ids['booking']}/", "booking"),
        ("/staff/users/", "staff users"),
        ("/staff/security/", "security"),
        ("/staff/log/", "operation log"),
        ("/staff/exports/", "exports"),
        ("/staff/settings/", "settings"),
        ("/staff/settings/window/", "settings: window"),
        ("/staff/settings/fields/", "settings: fields"),
        ("/staff/settings/cards/", "settings: cards"),
        ("/staff/settings/texts/", "settings: texts"),
        ("/staff/settings/contact/", "settings: call center contact"),
        ("/staff/settings/services/", "settings: what to bring per service"),
        (f"/staff/transfers/?place=all&day={seed.walk_day.isoformat()}", "transfers: all counters"),
        ("/staff/settings/places/", "settings: places"),
        ("/staff/settings/places/new/", "settings: new place"),
        (f"/staff/settings/places/{ids['place']}/", "settings: place"),
        (f"/staff/settings/places/{ids['place']}/patterns/new/", "settings: new pattern"),
        (f"/staff/settings/patterns/{ids['pattern']}/", "settings: pattern"),
        ("/staff/settings/closed-days/", "settings: closed days"),
        ("/staff/reports/", "daily report"),
        ("/staff/reports/monthly/", "monthly report"),
        ("/staff/availability/", "availability report"),
        ("/staff/cards/", "cards: progress"),
        ("/staff/cards/list/", "cards: list"),
        ("/staff/cards/waiting/", "cards: waiting list"),
        ("/staff/cards/move/", "cards: bulk move"),
        (f"/staff/cards/{ids['card']}/", "card"),
        ("/staff/cards/import/", "card import"),
        (f"/staff/cards/import/{ids['import_job']}/", "card import: failed job"),
        ("/staff/notices/", "notices"),
        (f"/staff/notices/{ids['notice_run']}/", "notice run"),
        ("/staff/transfers/", "transfers"),
        ("/staff/counter/", "counter"),
    ]


def walk_staff(walker: Walker, seed: Seed) -> None:
    # the invited administrator's page (issue 14 §3): the form, a password the rules refuse, a broken link
    walker.goto(seed.invitation)
    walker.check("invitation: set your password")
    walker.page.fill("input[name=new]", "password")
    walker.page.fill("input[name=again]", "password")
    walker.submit("form:has(input[name=new])")
    walker.check("invitation: password refused")
    walker.goto(seed.invitation.rstrip("/") + "x/")
    walker.check("invitation: invalid link")
    walker.goto("/staff/login/")
    walker.check("staff login")
    staff_login(walker, staff_name("administrator"), "wrong-password")
    walker.check("staff login: wrong password")
    for role in ("counter", "viewer"):
        staff_login(walker, staff_name(role), seed.staff_password)
        walker.check(f"staff home: {role}")
        walker.submit("form[action='/staff/logout/']")
    staff_login(walker, staff_name("administrator"), seed.staff_password)
    for path, state in staff_pages(seed):
        walker.goto(path)
        walker.check(state)
    walker.goto("/staff/settings/window/")
    walker.page.fill("input[name=first_days_ahead]", "-5")
    walker.submit("form:has(input[name=first_days_ahead])")
    walker.check("settings: window, invalid")


def _switch_waiting_room(on: bool) -> None:
    """Kyoto's waiting room on (room for one) or off, committed on a connection of its own (the server's
    threads read it), and the gate's cached limits dropped (the server runs in this process)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from console.models import WaitingRoom
    from console.waiting_room import rules
    from tenants.models import Municipality

    def write() -> None:
        try:
            kyoto = Municipality.objects.get(schema_name="kyoto")
            if on:
                WaitingRoom.objects.update_or_create(
                    tenant=kyoto, defaults={"enabled": True, "active_limit": 1, "per_minute": 100}
                )
            else:
                WaitingRoom.objects.filter(tenant=kyoto).delete()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(write).result()
    rules.forget()


def walk_waiting_room(walker: Walker, seed: Seed) -> None:
    """The queue page a resident gets when Kyoto's room is full (issue 12): with and without self-refresh."""
    from django.core.cache import caches

    from console.waiting_room import redis_line

    _switch_waiting_room(True)
    try:
        cache: Any = caches["default"]
        line = redis_line.Line(cache.raw_client(), "kyoto")
        limits = redis_line.Limits(active=1, per_minute=100, idle_minutes=15)
        line.enter(time.time(), limits)  # someone else is inside: the room for one is full
        walker.goto("/")
        assert walker.page.locator("[role=status]").count() == 1, walker.page.inner_text("main")
        walker.check("waiting room: queue page")
        with walker.page.expect_navigation():
            walker.page.click("main a[href^='/waiting-room/auto-refresh/']")
        walker.check("waiting room: queue page, self-refresh off")
    finally:
        _switch_waiting_room(False)


def run_walk(context: Any, base_url: str, seed: Seed, language: str, results: Results) -> None:
    started = time.monotonic()
    for walk in (walk_citizen, walk_caller, walk_staff, walk_waiting_room):
        context.clear_cookies()
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base_url}])
        page = context.new_page()
        try:
            walk(Walker(page, base_url, language, results), seed)
        finally:
            page.close()
    results.seconds += time.monotonic() - started
