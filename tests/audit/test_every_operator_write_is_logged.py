"""Every write endpoint of the call center leaves an operation-log entry with the operator's user ID
(issue 13, finding 10; SO-14).

The test walks the URL conf: every pattern of the operators' booking flow (namespace "caller", the citizen's
flow mounted at /staff/caller/) and of the call-center screens (/staff/callcenter/…) must have a row in
ROWS below, which says how to make a valid write there as an operator and which entry it must leave. A new
endpoint without a row fails `test_every_call_center_endpoint_has_a_row`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from booking.engine.queries import free_slots
from booking.engine.services import do_book, do_hold
from booking.models import Booking, Card, OperationLogEntry, Service
from tests import factories
from tests.audit.staff_walk import url_patterns
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
TENANT_URLCONF = "madoguchi.urls_tenant"
CALL_CENTER_PREFIX = "staff/callcenter/"


@dataclass
class Call:
    client: Client
    user_id: int
    card: Card

    def identify(self) -> None:
        self.client.post(
            "/staff/callcenter/",
            {"reservation_number": self.card.reservation_number, "birth_date": "1950-04-01"},
        )


# --- how to write at each endpoint: the request, and the action it must log --------------------------------


def _time_path(slot_index: int = 0) -> tuple[str, str]:
    slot = factories.next_free_slot_list(slot_index + 1)[slot_index]
    path = f"/staff/caller/book/card_issuance/{factories.place().pk}/{slot.starts_at.date():%Y-%m-%d}/"
    return path, slot.starts_at.isoformat()


def _hold(call: Call) -> None:
    slot = factories.next_free_slot()
    do_hold(call.card, factories.place(), factories.card_issuance(), slot.starts_at, channel="phone")


def write_identify(call: Call) -> None:
    call.identify()


def write_hold(call: Call) -> None:
    call.identify()
    path, start = _time_path()
    assert call.client.post(path, {"start": start}).status_code == 302


def write_confirm(call: Call) -> None:
    write_hold(call)
    call.client.post("/staff/caller/details/", {"phone": "075-000-1111", "email": ""})
    assert call.client.post("/staff/caller/confirm/").status_code == 302


def write_extend(call: Call) -> None:
    call.identify()
    _hold(call)
    assert call.client.post("/staff/caller/extend/").status_code == 302


def write_release(call: Call) -> None:
    call.identify()
    _hold(call)
    assert call.client.post("/staff/caller/release/").status_code == 302


def write_cancel(call: Call) -> None:
    do_book(call.card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    call.identify()
    assert call.client.post("/staff/caller/cancel/").status_code == 302


def write_log_call(call: Call) -> None:
    assert call.client.post("/staff/callcenter/calls/", {"kind": "new_booking"}).status_code == 302


def write_end_call(call: Call) -> None:
    call.identify()
    _hold(call)
    assert call.client.post("/staff/callcenter/end/").status_code == 302


def _visit_slot() -> tuple[str, str]:
    place = factories.place("kita")
    service = Service.objects.get(code="ecert_renewal")
    today = timezone.localdate()
    slot = free_slots(place, service, today, today + dt.timedelta(days=60))[0]
    query = f"?service=ecert_renewal&place={place.pk}&day={slot.starts_at.date():%Y-%m-%d}"
    return f"/staff/callcenter/visit/{query}", slot.starts_at.isoformat()


def write_visit(call: Call) -> None:
    path, start = _visit_slot()
    caller = {"start": start, "caller_name_kana": "デンワ ハナコ", "contact_phone": "0752223111"}
    assert call.client.post(path, caller).status_code == 302


def write_cancel_visit(call: Call) -> None:
    write_visit(call)
    visit = Booking.objects.get(card__isnull=True, caller_name_kana="デンワ ハナコ")
    assert call.client.post(f"/staff/callcenter/visit/{visit.pk}/cancel/").status_code == 302


def write_script(call: Call) -> None:
    booking = do_book(
        call.card, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at
    )
    page = call.client.get(f"/staff/callcenter/script/{booking.pk}/").content.decode()
    ticks = [str(i) for i in range(page.count('name="read"'))]
    assert call.client.post(f"/staff/callcenter/script/{booking.pk}/", {"read": ticks}).status_code == 302


@dataclass(frozen=True)
class Row:
    """`write` makes a valid write and `action` is the entry it must leave; or `why` says why the endpoint
    writes nothing (a read page, or a POST that changes only the operator's own session)."""

    write: Callable[[Call], None] | None = None
    action: str = ""
    why: str = ""


ROWS: dict[str, Row] = {
    # The operators' booking flow (BK-10): the citizen's views in namespace "caller".
    "caller:login": Row(why="404 in the operator flow: operators sign in to the console"),
    "caller:logout": Row(why="404 in the operator flow"),
    "caller:mypage": Row(why="read: the caller's booking"),
    "caller:service": Row(why="read"),
    "caller:place": Row(why="read"),
    "caller:day": Row(why="read"),
    "caller:time": Row(write_hold, "booking.hold"),
    "caller:details": Row(why="POST keeps the contact in the operator's session only; confirm writes it"),
    "caller:confirm": Row(write_confirm, "booking.booked"),
    "caller:release": Row(write_release, "booking.hold_released"),
    "caller:extend": Row(write_extend, "booking.hold_extended"),
    "caller:done": Row(why="read (redirects to the script)"),
    "caller:cancel": Row(write_cancel, "booking.cancelled"),
    # The call-center screens (CC-01…CC-05, BK-11).
    "staff:callcenter": Row(write_identify, "caller.identify"),
    "staff:callcenter_log": Row(write_log_call, "call.log"),
    "staff:callcenter_end": Row(write_end_call, "booking.hold_released"),
    "staff:callcenter_visit": Row(write_visit, "booking.booked"),
    "staff:callcenter_visit_cancel": Row(write_cancel_visit, "booking.cancelled"),
    "staff:callcenter_script": Row(write_script, "caller.script_read"),
}


def call_center_endpoints() -> set[str]:
    found = url_patterns(get_resolver(TENANT_URLCONF).url_patterns, "", "")
    return {
        name for name, route in found if name.startswith("caller:") or route.startswith(CALL_CENTER_PREFIX)
    }


def test_every_call_center_endpoint_has_a_row() -> None:
    endpoints = call_center_endpoints()
    assert endpoints, "the walk found no endpoint: the URL conf changed shape"
    assert endpoints - set(ROWS) == set(), "a new call-center endpoint: add its row to ROWS"
    assert set(ROWS) - endpoints == set(), "a row names an endpoint that is gone"


@pytest.fixture
def call(kyoto: None) -> Call:
    profile = make_staff("walk-op", "operator")
    return Call(sign_in("walk-op"), profile.user.pk, factories.issue_card().card)


@pytest.mark.parametrize("name", sorted(name for name, row in ROWS.items() if row.write))
def test_each_write_is_logged_with_the_operators_user_id(call: Call, name: str) -> None:
    row = ROWS[name]
    assert row.write is not None
    before = OperationLogEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    row.write(call)
    logged = OperationLogEntry.objects.filter(seq__gt=before, user_id_snapshot=call.user_id)
    assert row.action in set(logged.values_list("action", flat=True)), name
    assert logged.filter(action=row.action).first().username == "walk-op"  # type: ignore[union-attr]


def test_rows_without_a_write_say_why() -> None:
    assert all(row.why for row in ROWS.values() if row.write is None)
    assert all(row.action for row in ROWS.values() if row.write)
