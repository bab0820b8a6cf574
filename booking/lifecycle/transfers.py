"""Transfer lists (BK-13): which cards go from the back office to a counter for a day. Reads only.

The list of a counter's day is cut at a fixed time before it (BookingSettings.transfer_cutoff_*; e.g. noon the
day before): the cards booked there as of the cut are moved together. What changes after the cut is listed
apart, so nobody moves a card on a stale list: a booking made or moved here after the cut is "added" (on the
new counter's list), one cancelled or moved away is "removed" (on the old counter's list: don't move the card,
or bring it back if it went already).

Bookings change in place (their slot is updated), so where a booking was at any moment is rebuilt from its
BookingEvents: the last event at or before that moment names its slot (`to_slot`; none once cancelled). Every
event that takes a booking away from a slot names that slot as `from_slot`, so the events touching the
day's slots are enough; one query reads them with their bookings' cards.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.engine.queries import booking_rules
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingEvent, BookingSettings, Card, Place, Slot
from booking.rules.card_states import CardState
from integrations import csv_export, transfer_pdf

REGULAR = "regular"
ADDED = "added"
REMOVED = "removed"
KIND_LABELS = {
    REGULAR: gettext_lazy("通常"),
    ADDED: gettext_lazy("締め後の追加"),
    REMOVED: gettext_lazy("締め後の取消・変更"),
}


def cutoff_at(day: dt.date, rules: BookingSettings) -> dt.datetime:
    """When the list of `day` is cut: e.g. 12:00 one calendar day before, Japan time (as windows.deadline_for
    counts the booking deadline: calendar days)."""
    cut_day = day - dt.timedelta(days=rules.transfer_cutoff_days_before)
    return dt.datetime.combine(cut_day, rules.transfer_cutoff_time, tzinfo=TOKYO)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=TOKYO)
    return start, start + dt.timedelta(days=1)


@dataclass(frozen=True)
class Entry:
    """One card on a list. `other` is where an added booking came from / a removed one went (None: a new
    booking / a cancellation); `changed_at` is when that happened."""

    kind: str
    booking_id: int
    card: Card  # with at_place loaded
    starts_at: dt.datetime
    changed_at: dt.datetime | None = None
    other: Slot | None = None
    no_show: bool = False  # nobody came: the card is not handed over here (moved back, or to go back)
    rebooked_here: bool = False  # a no-show who booked this counter again: the card stays for that booking

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def state_label(self) -> str:
        return str(CardState(self.card.state).label)

    @property
    def where_label(self) -> str:
        if self.card.state == CardState.HANDED_OVER:
            return _("本人（交付済み）")
        return self.card.at_place.label if self.card.at_place else _("事務室")

    @property
    def in_back_office_booked(self) -> bool:
        return self.card.state == CardState.BOOKED and self.card.at_place_id is None

    @property
    def change_label(self) -> str:
        """What happened after the cut, in words for the screen, the CSV and the PDF."""
        if self.kind == REGULAR:
            return ""
        if self.other is None:
            return _("新規予約") if self.kind == ADDED else _("予約取消")
        where = f"{self.other.place.label} {timezone.localtime(self.other.starts_at, TOKYO):%Y-%m-%d %H:%M}"
        if self.kind == ADDED:
            return _("%(where)s から変更") % {"where": where}
        return _("%(where)s へ変更") % {"where": where}


@dataclass(frozen=True)
class TransferList:
    place: Place
    day: dt.date
    cut_at: dt.datetime
    as_of: dt.datetime
    regular: list[Entry]
    added: list[Entry]
    removed: list[Entry]

    @property
    def is_cut(self) -> bool:
        return self.as_of >= self.cut_at

    @property
    def coming(self) -> list[Entry]:
        """The cards that should be at this counter on the day (not a no-show's: nobody takes it)."""
        return [entry for entry in self.regular + self.added if not entry.no_show]

    @property
    def has_no_shows(self) -> bool:
        """Whether the day's lists hold a no-show (their tables then say so, and offer its card's return)."""
        return any(entry.no_show for entry in self.regular + self.added)

    @property
    def to_move(self) -> list[Entry]:
        """Cards on the list still in the back office, waiting to be moved."""
        return [entry for entry in self.coming if entry.in_back_office_booked]

    @property
    def to_return(self) -> list[Entry]:
        """Cards already at this counter that nobody takes here (removed, no-shows): back to the office."""
        return [entry for entry in self.removed + self.regular + self.added if self.needs_return(entry)]

    @cached_property
    def to_return_ids(self) -> frozenset[int]:
        """The bookings of `to_return`, for the screen's buttons."""
        return frozenset(entry.booking_id for entry in self.to_return)

    def needs_return(self, entry: Entry) -> bool:
        return (
            (entry.kind == REMOVED or (entry.no_show and not entry.rebooked_here))
            and entry.card.state == CardState.MOVED
            and entry.card.at_place_id == self.place.pk
        )


def transfer_list(place: Place, day: dt.date, now: dt.datetime | None = None) -> TransferList:
    """The list of `place` for `day` as it stands at `now`: a live preview before the cut."""
    now = now or timezone.now()
    cut = cutoff_at(day, booking_rules())
    start, end = day_bounds(day)

    def here(slot: Slot | None) -> bool:
        return slot is not None and slot.place_id == place.pk and start <= slot.starts_at < end

    history: dict[int, list[BookingEvent]] = defaultdict(list)
    for event in _events(place, start, end, now):
        history[event.booking_id].append(event)
    regular: list[Entry] = []
    added: list[Entry] = []
    removed: list[Entry] = []
    for booking_id, events in history.items():
        card = events[0].booking.card
        assert card is not None  # the query keeps card bookings only
        no_show = events[0].booking.outcome == Booking.Outcome.NO_SHOW
        again = Booking.objects.filter(
            card=card, status=Booking.Status.CONFIRMED, outcome="", slot__place=place
        )
        rebooked_here = no_show and again.exists()  # a query per no-show only: few on a day's list
        now_slot = _slot_at(events, now)
        if now < cut:
            if here(now_slot):
                regular.append(
                    Entry(
                        REGULAR,
                        booking_id,
                        card,
                        _start(now_slot),
                        no_show=no_show,
                        rebooked_here=rebooked_here,
                    )
                )
            continue
        cut_slot = _slot_at(events, cut)
        if here(cut_slot) and here(now_slot):
            regular.append(
                Entry(
                    REGULAR, booking_id, card, _start(now_slot), no_show=no_show, rebooked_here=rebooked_here
                )
            )
        elif here(now_slot):
            came = _last(events, lambda e: here(e.to_slot) and not here(e.from_slot))
            added.append(
                Entry(
                    ADDED, booking_id, card, _start(now_slot), came.at, came.from_slot, no_show, rebooked_here
                )
            )
        elif here(cut_slot):
            left = _last(events, lambda e: here(e.from_slot) and not here(e.to_slot))
            removed.append(Entry(REMOVED, booking_id, card, _start(cut_slot), left.at, left.to_slot))
        elif (
            card.state == CardState.MOVED
            and card.at_place_id == place.pk
            and any(here(event.to_slot) for event in events if event.at > cut)
        ):
            # added after the cut, its card brought here, then cancelled or moved away: the card is still
            # at this counter and must go back, though the booking was on neither list at the cut nor now
            left = _last(events, lambda e: here(e.from_slot) and not here(e.to_slot))
            removed.append(Entry(REMOVED, booking_id, card, _start(left.from_slot), left.at, left.to_slot))
    # A card cancelled and booked here again after the cut is still coming: its old booking is no exception.
    coming = {entry.card.pk for entry in regular + added}
    removed = [entry for entry in removed if entry.card.pk not in coming]
    return TransferList(place, day, cut, now, _sorted(regular), _sorted(added), _sorted(removed))


def _events(place: Place, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Iterator[BookingEvent]:
    day_slots = Slot.objects.filter(place=place, starts_at__gte=start, starts_at__lt=end).values("pk")
    return (
        BookingEvent.objects.filter(Q(from_slot__in=day_slots) | Q(to_slot__in=day_slots))
        .filter(booking__card__isnull=False, at__lte=now)
        .select_related("from_slot__place", "to_slot__place", "booking__card__at_place")
        .order_by("at", "pk")
        .iterator(chunk_size=2000)
    )


def _slot_at(events: Sequence[BookingEvent], moment: dt.datetime) -> Slot | None:
    """The booking's slot at `moment`: the last event's target (None before the booking or once cancelled)."""
    slot = None
    for event in events:
        if event.at > moment:
            break
        slot = event.to_slot
    return slot


def _last(events: Sequence[BookingEvent], matches: Callable[[BookingEvent], bool]) -> BookingEvent:
    return [event for event in events if matches(event)][-1]


def _start(slot: Slot | None) -> dt.datetime:
    assert slot is not None
    return slot.starts_at


def _sorted(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda entry: (entry.starts_at, entry.card.reservation_number))


# --- the list as a file ------------------------------------------------------------------------------------

CSV_HEADER = [
    "区分",
    "予約番号",
    "申請書ID",
    "氏名（カナ）",
    "予約時刻",
    "カードの状態",
    "カードの場所",
    "締め後の変更日時",
    "締め後の変更",
    "要対応",
]


def action_label(transfers: TransferList, entry: Entry) -> str:
    """What staff must do with the card, if anything."""
    if transfers.needs_return(entry):
        return _("事務室へ戻す")
    if entry.no_show and entry.rebooked_here:
        return _("窓口に置く（新しい予約あり）")
    if entry.kind == REMOVED or entry.no_show:
        return _("移送しない")
    if entry.in_back_office_booked and transfers.is_cut:
        return _("移送する")
    return ""


# The lists of all counters of a day in one file: the counter first, then the one counter's columns.
ALL_CSV_HEADER = ["窓口コード", "窓口", *CSV_HEADER]


def all_transfer_lists(day: dt.date, now: dt.datetime | None = None) -> list[TransferList]:
    """The lists of every counter with a card to move, keep or bring back on `day`, in the counters' order
    (a counter with none would print an empty sheet)."""
    now = now or timezone.now()
    listings = (transfer_list(place, day, now) for place in Place.objects.all())
    return [listing for listing in listings if listing.regular or listing.added or listing.removed]


def all_csv_rows(listings: Sequence[TransferList]) -> Iterator[list[object]]:
    for transfers in listings:
        for row in csv_rows(transfers):
            yield [transfers.place.code, transfers.place.name, *row]


def csv_rows(transfers: TransferList) -> Iterator[list[object]]:
    for entry in transfers.regular + transfers.added + transfers.removed:
        yield [
            entry.kind_label,
            csv_export.TextNumber(entry.card.reservation_number),
            csv_export.TextNumber(entry.card.application_id),
            entry.card.name_kana,
            timezone.localtime(entry.starts_at, TOKYO).strftime("%H:%M"),
            entry.state_label,
            entry.where_label,
            entry.changed_at,
            entry.change_label,
            action_label(transfers, entry),
        ]


def pdf(transfers: TransferList, municipality: str, printed_at: dt.datetime) -> bytes:
    """The printed list (integrations.transfer_pdf draws it)."""
    return transfer_pdf.render(_sheet(transfers, municipality, printed_at))


def all_pdf(listings: Sequence[TransferList], municipality: str, printed_at: dt.datetime) -> bytes:
    """The lists of several counters (at least one) in one file, a counter's sheet from a new page."""
    day = listings[0].day
    sheets = [_sheet(transfers, municipality, printed_at) for transfers in listings]
    return transfer_pdf.render_many(sheets, title=f"移送リスト（全窓口） {day:%Y-%m-%d}")


def _sheet(transfers: TransferList, municipality: str, printed_at: dt.datetime) -> transfer_pdf.TransferSheet:
    def local(moment: dt.datetime, fmt: str) -> str:
        return timezone.localtime(moment, TOKYO).strftime(fmt)

    def card(entry: Entry) -> str:
        return f"{entry.state_label}・{entry.where_label}"

    return transfer_pdf.TransferSheet(
        municipality=municipality,
        place=transfers.place.name,
        day=transfers.day,
        cut_at=local(transfers.cut_at, "%Y-%m-%d %H:%M"),
        printed_at=local(printed_at, "%Y-%m-%d %H:%M"),
        is_cut=transfers.is_cut,
        rows=[
            transfer_pdf.SheetRow(
                time=local(entry.starts_at, "%H:%M"),
                reservation_number=entry.card.reservation_number,
                application_id=entry.card.application_id,
                name_kana=entry.card.name_kana,
                card=card(entry),
                action=action_label(transfers, entry),
            )
            for entry in transfers.regular
        ],
        exceptions=[
            transfer_pdf.SheetException(
                kind=entry.kind_label,
                changed_at=local(entry.changed_at, "%m/%d %H:%M") if entry.changed_at else "",
                time=local(entry.starts_at, "%H:%M"),
                reservation_number=entry.card.reservation_number,
                name_kana=entry.card.name_kana,
                change=entry.change_label,
                card=card(entry),
                action=action_label(transfers, entry),
            )
            for entry in transfers.added + transfers.removed
        ],
    )
