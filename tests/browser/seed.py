"""Kyoto's data for the browser walk, made through the production services and committed: staff of every
role, cards in every state, bookings (web and phone), a phone-only visit, a closed day, calls, a queued
export and print run, and a failed card import, so that every page shows the rows, tables and badges it
shows in use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from django_tenants.utils import schema_context

from booking.access.invitations import do_invite_administrator
from booking.audit import oplog
from booking.callcenter.services import do_log_call
from booking.cards.moves import do_move_cards
from booking.configuration.closed_days import ClosedDayInput, do_add_closed_day
from booking.engine.services import IssuedCard, do_book, do_book_visit
from booking.exports.full_export import do_request_full_export
from booking.lifecycle.intake_job import do_request_card_import, run_import_job
from booking.lifecycle.notices import do_request_notice_run
from booking.models import Booking, CallLogEntry, Card, OpeningPattern, Service, StaffProfile
from booking.rules.card_states import CardState
from tests import factories
from tests.staff_helpers import PASSWORD, make_staff

ACTOR = oplog.Actor(None, "browser-seed", "127.0.0.1")
ROLES = ("administrator", "counter", "operator", "viewer")
LANGUAGES = ("ja", "en")
# A real address can be this long (RFC 5321 allows 64 characters before the @): the confirm page must wrap it.
LONG_EMAIL = "kyoto.taro.my-number-card-appointments.2026@mail.example-municipality-office.lg.jp"


@dataclass
class Seed:
    """What the walk needs to reach each page: credentials and the primary keys in the URLs."""

    staff_password: str = PASSWORD
    walkers: dict[str, IssuedCard] = field(default_factory=dict)  # a card with no booking, per language
    booked: dict[str, IssuedCard] = field(default_factory=dict)  # a card with a booking, per language
    callers: dict[str, Card] = field(default_factory=dict)  # a card an operator books for, per language
    keyboard: IssuedCard | None = None
    errors: IssuedCard | None = None
    ids: dict[str, int] = field(default_factory=dict)
    visit_query: str = ""  # the phone-only visit page's search for a day with free times
    walk_day: dt.date = dt.date.min  # a day with free times for the walk's new bookings
    change_day: dt.date = dt.date.min  # a day with free times to move the booked cards to
    invitation: str = ""  # the path of an administrator's unused invitation link (issue 14 §3)


def staff_name(role: str) -> str:
    return f"b-{role}"


def seed_kyoto() -> Seed:
    _announce_a_planned_stop()
    with schema_context("kyoto"):
        return _seed()


def _announce_a_planned_stop() -> None:
    """A stop announced now and 40 days ahead, keeping the site up: its notice is on every page walked, so
    axe and the reflow check see it too (SO-01)."""
    from django.utils import timezone

    from console.models import PlannedStop
    from tenants.models import Municipality

    now = timezone.now()
    PlannedStop.objects.create(
        tenant=Municipality.objects.get(schema_name="kyoto"),
        kind=PlannedStop.Kind.PLANNED,
        starts_at=now + dt.timedelta(days=40),
        ends_at=now + dt.timedelta(days=40, hours=4),
        approved_on=now.date(),
        approved_by="京都市 文化市民局 地域自治推進室 課長",
        approval_reference="京文地第1234号",
        recorded_by="browser-seed",
        site_down=False,
        announced_from=now,
    )


def _seed() -> Seed:
    seed = Seed()
    for role in ROLES:
        make_staff(staff_name(role), role)
    service = factories.card_issuance()
    place = factories.place()
    slots = factories.next_free_slot_list(16)
    for language in LANGUAGES:
        seed.walkers[language] = factories.issue_card()
        seed.booked[language] = factories.issue_card("スズキ ハナコ")
        seed.callers[language] = factories.issue_card("ヤマダ タロウ").card
    seed.keyboard = factories.issue_card()
    seed.errors = factories.issue_card()
    for language, slot in zip(LANGUAGES, slots[:2], strict=True):
        do_book(
            seed.booked[language].card,
            place,
            service,
            slot.starts_at,
            contact_phone="075-222-3111",
            contact_email=LONG_EMAIL,
        )
    # More bookings for the lists, the counter and the reports: web and phone, some with contacts.
    for index, slot in enumerate(slots[2:8]):
        card = factories.issue_card().card
        channel = Booking.Channel.PHONE if index % 2 else Booking.Channel.WEB
        do_book(card, place, service, slot.starts_at, channel=channel, contact_phone="090-1234-5678")
    phone_only = Service.objects.filter(web_bookable=False).first()
    if phone_only is not None:
        pattern = OpeningPattern.objects.filter(service=phone_only).select_related("place").first()
        if pattern is not None:
            start = factories.slot_on_or_after(
                timezone.localdate() + dt.timedelta(days=7), pattern.place.code
            )
            visit = do_book_visit(
                pattern.place,
                phone_only,
                start,
                caller_name_kana="キョウト ミヤコ",
                contact_phone="075-123-4567",
                actor=ACTOR,
            )
            seed.ids["visit"] = visit.pk
            seed.visit_query = f"service={phone_only.code}&place={pattern.place.pk}&day={start:%Y-%m-%d}"
    # Cards in every state the lists show.
    for state in (CardState.RECEIVED, CardState.SET_UP):
        factories.issue_card(state=state)
    returned = factories.issue_card().card
    do_move_cards([returned.pk], CardState.RETURNED, actor="browser-seed")
    do_add_closed_day(
        ACTOR,
        ClosedDayInput(
            date=timezone.localdate() + dt.timedelta(days=20), place=None, reason="庁舎の電気設備点検"
        ),
        despite_bookings=True,
    )
    for kind in CallLogEntry.Kind.values:
        do_log_call(ACTOR, kind)
    seed.ids["export"] = do_request_full_export(ACTOR).pk
    letters = [factories.issue_card(state=CardState.SET_UP).card.pk for _ in range(3)]
    seed.ids["notice_run"] = do_request_notice_run(letters, actor=ACTOR).pk
    job = do_request_card_import(ACTOR, [b"not a J-LIS file\r\n"], filename="JLIS_20261206.txt")
    seed.ids["import_job"] = run_import_job(job.pk).pk
    seed.walk_day = timezone.localtime(slots[10].starts_at).date()
    seed.change_day = timezone.localtime(slots[14].starts_at).date()
    seed.ids["booking"] = Booking.objects.filter(card=seed.booked["ja"].card).get().pk
    seed.ids["card"] = seed.booked["ja"].card.pk
    seed.ids["place"] = place.pk
    seed.ids["pattern"] = OpeningPattern.objects.filter(place=place).order_by("pk").first().pk  # type: ignore[union-attr]
    seed.ids["staff"] = StaffProfile.objects.get(user__username=staff_name("viewer")).pk
    invitation = do_invite_administrator(ACTOR, "b-invited", "invited@city.kyoto.example.jp")
    seed.invitation = "/" + invitation.url.split("/", 3)[3]
    return seed
