"""The migration from the old booking system (SO-20): the write.

`do_import_legacy` takes what booking.migration.parsing read from the folder and writes it into the current
tenant's schema in ONE transaction. A dry run is the very same import, rolled back at the end, so a dry run
and a real run agree by construction; a real run with any rejection is rolled back too (all or nothing),
after the same full report. The reconciliation that checks it is booking.migration.reconciliation.

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

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from booking.audit import oplog
from booking.cards import credentials, notes
from booking.lib.dates import TOKYO
from booking.migration.matching import booking_key, chunks, existing_bookings, in_chunks
from booking.migration.outcome import ImportOutcome, KindCount, Reconciliation
from booking.migration.reconciliation import reconcile
from booking.migration.records import CANCELLED, CONFIRMED, NO_SHOW, VISITED, BookingRow, CardRow, LegacyData
from booking.migration.slots import Slots
from booking.models import Booking, BookingEvent, BookingSettings, Card, CardEvent, Place, Service, Slot
from booking.rules.card_states import CardState
from integrations.legacy_import import (
    BOOKINGS,
    CARDS,
    FILES,
    PLACES,
    SETTINGS,
    LegacyImportError,
    Problem,
    sorted_problems,
)

ACTOR = "legacy-import"
NOTE = notes.MIGRATED
# The advisory lock's name: never renamed with the module, so imports by two versions of the code (during a
# deploy) still wait for each other.
_LOCK_KEY = "madoguchi.booking.migration_import"
_PLACE_FIELDS = ("name", "name_en", "kind", "address")


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
            rejections=sorted_problems(self.rejections),
            warnings=sorted_problems(self.warnings),
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
        by_id = in_chunks(Card.objects.all(), "application_id", [row.application_id for row in rows])
        by_number = in_chunks(
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
        existing = existing_bookings(rows)
        to_insert = []
        for row in rows:
            key = booking_key(row)
            if existing[key] > 0:
                existing[key] -= 1
                self.existing[BOOKINGS] += 1
            else:
                to_insert.append(row)
        slots = Slots(self.place_by_code, services, to_insert)
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
        for chunk in chunks(bookings):
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
