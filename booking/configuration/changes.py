"""What every settings change is made of: the errors and refusals it may end in, the old → new record the
operation log keeps, and the helpers the settings modules share (`update_rules` for the booking rules row)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from booking.audit import oplog
from booking.lib.dates import TOKYO, plausible_day
from booking.models import Booking, BookingSettings

NON_FIELD = "__all__"  # Django's key for errors of a whole form


class SettingsInvalid(Exception):
    """Input that breaks a rule: one message per field (`NON_FIELD` for the form as a whole)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class AffectedSlot:
    """A slot whose people would not fit the capacity asked for."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    service: str
    taken: int  # confirmed bookings and live holds
    capacity: int  # the capacity asked for


@dataclass(frozen=True)
class AffectedBooking:
    booking_id: int
    starts_at: dt.datetime
    place: str
    service: str
    reservation_number: str


class SettingsRefused(Exception):
    """A change refused because of existing bookings; `slots` and `bookings` say which."""

    def __init__(
        self,
        message: str,
        *,
        slots: Sequence[AffectedSlot] = (),
        bookings: Sequence[AffectedBooking] = (),
    ) -> None:
        self.message = message
        self.slots = list(slots)
        self.bookings = list(bookings)
        super().__init__(message)


class SettingsChangedMeanwhile(Exception):
    """A page saved over a change made since it was shown (another tab, another administrator): nothing
    is written; `fields` names the fields that are saved differently now."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = list(fields)
        super().__init__(", ".join(self.fields))


Seen = Mapping[str, str]  # what a page showed, field by field, as `comparable` writes it


def comparable(values: Mapping[str, Any]) -> dict[str, str]:
    """Values as a page's mark of what it showed keeps them: a digest of each (only sameness is asked, and
    a page of mail texts would otherwise carry them all again in its mark), None as "", a row as its id (a
    form's initial value of a foreign key), a tuple as a list."""
    return {name: _comparable(value) for name, value in values.items()}


def _comparable(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, Model):
        text = str(value.pk)
    else:
        text = str(list(value) if isinstance(value, tuple) else value)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_unchanged(seen: Seen | None, current: Mapping[str, Any]) -> None:
    """Refuse a save made from a page that showed other values than `current`, read under the row's lock
    (so two saves from one page at the same instant cannot both pass: the second reads the first's).
    `seen` None: a form without the mark (a hand-made request), taken as it is."""
    if seen is None:
        return
    changed = [name for name, value in comparable(current).items() if seen.get(name) != value]
    if changed:
        raise SettingsChangedMeanwhile(changed)


def values_of(data: Any) -> dict[str, Any]:
    return {f.name: getattr(data, f.name) for f in fields(data)}


def shown(value: Any) -> Any:
    """A value as the operation log keeps it (JSON)."""
    if isinstance(value, Model):
        return getattr(value, "code", None) or str(value.pk)
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return list(value)
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old": …, "new": …}} of the fields that differ."""
    return {
        name: {"old": shown(before.get(name)), "new": shown(value)}
        for name, value in after.items()
        if shown(before.get(name)) != shown(value)
    }


def apply_values(obj: Model, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


def tokyo_today(now: dt.datetime) -> dt.date:
    return now.astimezone(TOKYO).date()


def _locked_rules() -> BookingSettings:
    """The settings row, locked until the transaction ends.

    Provisioning and migration 0015 make the row; a write still makes it if it is missing (reads do not,
    see booking.engine.queries.booking_rules), so the first save on such a tenant works.
    """
    BookingSettings.objects.get_or_create(singleton=True)
    return BookingSettings.objects.select_for_update().get(singleton=True)


def day_range(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in Tokyo time."""
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=TOKYO),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=TOKYO),
    )


def affected_bookings(bookings: QuerySet[Booking]) -> list[AffectedBooking]:
    return [
        AffectedBooking(
            booking_id=b.pk,
            starts_at=b.slot.starts_at,
            place=b.slot.place.label,  # shown on the settings page, in its language
            service=b.slot.service.label,
            reservation_number=b.card.reservation_number if b.card else "",
        )
        for b in bookings.select_related("slot__place", "slot__service", "card").order_by(
            "slot__starts_at", "pk"
        )
    ]


def check_dates_plausible(values: Mapping[str, dt.date | None], problems: dict[str, str]) -> None:
    for name, day in values.items():
        if day is not None and not plausible_day(day):
            problems[name] = _("日付は2000年から2099年の間で入力してください。")


def update_rules(
    actor: oplog.Actor, action: str, values: dict[str, Any], seen: Seen | None = None
) -> dict[str, dict[str, Any]]:
    """Write `values` to the settings row and log what changed, in one transaction; returns the changes.
    Refused (`SettingsChangedMeanwhile`) when the row no longer holds what the page showed (`seen`)."""
    with transaction.atomic():
        rules = _locked_rules()
        check_unchanged(seen, {name: getattr(rules, name) for name in values})
        changes = diff({name: getattr(rules, name) for name in values}, values)
        if changes:
            apply_values(rules, values)
            rules.save(update_fields=list(values))
            oplog.record(actor, action, "booking settings", {"changes": changes})
    return changes
