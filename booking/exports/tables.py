"""What the full export writes (SO-16 "all data"): one CSV per tenant table, and for each column the model
fields it carries.

Every field of every tenant model is either a column of some file or named in `omitted` with the reason; a
whole model stays out only if it is in `NOT_EXPORTED` with the reason. `tests/exports/test_export_covers_
every_table.py` checks both against the models Django knows, and the files and columns against
docs/formats/full-export.md, so a model or field added without a decision fails the suite.

References between files use the keys people know (a place's and a service's code, a card's application ID,
a booking's number) where the old files did; tables added later carry the referenced row's id, which is the
`id` column of the file it refers to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from booking.models import (
    AllowedNetwork,
    Booking,
    BookingEvent,
    BookingSettings,
    CallLogEntry,
    Card,
    CardEvent,
    CardImportJob,
    ClosedDay,
    ExportJob,
    NoticeRun,
    OpeningPattern,
    OperationLogAnchor,
    OperationLogEntry,
    OutboxMail,
    Place,
    Report,
    Service,
    Slot,
    StaffProfile,
    StaffSecurity,
    TransferConfirmation,
)

CHUNK = 2000

# Tenant models with no file, and why (checked by the coverage test).
NOT_EXPORTED = {
    "booking.hold": "a time held for at most a few minutes while a person confirms; nothing lasting",
    "booking.citizentoken": "sign-in tokens of the citizen API (digests of secrets), valid for minutes",
    "booking.stafftoken": "sign-in tokens of the staff API (digests of secrets)",
    "booking.idempotentrequest": "answers kept a day to replay a retried request; the bookings are exported",
}
SECRET = "a secret's digest: never leaves the system"  # noqa: S105 - a reason, not a password
ROW_ID = "the row's internal number: the file's own key is another column"
SINGLETON = "marks the one settings row"
STORED_FILE = "the storage key of a file that is deleted when its download expires"


@dataclass(frozen=True)
class Column:
    name: str
    value: Callable[[Any], object]
    fields: tuple[str, ...]  # the model fields this column carries


@dataclass(frozen=True)
class Table:
    filename: str
    model: type[Model]
    columns: tuple[Column, ...]
    order_by: tuple[str, ...] = ("pk",)
    related: tuple[str, ...] = ()
    omitted: Mapping[str, str] = field(default_factory=dict)

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    def rows(self) -> Iterator[list[object]]:
        queryset = self.model._default_manager.order_by(*self.order_by)
        if self.related:
            queryset = queryset.select_related(*self.related)
        for item in queryset.iterator(chunk_size=CHUNK):
            yield [column.value(item) for column in self.columns]

    def unexported_fields(self) -> list[str]:
        """The model's fields that no column carries and no reason leaves out (the coverage test's check)."""
        carried = {name for column in self.columns for name in column.fields} | set(self.omitted)
        return [f.name for f in self.model._meta.concrete_fields if f.name not in carried]


def plain(name: str, column: str = "") -> Column:
    """A field as it is stored (a reference: the id of the referenced row)."""

    def value(item: Any) -> object:
        found = item._meta.get_field(name)
        return getattr(item, found.attname)

    return Column(column or name, value, (name,))


def code_of(name: str, column: str = "") -> Column:
    """A reference to a place or service as its code ("" when none)."""

    def value(item: Any) -> object:
        target = getattr(item, name)
        return target.code if target is not None else ""

    return Column(column or name, value, (name,))


def derived(column: str, value: Callable[[Any], object], *fields: str) -> Column:
    return Column(column, value, fields)


def every_field(model: type[Model], *, leave_out: Iterable[str] = ()) -> tuple[Column, ...]:
    """All the model's fields in their order, as stored: for settings rows and run records, so a field added
    later is exported without anyone remembering to."""
    skipped = set(leave_out)
    return tuple(plain(f.name) for f in model._meta.concrete_fields if f.name not in skipped)


def _slot_part(name: str, part: Callable[[Slot], object]) -> Callable[[Any], object]:
    def value(item: Any) -> object:
        slot = getattr(item, name)
        return part(slot) if slot is not None else ""

    return value


def _settings(model: type[Model], filename: str) -> Table:
    return Table(
        filename,
        model,
        every_field(model, leave_out=("id", "singleton")),
        omitted={"id": ROW_ID, "singleton": SINGLETON},
    )


def _run(model: type[Model], filename: str, *stored_files: str) -> Table:
    return Table(
        filename,
        model,
        every_field(model, leave_out=stored_files),
        omitted={name: STORED_FILE for name in stored_files},
    )


def tables() -> list[Table]:
    """Every file of the export, in the order they go into the zip."""
    return [
        Table(
            "services.csv",
            Service,
            tuple(
                plain(name)
                for name in (
                    "code",
                    "name",
                    "name_en",
                    "web_bookable",
                    "needs_reservation_number",
                    "display_order",
                    "bring_text",
                    "bring_text_en",
                )
            ),
            omitted={"id": ROW_ID},
        ),
        Table(
            "places.csv",
            Place,
            tuple(
                plain(name)
                for name in (
                    "code",
                    "name",
                    "name_en",
                    "kind",
                    "address",
                    "starts_on",
                    "ends_on",
                    "bookable_from",
                    "bookable_until",
                    "display_order",
                )
            ),
            omitted={"id": ROW_ID},
        ),
        Table(
            "opening_patterns.csv",
            OpeningPattern,
            (
                code_of("place"),
                code_of("service"),
                derived("weekdays", lambda p: " ".join(str(day) for day in p.weekdays), "weekdays"),
                *(
                    plain(name)
                    for name in ("opens_at", "closes_at", "last_reception_at", "slot_minutes", "capacity")
                ),
            ),
            related=("place", "service"),
            omitted={"id": ROW_ID},
        ),
        Table(
            "closed_days.csv",
            ClosedDay,
            (plain("date"), code_of("place"), plain("reason")),
            order_by=("date",),
            related=("place",),
            omitted={"id": ROW_ID},
        ),
        _settings(BookingSettings, "booking_settings.csv"),
        Table(
            "slots.csv",
            Slot,
            (
                plain("id"),
                code_of("place"),
                code_of("service"),
                *every_field(Slot, leave_out=("id", "place", "service")),
            ),
            related=("place", "service"),
        ),
        Table(
            "cards.csv",
            Card,
            (
                *(
                    plain(name)
                    for name in (
                        "application_id",
                        "reservation_number",
                        "name",
                        "name_kana",
                        "birth_date",
                        "postal_code",
                        "address",
                        "imported_at",
                        "state",
                        "state_changed_at",
                        "notice_sent_on",
                    )
                ),
                code_of("at_place"),
                plain("import_job"),
            ),
            related=("at_place",),
            omitted={
                "id": "cards are keyed by their application ID",
                "password_digest": SECRET,
                # the default manager leaves the prober's card out, so every exported card has it false
                "probe": "the external prober's card (BK-08) is ours, not the municipality's: never exported",
            },
        ),
        Table(
            "card_events.csv",
            CardEvent,
            (
                derived("application_id", lambda e: e.card.application_id, "card"),
                plain("at"),
                plain("from_state"),
                plain("to_state"),
                code_of("place"),
                plain("actor"),
                plain("note"),
            ),
            related=("card", "place"),
            omitted={"id": ROW_ID},
        ),
        Table(
            "bookings.csv",
            Booking,
            (
                plain("id", "booking_id"),
                derived("application_id", lambda b: b.card.application_id if b.card else "", "card"),
                plain("caller_name_kana"),
                derived("place", lambda b: b.slot.place.code, "slot"),
                derived("service", lambda b: b.slot.service.code, "slot"),
                derived("start", lambda b: b.slot.starts_at, "slot"),
                derived("end", lambda b: b.slot.ends_at, "slot"),
                *(
                    plain(name)
                    for name in (
                        "status",
                        "channel",
                        "contact_phone",
                        "contact_email",
                        "created_at",
                        "changed_at",
                        "cancelled_at",
                        "checked_in_at",
                        "outcome",
                        "outcome_at",
                        "language",
                        "reminder_sent_at",
                        "outcome_by",
                    )
                ),
            ),
            related=("card", "slot__place", "slot__service"),
        ),
        Table(
            "booking_events.csv",
            BookingEvent,
            (
                plain("booking", "booking_id"),
                plain("at"),
                plain("kind"),
                plain("channel"),
                plain("actor"),
                derived("from_start", _slot_part("from_slot", lambda s: s.starts_at), "from_slot"),
                derived("from_place", _slot_part("from_slot", lambda s: s.place.code)),
                derived("to_start", _slot_part("to_slot", lambda s: s.starts_at), "to_slot"),
                derived("to_place", _slot_part("to_slot", lambda s: s.place.code)),
            ),
            related=("from_slot__place", "to_slot__place"),
            omitted={"id": ROW_ID},
        ),
        Table(
            "call_log.csv",
            CallLogEntry,
            every_field(CallLogEntry, leave_out=("id",)),
            order_by=("at", "pk"),
            omitted={"id": ROW_ID},
        ),
        Table(
            "transfer_confirmations.csv",
            TransferConfirmation,
            (code_of("place"), *every_field(TransferConfirmation, leave_out=("id", "place"))),
            order_by=("day", "pk"),
            related=("place",),
            omitted={"id": ROW_ID},
        ),
        _run(CardImportJob, "card_imports.csv", "file_key"),
        _run(NoticeRun, "notice_runs.csv", "pdf_key", "csv_key"),
        _run(ExportJob, "exports.csv", "key"),
        _run(Report, "reports.csv"),
        _run(OutboxMail, "mails.csv"),
        Table(
            "staff.csv",
            StaffProfile,
            (
                derived("username", lambda s: s.user.username, "user"),
                plain("role"),
                derived("active", lambda s: s.user.is_active),
                derived("last_login", lambda s: s.user.last_login),
                plain("password_changed_at"),
                plain("must_change_password"),
                plain("failed_logins"),
                plain("locked_at"),
            ),
            related=("user",),
            omitted={"id": ROW_ID},
        ),
        _settings(StaffSecurity, "staff_security.csv"),
        Table(
            "allowed_networks.csv",
            AllowedNetwork,
            (plain("network"), plain("label")),
            order_by=("network",),
            omitted={"id": ROW_ID},
        ),
        Table(
            "operation_log.csv",
            OperationLogEntry,
            (
                plain("seq"),
                plain("at"),
                plain("user_id_snapshot", "user_id"),
                *(
                    plain(name)
                    for name in (
                        "username",
                        "address",
                        "action",
                        "target",
                        "detail",
                        "previous_digest",
                        "digest",
                    )
                ),
            ),
            order_by=("seq",),
        ),
        _settings(OperationLogAnchor, "operation_log_anchor.csv"),
    ]
