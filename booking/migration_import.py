"""The migration from the old booking system (SO-20): the write, and the reconciliation that checks it.

`do_import_legacy` takes what integrations.legacy_import read from the folder and writes it into the current
tenant's schema in ONE transaction. A dry run is the very same import, rolled back at the end, so a dry run
and a real run agree by construction; a real run with any rejection is rolled back too (all or nothing),
after the same full report.

Bookings are inserted directly, not through the citizen's booking rules (past bookings and bookings beyond
today's window must come across), but the database's own rules still hold: the capacity trigger and
`taken <= capacity`, one confirmed booking per card. A row the database refuses is a rejection naming its
line, never a crash: each booking is inserted in a savepoint of its own.

Idempotent: a row already in the tenant (same place code, same application and reservation number, the same
booking of the same person at the same time with the same outcome) is counted as existing and left alone, so
running the import again after a real run changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from booking import credentials, schedule
from booking.lifecycle.models import CardEvent
from booking.lifecycle.states import CardState
from booking.models import Booking, BookingEvent, BookingSettings, Card, OpeningPattern, Place, Service, Slot
from booking.staff import oplog
from integrations.legacy_import import (
    BOOKINGS,
    CANCELLED,
    CARDS,
    CONFIRMED,
    FILES,
    NO_SHOW,
    PLACES,
    SETTINGS,
    STATUSES,
    TOKYO,
    VISITED,
    BookingRow,
    CardRow,
    LegacyData,
    LegacyImportError,
    Problem,
    SourceFile,
)

ACTOR = "legacy-import"
NOTE = "旧システムから移行"
# The length of a slot made for a time no opening pattern offers, when the file gives no end time.
FALLBACK_SLOT = dt.timedelta(minutes=15)
_LOCK_KEY = "madoguchi.booking.migration_import"
_CHUNK = 5000
_PLACE_FIELDS = ("name", "name_en", "kind", "address")
T = TypeVar("T")

# A booking's key: whose (reservation number, or caller kana and phone), where, what, when, and how it ended.
_BookingKey = tuple[str, str, str, str, str, dt.datetime, str]


# --- what the import reports ------------------------------------------------------------------------------


@dataclass
class KindCount:
    """Per file: its data rows, and what became of them (new + existing + rejected = source)."""

    source: int = 0
    new: int = 0
    existing: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class KindCheck:
    kind: str
    source: int
    database: int  # rows of the file found in the database after the import, by a query of their own

    @property
    def ok(self) -> bool:
        return self.source == self.database


@dataclass(frozen=True)
class DayCheck:
    """Bookings of one day by outcome (STATUSES order): in the file, and in the database."""

    day: dt.date
    source: tuple[int, ...]
    database: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.source == self.database


@dataclass(frozen=True)
class Reconciliation:
    kinds: list[KindCheck]
    days: list[DayCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.kinds) and all(check.ok for check in self.days)


@dataclass
class ImportOutcome:
    dry_run: bool
    committed: bool
    files: list[SourceFile]
    counts: dict[str, KindCount]
    also_created: dict[str, int]  # slots, card_events, booking_events
    rejections: list[Problem]
    warnings: list[Problem]
    reconciliation: Reconciliation

    @property
    def ok(self) -> bool:
        return not self.rejections and self.reconciliation.ok


# --- the import -------------------------------------------------------------------------------------------


def do_import_legacy(
    data: LegacyData, *, dry_run: bool, actor: oplog.Actor | None = None, now: dt.datetime | None = None
) -> ImportOutcome:
    """Import everything or nothing into the current tenant; a dry run rolls the same work back at the end.

    The reconciliation is counted inside the transaction, before any rollback: it is what the database
    holds (or would hold) after the import.
    """
    now = now or timezone.now()
    with transaction.atomic():
        _lock()
        run = _Run(data, now)
        run.settings()
        run.places()
        run.cards()
        run.bookings()
        reconciliation = reconcile(data)
        outcome = run.outcome(dry_run=dry_run, reconciliation=reconciliation)
        if outcome.committed and actor is not None:
            counts = {kind: vars(count) for kind, count in outcome.counts.items()}
            oplog.record(actor, "legacy.import", data.directory.name, {"counts": counts, **run.also})
        if not outcome.committed:
            transaction.set_rollback(True)
    return outcome


def _lock() -> None:
    """One migration import per tenant at a time (a second one waits, then finds the first one's rows); and
    while it runs nobody else makes slots or cards in this tenant: bookings and card moves of the tenant wait
    for it (a migration runs with the booking site closed), so the import's checks stay true until it ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(current_schema()))", [_LOCK_KEY])
        cursor.execute(
            f"LOCK TABLE {Slot._meta.db_table}, {Card._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"  # noqa: S608
        )


class _Run:
    def __init__(self, data: LegacyData, now: dt.datetime) -> None:
        self.data = data
        self.now = now
        self.rejections = list(data.rejections)
        self.warnings = list(data.warnings)
        self.new: Counter[str] = Counter()
        self.existing: Counter[str] = Counter()
        self.also: dict[str, int] = {"slots": 0, "card_events": 0, "booking_events": 0}
        self.place_by_code: dict[str, Place] = {}
        self.card_by_number: dict[str, Card] = {}

    def reject(self, problem: Problem) -> None:
        self.rejections.append(problem)

    def outcome(self, *, dry_run: bool, reconciliation: Reconciliation) -> ImportOutcome:
        rejected_lines: dict[str, set[int]] = defaultdict(set)
        for problem in self.rejections:
            rejected_lines[problem.file].add(problem.line or 0)
        counts = {
            name: KindCount(
                source=self.data.source_rows(name),
                new=self.new[name],
                existing=self.existing[name],
                rejected=len(rejected_lines[name]),
            )
            for name in FILES
        }
        return ImportOutcome(
            dry_run=dry_run,
            committed=not dry_run and not self.rejections,
            files=self.data.files,
            counts=counts,
            also_created=dict(self.also),
            rejections=sorted(self.rejections, key=lambda problem: problem.sort_key),
            warnings=sorted(self.warnings, key=lambda problem: problem.sort_key),
            reconciliation=reconciliation,
        )

    # settings.csv: the tenant's booking settings, one field per row

    def settings(self) -> None:
        if not self.data.settings:
            return
        BookingSettings.objects.get_or_create(singleton=True)
        rules = BookingSettings.objects.select_for_update().get(singleton=True)
        changed = []
        for row in self.data.settings:
            if getattr(rules, row.key) == row.value:
                self.existing[SETTINGS] += 1
            else:
                setattr(rules, row.key, row.value)
                changed.append(row.key)
                self.new[SETTINGS] += 1
        if changed:
            rules.save(update_fields=changed)

    # places.csv: a place with the same code is matched, never duplicated or changed

    def places(self) -> None:
        self.place_by_code = {place.code: place for place in Place.objects.all()}
        order = max((place.display_order for place in self.place_by_code.values()), default=-1) + 1
        for row in self.data.places:
            place = self.place_by_code.get(row.code)
            if place is not None:
                self.existing[PLACES] += 1
                differing = [name for name in _PLACE_FIELDS if getattr(place, name) != getattr(row, name)]
                if differing:
                    listed = ", ".join(differing)
                    self.warnings.append(
                        Problem(
                            PLACES,
                            row.line,
                            "code",
                            f"登録済みの交付場所と {listed} が異なります。登録済みの内容のままにします",
                            f"differs from the tenant's place in {listed}; the tenant's is kept",
                        )
                    )
                continue
            self.place_by_code[row.code] = Place.objects.create(
                code=row.code,
                name=row.name,
                name_en=row.name_en,
                kind=row.kind,
                address=row.address,
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                bookable_from=row.bookable_from,
                bookable_until=row.bookable_until,
                display_order=order,
            )
            order += 1
            self.new[PLACES] += 1

    # cards.csv: inserted in their imported state (the state trigger checks moves, not inserts)

    def cards(self) -> None:
        rows = self.data.cards
        by_id = _in_chunks(Card.objects.all(), "application_id", [row.application_id for row in rows])
        by_number = _in_chunks(
            Card.objects.all(), "reservation_number", [row.reservation_number for row in rows]
        )
        counter_of = self._counter_of_moved_cards()
        new: list[tuple[CardRow, Card]] = []
        for row in rows:
            card = by_id.get(row.application_id)
            if card is not None:
                if self._matches(row, card):
                    self.card_by_number[row.reservation_number] = card
                    self.existing[CARDS] += 1
                continue
            if row.reservation_number in by_number:
                self.reject(
                    Problem(
                        CARDS,
                        row.line,
                        "reservation_number",
                        "この予約番号は取込先のテナントで別の申請に使われています",
                        "the tenant already has this reservation number for another application",
                    )
                )
                continue
            new.append((row, self._card(row, counter_of.get(row.reservation_number))))
        try:
            with transaction.atomic():
                Card.objects.bulk_create([card for _row, card in new], batch_size=1000)
        except IntegrityError as exc:
            raise LegacyImportError(
                Problem(
                    CARDS,
                    None,
                    "",
                    "同時に別の処理がカードを登録したため中止しました。何も取り込んでいません。もう一度実行してください",
                    "another process registered cards at the same time; nothing was imported, run it again",
                )
            ) from exc
        for row, card in new:
            self.card_by_number[row.reservation_number] = card
        self.new[CARDS] += len(new)
        events = [
            CardEvent(
                card=card,
                at=card.state_changed_at,
                from_state="",
                to_state=card.state,
                actor=ACTOR,
                note=NOTE,
                place=card.at_place,
            )
            for _row, card in new
        ]
        CardEvent.objects.bulk_create(events, batch_size=1000)
        self.also["card_events"] += len(events)

    def _counter_of_moved_cards(self) -> dict[str, Place]:
        """A card moved to a counter is kept where its confirmed booking is."""
        return {
            booking.reservation_number: self.place_by_code[booking.place]
            for booking in self.data.bookings
            if booking.status == CONFIRMED
            and booking.reservation_number
            and booking.place in self.place_by_code
        }

    def _card(self, row: CardRow, counter: Place | None) -> Card:
        return Card(
            application_id=row.application_id,
            reservation_number=row.reservation_number,
            password_digest=credentials.password_digest(row.password),
            name=row.name,
            name_kana=row.name_kana,
            birth_date=row.birth_date,
            postal_code=row.postal_code,
            address=row.address,
            state=row.state,
            state_changed_at=row.state_changed_at or self.now,
            notice_sent_on=row.notice_sent_on,
            at_place=counter if row.state == CardState.MOVED else None,
        )

    def _matches(self, row: CardRow, card: Card) -> bool:
        """An application already in the tenant: the same card (existing) or a conflict (rejected)."""
        if card.reservation_number != row.reservation_number:
            self.reject(
                Problem(
                    CARDS,
                    row.line,
                    "application_id",
                    f"この申請は取込先のテナントに別の予約番号（{card.reservation_number}）で登録済みです",
                    f"the tenant has this application with reservation number {card.reservation_number}",
                )
            )
            return False
        notes = []
        if not credentials.password_matches(row.password, card.password_digest):
            notes.append(("パスワードが登録済みのものと異なります", "the password differs from the tenant's"))
        if card.state != row.state:
            notes.append(
                (
                    f"状態が登録済みのもの（{card.state}）と異なります",
                    f"the state differs from the tenant's ({card.state})",
                )
            )
        for ja, en in notes:
            self.warnings.append(
                Problem(
                    CARDS,
                    row.line,
                    "application_id",
                    f"登録済みの申請です。{ja}（変更しません）",
                    f"already there; {en} (not changed)",
                )
            )
        return True

    # bookings.csv: inserted directly, each in its own savepoint so a refusal names its line

    def bookings(self) -> None:
        services = {service.code: service for service in Service.objects.all()}
        rows = [row for row in self.data.bookings if self._resolvable(row, services)]
        existing = _existing_bookings(rows)
        to_insert = []
        for row in rows:
            key = _row_key(row)
            if existing[key] > 0:
                existing[key] -= 1
                self.existing[BOOKINGS] += 1
            else:
                to_insert.append(row)
        slots = _Slots(self.place_by_code, services, to_insert)
        made = self._insert_all([(row, slots.slot_for(row)) for row in to_insert])
        self.warnings.extend(slots.warnings())
        self.also["slots"] += slots.created
        self.new[BOOKINGS] += len(made)
        self._history(made)

    def _resolvable(self, row: BookingRow, services: dict[str, Service]) -> bool:
        problems = []
        if row.place not in self.place_by_code:
            problems.append(
                Problem(
                    BOOKINGS,
                    row.line,
                    "place",
                    f"交付場所 {row.place} が取込先のテナントにも places.csv にもありません",
                    f"no place {row.place} in the tenant or in places.csv",
                )
            )
        if row.service not in services:
            listed = ", ".join(sorted(services))
            problems.append(
                Problem(
                    BOOKINGS,
                    row.line,
                    "service",
                    f"サービス {row.service} がありません（使えるのは {listed}）",
                    f"no service {row.service} (known: {listed})",
                )
            )
        if row.reservation_number and row.reservation_number not in self.card_by_number:
            problems.append(
                Problem(
                    BOOKINGS,
                    row.line,
                    "reservation_number",
                    "この予約番号のカードを取り込めないため、この予約も取り込めません",
                    "the card of this reservation number is rejected, so this booking is too",
                )
            )
        self.rejections.extend(problems)
        return not problems

    def _insert_all(self, pairs: list[tuple[BookingRow, Slot]]) -> list[tuple[BookingRow, Booking]]:
        """All in one statement when the database takes them all (the usual case, and fast); else one
        savepoint per booking, so that every refused line is named and the others still go in."""
        try:
            with transaction.atomic():
                bookings = Booking.objects.bulk_create(
                    [self._booking(row, slot) for row, slot in pairs], batch_size=1000
                )
            return [(row, booking) for (row, _slot), booking in zip(pairs, bookings, strict=True)]
        except IntegrityError:
            pass  # at least one is refused: find out which, below
        made = []
        for row, slot in pairs:
            booking = self._booking(row, slot)
            try:
                with transaction.atomic():
                    booking.save(force_insert=True)
            except IntegrityError as error:
                self.reject(_refusal(row, slot, error))
                continue
            made.append((row, booking))
        return made

    def _booking(self, row: BookingRow, slot: Slot) -> Booking:
        outcome = row.status if row.status in {VISITED, NO_SHOW} else ""
        return Booking(
            card=self.card_by_number.get(row.reservation_number) if row.reservation_number else None,
            caller_name_kana="" if row.reservation_number else row.caller_name_kana,
            slot=slot,
            status=Booking.Status.CANCELLED if row.status == CANCELLED else Booking.Status.CONFIRMED,
            channel=row.channel,
            contact_phone=row.contact_phone,
            contact_email=row.contact_email,
            cancelled_at=row.cancelled_at,
            outcome=outcome,
            outcome_at=(row.outcome_at or slot.ends_at) if outcome else None,
            outcome_by=ACTOR if outcome else "",
        )

    def _history(self, made: list[tuple[BookingRow, Booking]]) -> None:
        """created_at as the old system had it, and each booking's events (booked; cancelled)."""
        events = []
        for row, booking in made:
            booking.created_at = row.created_at or row.cancelled_at or self.now
            events.append(
                BookingEvent(
                    booking=booking,
                    at=booking.created_at,
                    kind=BookingEvent.Kind.BOOKED,
                    channel=row.channel,
                    actor=ACTOR,
                    to_slot=booking.slot,
                )
            )
            if row.cancelled_at is not None:
                events.append(
                    BookingEvent(
                        booking=booking,
                        at=row.cancelled_at,
                        kind=BookingEvent.Kind.CANCELLED,
                        channel=row.channel,
                        actor=ACTOR,
                        from_slot=booking.slot,
                    )
                )
        _set_created_at([booking for _row, booking in made])
        BookingEvent.objects.bulk_create(events, batch_size=1000)
        self.also["booking_events"] += len(events)


def _set_created_at(bookings: list[Booking]) -> None:
    """Booking.created_at is auto_now_add, which the ORM sets on insert whatever it is given: one UPDATE
    from two arrays puts the old system's times back (bulk_update's CASE is far slower for many rows)."""
    table = Booking._meta.db_table
    with connection.cursor() as cursor:
        for chunk in _chunks(bookings):
            cursor.execute(
                f"UPDATE {table} AS b SET created_at = v.created_at "  # noqa: S608 - the model's own table
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, created_at) WHERE b.id = v.id",
                [[booking.pk for booking in chunk], [booking.created_at for booking in chunk]],
            )


def _refusal(row: BookingRow, slot: Slot, error: IntegrityError) -> Problem:
    constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", "") or ""
    if constraint == "slot_taken_within_capacity":
        when = f"{slot.starts_at.astimezone(TOKYO):%Y-%m-%d %H:%M}"
        ja, en = (
            f"{when} の定員（{slot.capacity}人）を超えます。"
            "受付パターンの定員を増やすか、予約を見直してください",
            f"over the capacity of {when} ({slot.capacity}); "
            "raise the opening pattern's capacity or correct the bookings",
        )
        return Problem(BOOKINGS, row.line, "start", ja, en)
    if constraint == "booking_one_active_per_card":
        return Problem(
            BOOKINGS,
            row.line,
            "status",
            "このカードには取込先のテナントで既に予約中の予約があります",
            "the card already has a confirmed booking in the tenant",
        )
    return Problem(
        BOOKINGS,
        row.line,
        "",
        f"データベースが受け付けません（{constraint or error}）",
        f"refused by the database ({constraint or error})",
    )


class _Slots:
    """The Slot row of each booking's time: the tenant's own, else one made with the opening pattern's
    capacity for that time, else (no pattern offers it) with as many places as the file has people there.
    The missing ones are made together, up front."""

    def __init__(
        self, places: dict[str, Place], services: dict[str, Service], rows: Sequence[BookingRow]
    ) -> None:
        self.created = 0
        self.unpatterned: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
        self.by_key: dict[_SlotKey, Slot] = {}
        if not rows:
            return
        starts = [row.starts_at for row in rows]
        existing = Slot.objects.filter(
            place__in={places[row.place] for row in rows},
            starts_at__gte=min(starts),
            starts_at__lte=max(starts),
        ).select_related("place", "service")
        self.by_key = {(slot.place.code, slot.service.code, slot.starts_at): slot for slot in existing}
        patterns: dict[tuple[int, int], list[OpeningPattern]] = defaultdict(list)
        for pattern in OpeningPattern.objects.filter(place__in=places.values()):
            patterns[(pattern.place_id, pattern.service_id)].append(pattern)
        people = Counter(_slot_key(row) for row in rows if row.status != CANCELLED)
        missing: dict[_SlotKey, Slot] = {}
        for row in rows:
            key = _slot_key(row)
            if key in self.by_key or key in missing:
                continue
            place, service = places[row.place], services[row.service]
            offered = _offered(patterns.get((place.pk, service.pk), []), row.starts_at)
            if offered is not None:
                ends_at, capacity = offered.ends_at, offered.capacity
            else:
                ends_at = row.ends_at or row.starts_at + FALLBACK_SLOT
                capacity = max(1, people[key])
                self.unpatterned[(row.place, row.service)].append(row.starts_at)
            missing[key] = Slot(
                place=place, service=service, starts_at=row.starts_at, ends_at=ends_at, capacity=capacity
            )
        # The slot table is locked for the import (_lock), so nobody else makes one of these meanwhile.
        Slot.objects.bulk_create(missing.values(), batch_size=1000)
        self.by_key.update(missing)
        self.created = len(missing)

    def slot_for(self, row: BookingRow) -> Slot:
        return self.by_key[_slot_key(row)]

    def warnings(self) -> Iterator[Problem]:
        for (place, service), times in sorted(self.unpatterned.items()):
            shown = ", ".join(f"{moment.astimezone(TOKYO):%Y-%m-%d %H:%M}" for moment in sorted(times)[:3])
            more = "…" if len(times) > 3 else ""
            yield Problem(
                BOOKINGS,
                None,
                "",
                f"{place} / {service}: 受付パターンにない時間が{len(times)}件あり（{shown}{more}）、"
                "その時間の定員は予約の人数にしました",
                f"{place} / {service}: {len(times)} time(s) no opening pattern offers ({shown}{more}); "
                "their capacity is the number of people booked",
            )


_SlotKey = tuple[str, str, dt.datetime]


def _slot_key(row: BookingRow) -> _SlotKey:
    return (row.place, row.service, row.starts_at)


def _offered(patterns: Iterable[OpeningPattern], starts_at: dt.datetime) -> schedule.SlotTime | None:
    """The pattern's slot at that time. Holidays, closed days and the place's dates are ignored on purpose:
    the booking was made, and only the pattern's capacity and slot length are wanted."""
    day = starts_at.astimezone(TOKYO).date()
    for pattern in patterns:
        for slot in schedule.pattern_slots(pattern, day):
            if slot.starts_at == starts_at:
                return slot
    return None


def _in_chunks(queryset: Any, field_name: str, values: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        found.update(
            (getattr(item, field_name), item) for item in queryset.filter(**{f"{field_name}__in": chunk})
        )
    return found


# --- matching bookings: the import's "existing" and the reconciliation's "found" ----------------------------


def _row_key(row: BookingRow) -> _BookingKey:
    if row.reservation_number:
        who = (row.reservation_number, "", "")
    else:
        who = ("", row.caller_name_kana, row.contact_phone)
    return (*who, row.place, row.service, row.starts_at, row.status)


def _db_key(values: dict[str, Any]) -> _BookingKey:
    cancelled = values["status"] == Booking.Status.CANCELLED
    status = CANCELLED if cancelled else values["outcome"] or CONFIRMED
    number = values["card__reservation_number"] or ""
    who = (number, "", "") if number else ("", values["caller_name_kana"], values["contact_phone"])
    return (
        *who,
        values["slot__place__code"],
        values["slot__service__code"],
        values["slot__starts_at"],
        status,
    )


def _existing_bookings(rows: Iterable[BookingRow]) -> Counter[_BookingKey]:
    """The tenant's bookings of the people in `rows`, by key (a multiset: the same booking may recur)."""
    numbers = sorted({row.reservation_number for row in rows if row.reservation_number})
    kanas = sorted({row.caller_name_kana for row in rows if not row.reservation_number})
    fields = (
        "card__reservation_number",
        "caller_name_kana",
        "contact_phone",
        "slot__place__code",
        "slot__service__code",
        "slot__starts_at",
        "status",
        "outcome",
    )
    keys: Counter[_BookingKey] = Counter()
    for chunk in _chunks(numbers):
        keys.update(
            _db_key(values)
            for values in Booking.objects.filter(card__reservation_number__in=chunk).values(*fields)
        )
    for chunk in _chunks(kanas):
        callers = Booking.objects.filter(card__isnull=True, caller_name_kana__in=chunk)
        keys.update(_db_key(values) for values in callers.values(*fields))
    return keys


def _chunks(values: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- reconciliation ---------------------------------------------------------------------------------------


def reconcile(data: LegacyData) -> Reconciliation:
    """Each file's rows against what a fresh look at the database finds, and the bookings of each day.

    Counted by queries of their own, not from the import's bookkeeping, so a bug in the import shows here.
    """
    kinds = [
        KindCheck(SETTINGS, data.source_rows(SETTINGS), _settings_found(data)),
        KindCheck(PLACES, data.source_rows(PLACES), _places_found(data)),
        KindCheck(CARDS, data.source_rows(CARDS), _cards_found(data)),
        KindCheck(BOOKINGS, data.source_rows(BOOKINGS), _bookings_found(data)),
    ]
    return Reconciliation(kinds=kinds, days=_days(data))


def _settings_found(data: LegacyData) -> int:
    rules = BookingSettings.objects.filter(singleton=True).first()
    if rules is None:
        return 0
    return sum(1 for row in data.settings if getattr(rules, row.key) == row.value)


def _places_found(data: LegacyData) -> int:
    codes = set(
        Place.objects.filter(code__in=[row.code for row in data.places]).values_list("code", flat=True)
    )
    return sum(1 for row in data.places if row.code in codes)


def _cards_found(data: LegacyData) -> int:
    """Cards with the same application, reservation number and password (the citizen's letter works)."""
    ids = [row.application_id for row in data.cards]
    stored: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        cards = Card.objects.filter(application_id__in=chunk).values_list(
            "application_id", "reservation_number", "password_digest"
        )
        stored.update((application_id, (number, digest)) for application_id, number, digest in cards)
    found = 0
    for row in data.cards:
        number, digest = stored.get(row.application_id, ("", ""))
        if number == row.reservation_number and credentials.password_matches(row.password, digest):
            found += 1
    return found


def _bookings_found(data: LegacyData) -> int:
    wanted = Counter(_row_key(row) for row in data.bookings)
    stored = _existing_bookings(data.bookings)
    return sum(min(count, stored[key]) for key, count in wanted.items())


def _days(data: LegacyData) -> list[DayCheck]:
    stored: Counter[tuple[dt.date, str]] = Counter()
    per_day = (
        Booking.objects.annotate(day=TruncDate("slot__starts_at", tzinfo=TOKYO))
        .values("day", "status", "outcome")
        .annotate(count=Count("pk"))
    )
    for item in per_day:
        status = CANCELLED if item["status"] == Booking.Status.CANCELLED else item["outcome"] or CONFIRMED
        stored[(item["day"], status)] += item["count"]
    days = sorted({day for day, _status in data.source_days} | {day for day, _status in stored})
    return [
        DayCheck(
            day=day,
            source=tuple(data.source_days[(day, status)] for status in STATUSES),
            database=tuple(stored[(day, status)] for status in STATUSES),
        )
        for day in days
    ]
