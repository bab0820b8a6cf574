"""In English, no interface text is Japanese (issue 15): every citizen, operator and staff page and the API's
error answers, rendered with the language switch on English and realistic data, show no kana or kanji outside
elements marked lang="ja" (the municipality's own names, addresses and texts, and the "日本語" of the language
menu), neither in the visible text nor in title, aria-label, placeholder, alt and value attributes.

The pages come from the tenant URL conf: every named pattern has a row in PAGES (how to reach it, as whom) or
in SKIPPED (why not), so a new page fails `test_every_page_has_a_row` until it is given one. Forms are also
sent bad input, so their error messages are covered.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from booking.access.invitations import do_invite_administrator
from booking.callcenter.services import do_log_call
from booking.engine.services import do_book, do_book_visit, do_cancel_booking
from booking.exports.full_export import do_request_full_export
from booking.lib.dates import TOKYO
from booking.lifecycle import counter, notices
from booking.lifecycle.transfer_services import do_confirm_transfer
from booking.models import Booking, CardImportJob, ClosedDay, OpeningPattern, Service
from booking.rules.card_states import CardState
from integrations import jlis
from tests import factories
from tests.audit.staff_walk import url_patterns
from tests.conftest import KYOTO_HOST
from tests.staff_helpers import PASSWORD, SETUP, make_staff

pytestmark = pytest.mark.django_db
TENANT_URLCONF = "madoguchi.urls_tenant"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60\u3000-\u303f]")
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "value")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Leftovers(HTMLParser):
    """Japanese text outside lang="ja" subtrees; <script>/<style> content and hidden inputs are not text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, inside lang="ja")
        self.found: list[str] = []

    def _japanese_here(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        lang = a.get("lang")
        inside = (lang.lower().startswith("ja") if lang is not None else self._japanese_here()) or (
            self._japanese_here() and lang is None
        )
        if not inside:
            hidden = tag == "input" and a.get("type") == "hidden"
            for name in ATTRIBUTES:
                if name == "value" and (hidden or tag == "option"):
                    continue  # what the form sends back, not what is shown
                if JAPANESE.search(a.get(name, "")):
                    self.found.append(f"<{tag} {name}={a[name]!r}>")
        if tag not in VOID:
            self.stack.append((tag, inside))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] in {"script", "style"}:
            return
        text = " ".join(data.split())
        if not self._japanese_here() and (match := JAPANESE.search(text)):
            self.found.append(text[max(0, match.start() - 60) : match.start() + 60])


def leftovers(html: str) -> list[str]:
    parser = Leftovers()
    parser.feed(html)
    parser.close()
    return parser.found


def test_the_checker_sees_through_lang_ja_only() -> None:
    html = (
        '<p lang="ja">京都市<b>中京区</b></p><p>Kyoto <span lang="ja">上京</span></p><input value="東">'
        '<option value="ja" lang="ja">日本語</option><input type="hidden" value="隠">'
        '<img alt="写真"><p lang="en">窓口</p>'
    )
    assert leftovers(html) == ["<input value='東'>", "<img alt='写真'>", "窓口"]


# --- the world the pages show -------------------------------------------------------------------------------


@dataclass
class World:
    admin: Client
    operator: Client
    citizen: Client
    anonymous: Client
    pks: dict[str, int] = field(default_factory=dict)
    day: dt.date = dt.date(2000, 1, 1)
    invitation: str = ""  # the path of an unused administrator's invitation link


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def signed_in(username: str, role: str) -> Client:
    make_staff(username, role)
    client = english(Client(HTTP_HOST=KYOTO_HOST))
    response = client.post("/staff/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def world(
    kyoto: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> World:
    capture_on_commit = django_capture_on_commit_callbacks  # runs the queued card import at once
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    admin = signed_in("i18n-admin", "administrator")
    operator = signed_in("i18n-op", "operator")
    make_staff("i18n-counter", "counter")
    make_staff("i18n-viewer", "viewer")
    for state in (CardState.RECEIVED, CardState.SET_UP, CardState.NOTICE_SENT):
        factories.issue_card(state=state)
    returned = factories.issue_card().card
    from booking.cards.moves import do_move_cards

    do_move_cards([returned.pk], CardState.RETURNED, actor="i18n", note="宛所不明")

    # One day at the main counter: booked, cancelled, checked in, handed over, no-show; the list confirmed.
    place, service = factories.place(), factories.card_issuance()
    slots = factories.next_free_slot_list(40)
    days = [timezone.localtime(s.starts_at, TOKYO).date() for s in slots]
    day = next(d for d in days if days.count(d) >= 5)
    same_day = [s for s, d in zip(slots, days, strict=True) if d == day]
    bookings = [do_book(factories.issue_card().card, place, service, s.starts_at) for s in same_day[:4]]
    end_of_day = dt.datetime.combine(day, dt.time(23, 0), TOKYO)
    do_confirm_transfer(place, day, actor=SETUP, now=end_of_day)
    visited, no_show, checked_in, cancelled = bookings[0], bookings[1], bookings[2], bookings[3]

    def at(booking: Booking) -> dt.datetime:
        return booking.slot.starts_at + dt.timedelta(minutes=8)

    counter.do_check_in(checked_in, actor=SETUP, now=at(checked_in))
    counter.do_hand_over(visited, actor=SETUP, now=at(visited))
    counter.do_mark_no_show(no_show, actor=SETUP, now=at(no_show))
    do_cancel_booking(cancelled, actor=SETUP)
    visit = do_book_visit(
        factories.place("kita"),
        Service.objects.get(code="ecert_renewal"),
        _visit_start(),
        caller_name_kana="デンワ ハナコ",
        contact_phone="0752223111",
        actor=SETUP,
    )
    do_log_call(SETUP, "new_booking")
    ClosedDay.objects.create(place=place, date=day + dt.timedelta(days=60), reason="設備点検")

    # Background jobs: a card import that failed with problems, a notice run, a full export.
    bad = {
        "application_id": "1" * 23,
        "name": "京都 花子",
        "name_kana": "キョウト ハナコ",
        "birth_date": "19701301",
    }
    bad |= {"postal_code": "6048571", "address": "京都市中京区"}
    data = jlis.fixed_width_file([bad], created_on=dt.date(2026, 11, 20))
    with capture_on_commit(execute=True):
        admin.post("/staff/cards/import/", {"file": SimpleUploadedFile("JLIS.txt", data)})
    run = notices.do_print_notices([factories.issue_card(state=CardState.SET_UP).card.pk], actor=SETUP).run
    export = do_request_full_export(SETUP)

    citizen_card = factories.issue_card()
    citizen = english(Client(HTTP_HOST=KYOTO_HOST))
    do_book(citizen_card.card, place, service, same_day[4].starts_at)
    response = citizen.post(
        "/login/",
        {"reservation_number": citizen_card.card.reservation_number, "password": citizen_card.password},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    # The operator is on a call with an identified caller.
    caller = factories.issue_card().card
    operator.post(
        "/staff/callcenter/", {"reservation_number": caller.reservation_number, "birth_date": "1950-04-01"}
    )

    pattern = OpeningPattern.objects.filter(place=place).first()
    assert pattern is not None
    pks = {
        "booking": visited.pk,
        "visit": visit.pk,
        "card": factories.card_of(no_show).pk,
        "staff": make_staff("i18n-other", "counter").pk,
        "place": place.pk,
        "pattern": pattern.pk,
        "closed_day": ClosedDay.objects.get(place=place).pk,
        "import_job": CardImportJob.objects.latest("pk").pk,
        "notice_run": run.pk,
        "export": export.pk,
    }
    invited = do_invite_administrator(SETUP, "i18n-invited", "invited@example.jp")
    invitation = "/" + invited.url.split("/", 3)[3]
    return World(admin, operator, citizen, english(Client(HTTP_HOST=KYOTO_HOST)), pks, day, invitation)


def _visit_start() -> dt.datetime:
    from booking.engine.queries import free_slots

    today = timezone.localdate()
    place, service = factories.place("kita"), Service.objects.get(code="ecert_renewal")
    return free_slots(place, service, today, today + dt.timedelta(days=60))[0].starts_at


# --- the pages ----------------------------------------------------------------------------------------------

Who = str  # "admin", "operator", "citizen", "anonymous"
Path_ = Callable[[World], str]


@dataclass(frozen=True)
class Page:
    who: Who
    path: Path_
    bad: dict[str, Any] | None = None  # a POST with bad input, to see the form's error messages


def fixed(path: str) -> Path_:
    return lambda w: path


def _day(w: World) -> str:
    return w.day.isoformat()


PAGES: dict[str, Page] = {
    # citizen (and the top page)
    "booking:top": Page("anonymous", fixed("/")),
    "accessibility": Page("anonymous", fixed("/accessibility/")),
    "citizen:login": Page("anonymous", fixed("/login/"), {"reservation_number": "12", "password": "x"}),
    "citizen:mypage": Page("citizen", fixed("/mypage/")),
    "citizen:service": Page("citizen", fixed("/book/")),
    "citizen:place": Page("citizen", fixed("/book/card_issuance/")),
    "citizen:day": Page("citizen", lambda w: f"/book/card_issuance/{w.pks['place']}/"),
    "citizen:time": Page(
        "citizen", lambda w: f"/book/card_issuance/{w.pks['place']}/{_day(w)}/", {"start": "x"}
    ),
    "citizen:details": Page("citizen", fixed("/details/"), {"phone": "abc", "email": "not-mail"}),
    "citizen:confirm": Page("citizen", fixed("/confirm/")),
    "citizen:done": Page("citizen", fixed("/done/")),
    "citizen:cancel": Page("citizen", fixed("/cancel/")),
    # the operators' booking flow (the citizen's views for a caller)
    "caller:mypage": Page("operator", fixed("/staff/caller/mypage/")),
    "caller:service": Page("operator", fixed("/staff/caller/book/")),
    "caller:place": Page("operator", fixed("/staff/caller/book/card_issuance/")),
    "caller:day": Page("operator", lambda w: f"/staff/caller/book/card_issuance/{w.pks['place']}/"),
    "caller:time": Page(
        "operator", lambda w: f"/staff/caller/book/card_issuance/{w.pks['place']}/{_day(w)}/"
    ),
    "caller:details": Page("operator", fixed("/staff/caller/details/"), {"phone": "abc"}),
    "caller:confirm": Page("operator", fixed("/staff/caller/confirm/")),
    "caller:cancel": Page("operator", fixed("/staff/caller/cancel/")),
    # the call center
    "staff:callcenter": Page(
        "operator", fixed("/staff/callcenter/"), {"reservation_number": "1", "birth_date": "x"}
    ),
    "staff:callcenter_visit": Page(
        "operator",
        lambda w: f"/staff/callcenter/visit/?service=ecert_renewal&place={w.pks['place']}&day={_day(w)}",
        {"start": "x", "caller_name_kana": "abc", "contact_phone": "1"},
    ),
    "staff:callcenter_script": Page("operator", lambda w: f"/staff/callcenter/script/{w.pks['booking']}/"),
    "staff:callcenter_visit_cancel": Page(
        "operator", lambda w: f"/staff/callcenter/visit/{w.pks['visit']}/cancel/"
    ),
    # the console shell
    "staff:home": Page("admin", fixed("/staff/")),
    "staff:login": Page("anonymous", fixed("/staff/login/"), {"username": "nobody", "password": "wrong"}),
    "staff:password": Page(
        "admin", fixed("/staff/password/"), {"current": "x", "new": "short", "again": "s"}
    ),
    "staff:totp_setup": Page("admin", fixed("/staff/totp/"), {"otp": "12"}),
    "staff:invitation": Page("anonymous", lambda w: w.invitation, {"new": "short", "again": "x"}),
    "staff:bookings": Page("admin", lambda w: f"/staff/bookings/?date={_day(w)}"),
    "staff:booking": Page("admin", lambda w: f"/staff/bookings/{w.pks['booking']}/"),
    "staff:staff_list": Page("admin", fixed("/staff/users/")),
    "staff:staff_create": Page(
        "admin", fixed("/staff/users/new/"), {"username": "", "role": "x", "password": "1"}
    ),
    "staff:staff_update": Page("admin", lambda w: f"/staff/users/{w.pks['staff']}/"),
    "staff:security": Page("admin", fixed("/staff/security/")),
    "staff:oplog": Page("admin", fixed("/staff/log/")),
    "staff:exports": Page("admin", fixed("/staff/exports/")),
    "staff:settings": Page("admin", fixed("/staff/settings/")),
    "staff:settings_window": Page("admin", fixed("/staff/settings/window/"), {"hold_minutes": "abc"}),
    "staff:settings_fields": Page("admin", fixed("/staff/settings/fields/"), {"phone_requirement": "x"}),
    "staff:settings_cards": Page("admin", fixed("/staff/settings/cards/"), {"card_waiting_days": "-1"}),
    "staff:settings_contact": Page("admin", fixed("/staff/settings/contact/"), {"callcenter_phone": "1"}),
    "staff:settings_services": Page(
        "admin", fixed("/staff/settings/services/"), {"pin_reset__bring_text": "x" * 5001}
    ),
    "staff:settings_texts": Page("admin", fixed("/staff/settings/texts/"), {"text_top": "{oops"}),
    "staff:settings_places": Page("admin", fixed("/staff/settings/places/")),
    "staff:settings_place_new": Page(
        "admin", fixed("/staff/settings/places/new/"), {"code": "!", "name": ""}
    ),
    "staff:settings_place": Page("admin", lambda w: f"/staff/settings/places/{w.pks['place']}/"),
    "staff:settings_pattern_new": Page(
        "admin", lambda w: f"/staff/settings/places/{w.pks['place']}/patterns/new/", {"opens": "25:00"}
    ),
    "staff:settings_pattern": Page("admin", lambda w: f"/staff/settings/patterns/{w.pks['pattern']}/"),
    "staff:settings_closed_days": Page(
        "admin", fixed("/staff/settings/closed-days/"), {"date": "2026-02-30"}
    ),
    "staff:reports": Page("admin", lambda w: f"/staff/reports/?day={_day(w)}"),
    "staff:reports_monthly": Page("admin", fixed("/staff/reports/monthly/")),
    "staff:availability": Page("admin", fixed("/staff/availability/")),
    "staff:cards": Page("admin", fixed("/staff/cards/")),
    "staff:card_list": Page("admin", fixed("/staff/cards/list/")),
    "staff:cards_waiting": Page("admin", fixed("/staff/cards/waiting/")),
    "staff:cards_bulk_move": Page(
        "admin", fixed("/staff/cards/move/"), {"to_state": "set_up", "numbers": "123"}
    ),
    "staff:card": Page("admin", lambda w: f"/staff/cards/{w.pks['card']}/"),
    "staff:card_import": Page("admin", fixed("/staff/cards/import/"), {"encoding": "x"}),
    "staff:card_import_job": Page("admin", lambda w: f"/staff/cards/import/{w.pks['import_job']}/"),
    "staff:notices": Page("admin", fixed("/staff/notices/")),
    "staff:notices_start": Page("admin", fixed("/staff/notices/new/"), {"selection": "nothing"}),
    "staff:notice_run": Page("admin", lambda w: f"/staff/notices/{w.pks['notice_run']}/"),
    "staff:transfers": Page("admin", lambda w: f"/staff/transfers/?place={w.pks['place']}&day={_day(w)}"),
    "staff:counter": Page("admin", lambda w: f"/staff/counter/?place={w.pks['place']}&day={_day(w)}"),
}

SKIPPED: dict[str, str] = {
    "healthz": "a probe's plain answer, no interface text",
    "set_language": "the language switch itself (POST, redirects)",
    "api-schema": "the OpenAPI document: written for developers, its descriptions are API documentation",
    "caller:login": "404 in the operator flow",
    "caller:logout": "404 in the operator flow",
    "caller:release": "POST only, redirects",
    "caller:done": "redirects to the script",
    "citizen:logout": "POST only, redirects",
    "citizen:release": "POST only, redirects",
    "citizen:extend": "POST only (extends the time), redirects back to the page it came from",
    "caller:extend": "POST only (extends the time), redirects back to the page it came from",
    "staff:session_extend": "POST only (extends the session), redirects back",
    "staff:cancel_login": "POST only, redirects",
    "staff:logout": "POST only, redirects",
    "staff:security_update": "POST only, redirects to the security page (a refusal shows it again, as typed)",
    "staff:callcenter_log": "POST only, redirects",
    "staff:callcenter_end": "POST only, redirects",
    "staff:request_export": "POST only, redirects",
    "staff:settings_place_delete": "POST only, redirects",
    "staff:settings_pattern_delete": "POST only, redirects",
    "staff:settings_closed_day_delete": "POST only, redirects",
    "staff:card_scan": "redirects to the card found (or back with a message shown on the next page)",
    "staff:card_move": "POST only; its errors render the card page, covered by staff:card",
    "staff:card_return": "POST only, redirects",
    "staff:notice_download": "a PDF/CSV of letters in Japanese: the letters go to residents in Japanese",
    "staff:notice_delete_files": "POST only, redirects",
    "staff:download_export": "a ZIP of data files (columns documented in docs/formats/full-export.md)",
    "staff:transfer_csv": "a CSV download for the back office (see the downloads, below)",
    "staff:transfer_pdf": "a PDF printed for the back office (see the downloads, below)",
    "staff:transfer_confirm": "POST only, redirects",
    "staff:transfer_return": "POST only, redirects",
    "staff:counter_scan": "POST only, redirects",
    "staff:counter_check_in": "POST only, redirects",
    "staff:counter_hand_over": "POST only, redirects",
    "staff:counter_no_show": "POST only, redirects",
    "staff:bookings_csv": "a CSV download (see the downloads, below)",
    "staff:oplog_csv": "a CSV download of log entries (machine-readable actions)",
    "staff:reports_monthly_csv": "a CSV download (see the downloads, below)",
    "staff:availability_csv": "a CSV download of figures (its header is translated: csv_header)",
    "api-locations": "API: covered by the API tests below",
    "api-availability": "API: covered by the API tests below",
    "api-citizen-sessions": "API: covered by the API tests below",
    "api-citizen-booking": "API: covered by the API tests below",
    "api-staff-sessions": "API: covered by the API tests below",
    "api-staff-bookings": "API: covered by the API tests below",
    "api-staff-bookings-export": "API: a CSV download (see the downloads, below)",
}


def all_page_names() -> set[str]:
    return {name for name, _route in url_patterns(get_resolver(TENANT_URLCONF).url_patterns, "", "")}


def test_every_page_has_a_row() -> None:
    names = all_page_names()
    assert names - set(PAGES) - set(SKIPPED) == set(), "a new page: add it to PAGES (or SKIPPED, saying why)"
    assert (set(PAGES) | set(SKIPPED)) - names == set(), "a row names a page that is gone"
    assert set(PAGES) & set(SKIPPED) == set()


def _client(w: World, who: Who) -> Client:
    return {"admin": w.admin, "operator": w.operator, "citizen": w.citizen, "anonymous": w.anonymous}[who]


def test_every_page_in_english_has_no_japanese_left(world: World) -> None:
    found: dict[str, list[str]] = {}
    for name, page in sorted(PAGES.items()):
        client = _client(world, page.who)
        path = page.path(world)
        response = client.get(path, follow=True)
        assert response.status_code < 500, (name, path)
        html = response.content.decode()
        assert 'lang="en"' in html[:400], (name, "the page is not in English")
        if problems := leftovers(html):
            found[f"GET {name} {path}"] = problems
        if page.bad is not None:
            response = client.post(path, page.bad, follow=True)
            assert response.status_code < 500, (name, path, "POST")
            if problems := leftovers(response.content.decode()):
                found[f"POST {name} {path}"] = problems
    if dump := os.environ.get("I18N_DUMP"):  # where to write what was found, to read it whole
        Path(dump).write_text(json.dumps(found, ensure_ascii=False, indent=1))
    assert found == {}


def test_the_language_menu_names_each_language_in_itself(world: World) -> None:
    html = world.anonymous.get("/").content.decode()
    assert re.search(r'<option value="ja" lang="ja"[^>]*>日本語</option>', html)
    assert re.search(r'<option value="en" lang="en"[^>]*>English</option>', html)
    assert "英語" not in html


# --- the API's error answers --------------------------------------------------------------------------------


def _api_messages(response: Any) -> list[str]:
    body = response.json()
    texts = [str(body.get("message", ""))]
    stack: list[Any] = [body.get("fields", {})]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            texts.append(str(item))
    return texts


def api_error_answers(client: Client) -> list[Any]:
    """One answer of each kind of API error: unauthenticated, bad token, invalid fields, malformed JSON, wrong
    media type, bad query, wrong method, refused sign-in."""
    return [
        client.get("/api/v1/citizen/booking/"),
        client.get("/api/v1/citizen/booking/", HTTP_AUTHORIZATION="Bearer nope.nope"),
        client.post(
            "/api/v1/citizen/sessions/", {"reservation_number": "1"}, content_type="application/json"
        ),
        client.post("/api/v1/citizen/sessions/", "{", content_type="application/json"),
        client.post("/api/v1/citizen/sessions/", "x", content_type="text/plain"),
        client.get("/api/v1/availability/?location=x&service=y&from=2026-02-30"),
        client.get("/api/v1/availability/"),
        client.delete("/api/v1/locations/"),
        client.post(
            "/api/v1/staff/sessions/", {"username": "x", "password": "y"}, content_type="application/json"
        ),
        client.get("/api/v1/staff/bookings/"),
    ]


def test_the_api_answers_errors_in_english(world: World) -> None:
    found = {}
    for response in api_error_answers(english(Client(HTTP_HOST=KYOTO_HOST))):
        assert 400 <= response.status_code < 500, response.content
        assert response.json()["code"]
        if japanese := [t for t in _api_messages(response) if JAPANESE.search(t)]:
            found[response.request["PATH_INFO"] + " " + response.json()["code"]] = japanese
    assert found == {}


def test_the_api_answers_errors_in_japanese_without_english_beside_them(world: World) -> None:
    """The old messages were "日本語 / English": now one language; the code stays a machine-readable code."""
    for response in api_error_answers(Client(HTTP_HOST=KYOTO_HOST)):
        body = response.json()
        assert re.fullmatch(r"[a-z_]+", body["code"]), body
        assert JAPANESE.search(body["message"]) and " / " not in body["message"], body


# --- the downloads ------------------------------------------------------------------------------------------
# Not checked: the CSV files (bookings, monthly report, transfer list, operation log) are data formats with
# Japanese column headers the municipalities' own tools read, and the product offers no English variant of
# them; the notice letters and transfer PDFs are printed for Japanese residents and the back office.
