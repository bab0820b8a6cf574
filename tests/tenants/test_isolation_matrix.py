"""Every URL of a tenant's host × every kind of visitor (issue 13): nobody gets past their role, and no
answer carries another municipality's data (SO-10, SO-11, MT-01).

The visitors: nobody, a signed-in resident, each staff role, another municipality's staff (their session
and token sent to this host), this municipality's administrator on another municipality's host, and a
resident's token on the staff API. `ROUTES` says, for every named URL of `madoguchi.urls_tenant`, who may
pass; a URL added without a row fails `test_every_tenant_url_has_a_row`, so a new screen cannot slip in
unguarded. Each cell is one GET; a visitor refused a URL is refused a POST to it too (writes included).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from booking.access import accounts
from booking.access.permissions import Can, allows
from booking.citizen.login import do_create_citizen_token
from booking.configuration.places import PlaceInput, do_save_place
from booking.engine.queries import free_slots
from booking.engine.services import do_book, do_book_visit
from booking.models import AllowedNetwork, OpeningPattern, Place, Service, StaffProfile
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants
from tests.staff_helpers import PASSWORD, SETUP, make_staff, sign_in

pytestmark = pytest.mark.django_db

ROLES = ["administrator", "counter", "operator", "viewer"]
VISITORS = ["anonymous", "resident", *ROLES, "other_staff", "other_host", "resident_token"]
ADDRESS = "127.0.0.1"
MIHON_PLACE = "見本市役所 交付窓口"
UNKNOWN_PK = 2_000_000_000  # no such row: the gate answers before the view looks it up


@dataclass(frozen=True)
class Rule:
    """Who may pass a URL: `open` (anyone), `gone` (404 for everyone), `resident` (a resident's web
    session), `citizen_api` (a resident's token), `staff` (a staff session whose role has `can`; None: any
    role), `staff_api` (a staff token whose role has `can`). `pk` names the fixture row a <pk> stands for."""

    kind: str
    can: Can | None = None
    pk: str = ""


OPEN, GONE, RESIDENT, CITIZEN_API = Rule("open"), Rule("gone"), Rule("resident"), Rule("citizen_api")


def staff(can: Can | None, pk: str = "") -> Rule:
    return Rule("staff", can, pk)


def staff_api(can: Can) -> Rule:
    return Rule("staff_api", can)


ROUTES: dict[str, Rule] = {
    "healthz": OPEN,
    "set_language": OPEN,
    "accessibility": OPEN,  # the accessibility statement (issue 15): for anyone
    "api-schema": OPEN,
    "api-locations": OPEN,
    "api-availability": OPEN,
    "api-citizen-sessions": OPEN,
    "api-staff-sessions": OPEN,
    "api-citizen-booking": CITIZEN_API,
    "api-staff-bookings": staff_api(Can.VIEW_BOOKINGS),
    "api-staff-bookings-export": staff_api(Can.EXPORT),
    # The citizen's flow, mounted again for operators booking for a caller: the gate's CALL_CENTER first.
    "caller:login": GONE,
    "caller:logout": OPEN,  # POST only (405 to a GET); a POST is 404 for everyone
    **{
        f"caller:{name}": staff(Can.CALL_CENTER)
        for name in ("mypage", "service", "place", "day", "time", "details", "confirm", "release", "done")
    },
    "caller:cancel": staff(Can.CALL_CENTER),
    "caller:extend": staff(Can.CALL_CENTER),  # 「時間を延長する」 (POST; a GET is the 405 page)
    "staff:home": staff(None),
    "staff:login": OPEN,
    "staff:cancel_login": OPEN,
    # the invited administrator's one-time link: anyone holding a valid link (a made-up one is 410 for all);
    # one municipality's link on another's host: tests/tenants/test_lifecycle.py
    "staff:invitation": OPEN,
    "staff:logout": OPEN,
    "staff:password": staff(None),
    "staff:session_extend": staff(None),  # 「時間を延長する」 for the staff session (POST only)
    "staff:totp_setup": staff(None),
    "staff:bookings": staff(Can.VIEW_BOOKINGS),
    "staff:bookings_csv": staff(Can.EXPORT),
    "staff:booking": staff(Can.VIEW_BOOKINGS, "booking"),
    "staff:staff_list": staff(Can.MANAGE_STAFF),
    "staff:staff_create": staff(Can.MANAGE_STAFF),
    "staff:staff_update": staff(Can.MANAGE_STAFF, "user"),
    "staff:security": staff(Can.MANAGE_STAFF),
    "staff:security_update": staff(Can.MANAGE_STAFF),
    "staff:availability": staff(Can.VIEW_AVAILABILITY),  # BK-08: read from the control plane, its own only
    "staff:availability_csv": staff(Can.VIEW_AVAILABILITY),
    "staff:oplog": staff(Can.VIEW_OPLOG),
    "staff:oplog_csv": staff(Can.VIEW_OPLOG),
    "staff:exports": staff(Can.FULL_EXPORT),
    "staff:request_export": staff(Can.FULL_EXPORT),
    "staff:download_export": staff(Can.FULL_EXPORT),  # a finished export's file: none made here
    "staff:settings": staff(Can.EDIT_SETTINGS),
    "staff:settings_window": staff(Can.EDIT_SETTINGS),
    "staff:settings_fields": staff(Can.EDIT_SETTINGS),
    "staff:settings_cards": staff(Can.EDIT_SETTINGS),
    "staff:settings_texts": staff(Can.EDIT_SETTINGS),
    "staff:settings_contact": staff(Can.EDIT_SETTINGS),
    "staff:settings_services": staff(Can.EDIT_SETTINGS),
    "staff:settings_places": staff(Can.EDIT_SETTINGS),
    "staff:settings_place_new": staff(Can.EDIT_SETTINGS),
    "staff:settings_place": staff(Can.EDIT_SETTINGS, "place"),
    "staff:settings_place_delete": staff(Can.EDIT_SETTINGS, "spare_place"),
    "staff:settings_pattern_new": staff(Can.EDIT_SETTINGS, "place"),
    "staff:settings_pattern": staff(Can.EDIT_SETTINGS, "pattern"),
    "staff:settings_pattern_delete": staff(Can.EDIT_SETTINGS, "pattern"),
    "staff:settings_closed_days": staff(Can.EDIT_SETTINGS),
    "staff:settings_closed_day_delete": staff(Can.EDIT_SETTINGS),
    "staff:callcenter": staff(Can.CALL_CENTER),
    "staff:callcenter_log": staff(Can.CALL_CENTER),
    "staff:callcenter_end": staff(Can.CALL_CENTER),
    "staff:callcenter_visit": staff(Can.CALL_CENTER),
    "staff:callcenter_visit_cancel": staff(Can.CALL_CENTER, "visit"),
    "staff:callcenter_script": staff(Can.CALL_CENTER, "booking"),
    "staff:reports": staff(Can.EXPORT),
    "staff:reports_monthly": staff(Can.EXPORT),
    "staff:reports_monthly_csv": staff(Can.EXPORT),
    "staff:cards": staff(Can.VIEW_BOOKINGS),
    "staff:card_list": staff(Can.VIEW_BOOKINGS),
    "staff:cards_waiting": staff(Can.VIEW_BOOKINGS),
    "staff:cards_bulk_move": staff(Can.EDIT_CARDS),
    "staff:card_scan": staff(Can.VIEW_BOOKINGS),
    "staff:card": staff(Can.VIEW_BOOKINGS, "card"),
    "staff:card_move": staff(Can.EDIT_CARDS, "card"),
    "staff:card_return": staff(Can.EDIT_CARDS, "card"),
    "staff:card_import": staff(Can.IMPORT_CARDS),
    "staff:card_import_job": staff(Can.IMPORT_CARDS),
    "staff:notices": staff(Can.PRINT_NOTICES),
    "staff:notices_start": staff(Can.PRINT_NOTICES),
    "staff:notice_run": staff(Can.PRINT_NOTICES),
    "staff:notice_download": staff(Can.PRINT_NOTICES),
    "staff:notice_delete_files": staff(Can.PRINT_NOTICES),
    "staff:transfers": staff(Can.VIEW_BOOKINGS),
    "staff:transfer_csv": staff(Can.EXPORT),
    "staff:transfer_pdf": staff(Can.EXPORT),
    "staff:transfer_confirm": staff(Can.EDIT_CARDS),
    "staff:transfer_return": staff(Can.EDIT_CARDS),
    "staff:counter": staff(Can.VIEW_BOOKINGS),
    "staff:counter_scan": staff(Can.EDIT_CARDS),
    "staff:counter_check_in": staff(Can.EDIT_CARDS, "booking"),
    "staff:counter_hand_over": staff(Can.EDIT_CARDS, "booking"),
    "staff:counter_no_show": staff(Can.EDIT_CARDS, "booking"),
    "booking:top": OPEN,
    "citizen:login": OPEN,
    "citizen:logout": OPEN,
    **{
        f"citizen:{name}": RESIDENT
        for name in ("mypage", "service", "place", "day", "time", "details", "confirm", "release", "done")
    },
    "citizen:cancel": RESIDENT,
    "citizen:extend": RESIDENT,  # 「時間を延長する」 (POST; a GET is the 405 page)
}


def tenant_routes() -> dict[str, str]:
    """Every named URL of a tenant's host: its qualified name → its route (with <converter:name> parts)."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"unnamed URL {prefix}{pattern.pattern}: give it a name and a row"
                yield (
                    (f"{namespace}:{pattern.name}" if namespace else pattern.name),
                    prefix + str(pattern.pattern),
                )

    return dict(walk(get_resolver("madoguchi.urls_tenant").url_patterns, "/", ""))


@dataclass
class Visitor:
    """Someone's credentials: the cookies of their session, and a bearer token sent on /api/ paths (or on
    every path: a resident's token tried everywhere)."""

    cookies: SimpleCookie
    host: str
    token: str = ""
    token_everywhere: bool = False

    def request(self, method: str, path: str) -> Any:
        # A fresh client with the same cookies each time: a host that does not know a session answers by
        # deleting its cookie, and the next request must still carry the credentials under test.
        client = Client()
        client.cookies = copy.deepcopy(self.cookies)
        headers = {}
        if self.token and (self.token_everywhere or path.startswith("/api/")):
            headers["Authorization"] = f"Bearer {self.token}"
        send = client.post if method == "post" else client.get
        return send(path, HTTP_HOST=self.host, REMOTE_ADDR=ADDRESS, headers=headers)


@dataclass
class World:
    visitors: dict[str, Visitor]
    args: dict[str, str]  # route argument → value, and "pk:<fixture>" → that row's pk
    kyoto_secrets: list[str]  # what no visitor but this municipality's own may ever read


def expected(rule: Rule, visitor: str) -> str:
    """What the visitor should meet, in the terms of `observed`."""
    if rule.kind == "open":
        return "in"
    if rule.kind == "gone":
        return "not_found"
    if rule.kind == "resident":
        return "in" if visitor == "resident" else "sign_in_citizen"
    if rule.kind == "citizen_api":
        return "in" if visitor in ("resident", "resident_token") else "unauthenticated"
    refused = "sign_in_staff" if rule.kind == "staff" else "unauthenticated"
    if visitor not in ROLES:
        return refused
    return "in" if rule.can is None or allows(visitor, rule.can) else "forbidden"


def observed(response: Any) -> str:
    status = response.status_code
    location = response.get("Location", "")
    if status == 302 and location.startswith("/staff/login/"):
        return "sign_in_staff"
    if status == 302 and location.startswith("/login/"):
        return "sign_in_citizen"
    if status == 401:
        return "unauthenticated"
    if status == 403:
        body = response.content.decode(errors="replace")
        # The role refusal, as a page (<code>forbidden</code>) or the API ("code": "forbidden") says it;
        # any other 403 (a terminal refused) is shown as it is.
        said = (
            "<code>forbidden</code>" in body
            or response.get("Content-Type", "").startswith("application/json")
            and response.json().get("code") == "forbidden"
        )
        return "forbidden" if said else f"403 {body[:120]}"
    if status == 404:
        return "not_found"
    assert status < 500, f"server error {status}"
    return "in"


def path_for(name: str, route: str, args: dict[str, str]) -> str:
    rule = ROUTES[name]

    def value(match: re.Match[str]) -> str:
        param = match.group(2)
        if param == "pk":
            return args.get(f"pk:{rule.pk}", str(UNKNOWN_PK))
        return args[param]

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, route)


@pytest.fixture(autouse=True)
def _quick_hasher(settings: Any) -> None:
    """Hashing is not what this is about (tests/access signs in with Argon2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _place_input(code: str, name: str) -> PlaceInput:
    return PlaceInput(
        code=code,
        name=name,
        name_en="",
        kind=Place.Kind.WARD_OFFICE,
        address="テスト町1-1",
        starts_on=None,
        ends_on=None,
        bookable_from=None,
        bookable_until=None,
        display_order=0,
    )


def _signed_in(schema: str, host: str, username: str, role: str) -> tuple[SimpleCookie, str]:
    """A staff session (the sign-in form) and a staff token (the API's sign-in) of a new account."""
    with schema_context(schema):
        make_staff(username, role)
        token = accounts.do_staff_token_login(username, PASSWORD, ADDRESS).token
    # A request leaves the connection on the public schema: sign in outside the schema context.
    return sign_in(username, host=host, REMOTE_ADDR=ADDRESS).cookies, token


@pytest.fixture
def world(tenants: Tenants) -> World:
    with schema_context("mihon"):
        # The hosts' own allowed networks, so that the terminal check passes and only roles decide.
        AllowedNetwork.objects.create(network="127.0.0.0/8", label="test")
        do_save_place(SETUP, None, _place_input("mihon-hall", MIHON_PLACE))
    with schema_context("kyoto"):
        AllowedNetwork.objects.create(network="127.0.0.0/8", label="test")
        issued = factories.issue_card()
        card = issued.card
        slot = factories.next_free_slot()
        booking = do_book(card, factories.place(), factories.card_issuance(), slot.starts_at)
        resident_token, _ = do_create_citizen_token(card)
        kita, ecert = factories.place("kita"), Service.objects.get(code="ecert_renewal")
        day = slot.starts_at.date()
        visit = do_book_visit(
            kita,
            ecert,
            free_slots(kita, ecert, day, day + dt.timedelta(days=60))[0].starts_at,
            caller_name_kana="マトリクス タロウ",
            contact_phone="0750000000",
            actor="matrix",
        )
        spare, _ = do_save_place(SETUP, None, _place_input("matrix-spare", "削除してよい窓口"))
        place = factories.place()
        args = {
            "service": "card_issuance",
            "place": str(place.pk),
            "day": slot.starts_at.date().isoformat(),
            "kind": "pdf",
            "uidb64": "MQ",
            "token": "cz8xk2-0123456789abcdef",
            "pk:booking": str(booking.pk),
            "pk:visit": str(visit.pk),
            "pk:card": str(card.pk),
            "pk:place": str(place.pk),
            "pk:spare_place": str(spare.pk),
            "pk:pattern": str(OpeningPattern.objects.filter(place=place).values_list("pk", flat=True)[0]),
        }
        secrets = [card.application_id, card.reservation_number, card.name, booking.contact_phone]
    resident = Client()
    signed_in = resident.post(
        "/login/",
        {"reservation_number": card.reservation_number, "password": issued.password},
        HTTP_HOST=KYOTO_HOST,
        REMOTE_ADDR=ADDRESS,
    )
    assert signed_in.status_code == 302, signed_in.content.decode()[:300]
    mihon_cookies, mihon_token = _signed_in("mihon", MIHON_HOST, "mihon-admin", "administrator")
    visitors = {
        "anonymous": Visitor(SimpleCookie(), KYOTO_HOST),
        "resident": Visitor(resident.cookies, KYOTO_HOST, resident_token),
        "other_staff": Visitor(mihon_cookies, KYOTO_HOST, mihon_token),
        "resident_token": Visitor(SimpleCookie(), KYOTO_HOST, resident_token, token_everywhere=True),
    }
    for role in ROLES:
        cookies, token = _signed_in("kyoto", KYOTO_HOST, f"matrix-{role}", role)
        visitors[role] = Visitor(cookies, KYOTO_HOST, token)
    with schema_context("kyoto"):
        args["pk:user"] = str(StaffProfile.objects.get(user__username="matrix-viewer").user_id)
    admin = visitors["administrator"]
    visitors["other_host"] = Visitor(admin.cookies, MIHON_HOST, admin.token)
    return World(visitors, args, [secret for secret in secrets if secret])


def test_every_tenant_url_has_a_row() -> None:
    routes = tenant_routes()
    assert sorted(set(routes) - set(ROUTES)) == [], "new URLs: say in ROUTES who may open them"
    assert sorted(set(ROUTES) - set(routes)) == [], "rows for URLs that are gone"


def test_every_visitor_meets_exactly_their_rights_on_every_url(world: World) -> None:
    routes = tenant_routes()
    wrong: list[str] = []
    for name, route in routes.items():
        rule = ROUTES[name]
        path = path_for(name, route, world.args)
        for who in VISITORS:
            visitor = world.visitors[who]
            want = expected(rule, who)
            methods = ["get"] if want in ("in", "not_found") else ["get", "post"]
            for method in methods:
                response = visitor.request(method, path)
                got = observed(response)
                if got != want and not (want == "in" and got == "not_found" and rule.pk == ""):
                    wrong.append(f"{method.upper()} {path} as {who}: expected {want}, got {got}")
                body = _text(response)
                # Only this municipality's own people may read the resident's data (the resident, and
                # staff whose role let them in); nobody on another host may read anything of Kyoto's.
                if who in ("anonymous", "other_staff", "other_host"):
                    leaked = [secret for secret in world.kyoto_secrets if secret in body]
                    if leaked:
                        wrong.append(f"{method.upper()} {path} as {who}: shows Kyoto's {leaked}")
                if visitor.host == MIHON_HOST and ("京都" in body or "北区役所" in body):
                    wrong.append(f"{method.upper()} {path} as {who} on Mihon's host: shows Kyoto's data")
                if visitor.host == KYOTO_HOST and MIHON_PLACE in body:
                    wrong.append(f"{method.upper()} {path} as {who} on Kyoto's host: shows Mihon's place")
    assert wrong == [], "\n".join(wrong)


def _text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", errors="replace")
    return response.content.decode("utf-8", errors="replace")
