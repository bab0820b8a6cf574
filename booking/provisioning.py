"""The named interface through which the control plane (tenants/) seeds a tenant's schema.

A preset is data, not code: a JSON file under booking/presets/ listing services, places and opening
patterns, and optionally starting texts (`"texts"`: the English versions of the citizen texts and mails).
Applying it is an upsert keyed on codes, so applying the same preset twice changes nothing. It also makes
the tenant's booking settings row (with its defaults), so that reading the settings never writes.
The caller has already switched the connection to the tenant's schema.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from booking.cards import credentials
from booking.models import BookingSettings, Card, OpeningPattern, Place, Service, StaffSecurity, Weekday
from booking.rules.card_states import CardState

PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESETS = {path.stem: path for path in PRESET_DIR.glob("*.json")}
WEEKDAY_CODES = {
    "mon": Weekday.MON,
    "tue": Weekday.TUE,
    "wed": Weekday.WED,
    "thu": Weekday.THU,
    "fri": Weekday.FRI,
    "sat": Weekday.SAT,
    "sun": Weekday.SUN,
}


class PresetError(ValueError):
    pass


def load_preset(name: str) -> dict[str, Any]:
    try:
        path = PRESETS[name]
    except KeyError as exc:
        raise PresetError(f"unknown preset {name!r}") from exc
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _time(value: str, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise PresetError(f"{where}: {value!r} is not a time (HH:MM)") from exc


def _date(value: str | None, where: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise PresetError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _pattern_fields(schedule: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        weekdays = sorted(int(WEEKDAY_CODES[code]) for code in schedule["weekdays"])
    except KeyError as exc:
        raise PresetError(f"{where}: unknown weekday {exc.args[0]!r}") from exc
    return {
        "weekdays": weekdays,
        "opens_at": _time(schedule["opens"], where),
        "closes_at": _time(schedule["closes"], where),
        "last_reception_at": _time(schedule["last_reception"], where),
        "slot_minutes": int(schedule["slot_minutes"]),
    }


@transaction.atomic
def apply_preset(name: str) -> str:
    """Upsert the preset's services, places and opening patterns and make the booking-rules and staff
    sign-in-rules rows if missing; return a one-line summary."""
    data = load_preset(name)
    # booking_rules() and accounts.security() only read: the rows are made here, once, with their defaults
    # (an existing row keeps the administrator's values).
    rules, _ = BookingSettings.objects.get_or_create(singleton=True)
    StaffSecurity.objects.get_or_create(singleton=True)
    _fill_texts(rules, data.get("texts", {}), name)
    services: dict[str, Service] = {}
    for order, item in enumerate(data["services"]):
        service, _ = Service.objects.update_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "name_en": item.get("name_en", ""),
                "web_bookable": item["web_bookable"],
                "needs_reservation_number": item["needs_reservation_number"],
                "display_order": order,
            },
        )
        # What to bring, only where the service has none: an administrator's text is never overwritten.
        bring = {
            f: item[f] for f in ("bring_text", "bring_text_en") if item.get(f) and not getattr(service, f)
        }
        if bring:
            Service.objects.filter(pk=service.pk).update(**bring)
        services[service.code] = service

    schedules = data["schedules"]
    pattern_count = 0
    for order, item in enumerate(data["places"]):
        where = f"preset {name}, place {item.get('code')!r}"
        place, _ = Place.objects.update_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "name_en": item.get("name_en", ""),
                "kind": item["kind"],
                "address": item["address"],
                "starts_on": _date(item.get("starts_on"), where),
                "ends_on": _date(item.get("ends_on"), where),
                "display_order": order,
            },
        )
        try:
            entries = data["service_sets"][item["service_set"]]
        except KeyError as exc:
            raise PresetError(f"{where}: unknown service set {item.get('service_set')!r}") from exc
        for entry in entries:
            try:
                schedule = schedules[entry["schedule"]]
                service = services[entry["service"]]
            except KeyError as exc:
                raise PresetError(f"{where}: unknown schedule or service {exc.args[0]!r}") from exc
            fields = _pattern_fields(schedule, where)
            _, created = OpeningPattern.objects.get_or_create(
                place=place,
                service=service,
                weekdays=fields["weekdays"],
                opens_at=fields["opens_at"],
                defaults={**fields, "capacity": int(entry["capacity"])},
            )
            pattern_count += 1
    return f"{len(services)} services, {len(data['places'])} places, {pattern_count} opening patterns"


def _fill_texts(rules: BookingSettings, texts: dict[str, str], name: str) -> None:
    """The preset's texts, each only where the row has none: the row exists before the preset is applied
    (migration 0015 makes it with the model's defaults, which have no English), and an administrator's text
    is never overwritten, so applying a preset again changes nothing."""
    allowed = {
        "text_top_en",
        "text_bring_en",
        "text_done_en",
        "confirmation_mail_text_en",
        "reminder_mail_text_en",
    }
    unknown = sorted(set(texts) - allowed)
    if unknown:
        raise PresetError(f"preset {name}: unknown texts {unknown}")
    empty = {field: value for field, value in texts.items() if not getattr(rules, field).strip()}
    if empty:
        for field, value in empty.items():
            setattr(rules, field, value)
        rules.save(update_fields=list(empty))


PROBE_APPLICATION_ID = "9" * 23  # not a J-LIS number: J-LIS never issues it, so no import collides with it


@transaction.atomic
def probe_card() -> tuple[str, str]:
    """The external prober's card in this tenant (BK-08), made if missing, with a new password: (reservation
    number, password). The control plane keeps both for the prober (console.availability).

    It signs in like a resident's card and holds no personal data. `Card.objects` (every staff list, count,
    search, print run, transfer, export and report) never sees it, and the engine and a trigger (migration
    0022) refuse any booking or hold of it.
    """
    password = credentials.new_password()
    card = Card.with_probe.select_for_update().filter(probe=True).first()
    if card is not None:
        card.password_digest = credentials.password_digest(password)
        card.save(update_fields=["password_digest"])
        return card.reservation_number, password
    while True:  # a reservation number is drawn at random; draw again on the rare collision
        number = credentials.new_reservation_number()
        if not Card.with_probe.filter(reservation_number=number).exists():
            break
    Card.with_probe.create(
        application_id=PROBE_APPLICATION_ID,
        reservation_number=number,
        password_digest=credentials.password_digest(password),
        name="稼働監視用",
        name_kana="カドウカンシヨウ",
        birth_date=dt.date(2000, 1, 1),
        postal_code="000-0000",
        address="-",
        state=CardState.NOTICE_SENT,
        probe=True,
    )
    return number, password


def report_addresses() -> list[str]:
    """The tenant's report addresses (its administrator's setting for the daily and monthly reports), for the
    control plane's monthly availability report (BK-08). The caller has switched to the tenant's schema."""
    from booking.reports.services import report_recipients

    return report_recipients()


def hold_minutes() -> int:
    """How long the tenant holds a resident's chosen time (its booking rules; the default without the row),
    for the vendor console: a waiting-room pass must outlast it (docs/operations.md §2.7). The caller has
    switched to the tenant's schema."""
    held = BookingSettings.objects.filter(singleton=True).values_list("hold_minutes", flat=True).first()
    return DEFAULT_HOLD_MINUTES if held is None else held


DEFAULT_HOLD_MINUTES: int = BookingSettings._meta.get_field("hold_minutes").default


def final_export() -> tuple[str, int]:
    """The full export of the tenant's data, made just before offboarding (SO-17): (storage key, bytes).

    The control plane calls it in the tenant's schema; the file outlives the schema, for the municipality.
    """
    from django.utils import timezone

    from booking.exports import full_export
    from booking.models import ExportJob

    job = ExportJob.objects.create(requested_by="offboarding", requested_at=timezone.now())
    done = full_export.run(job.pk)
    return done.key, done.size


# --- what the vendor console does in a tenant (issue 14 §3) -------------------------------------------------
# Each runs in the tenant's schema (the caller's schema_context) and writes its own entry in the tenant's
# operation log, naming the operator as "vendor:<name>", so the municipality sees what we did in its data.


def _vendor(operator: str, address: str) -> Any:
    from booking.audit import oplog

    return oplog.Actor(None, f"vendor:{operator}"[:150], address)


def invite_administrator(username: str, email: str, *, operator: str, address: str) -> Any:
    """The first administrator's one-time invitation (booking.access.invitations); the mail leaves after
    commit. Returns its Invitation (username, email, expires_at, url, created); StaffAccountError (a
    ValueError) when it cannot be made."""
    from booking.access import invitations

    return invitations.do_invite_administrator(_vendor(operator, address), username, email)


def request_full_export(*, operator: str, address: str) -> int:
    """Queue a full export (the same job as the staff console's, SO-16); its id."""
    from booking.exports import full_export

    return full_export.do_request_full_export(_vendor(operator, address)).pk


@dataclass(frozen=True)
class ExportSummary:
    pk: int
    requested_by: str
    requested_at: dt.datetime
    status: str
    status_label: str
    size: int
    expires_at: dt.datetime | None
    downloadable: bool


def full_exports(limit: int = 10) -> list[ExportSummary]:
    from django.utils import timezone

    from booking.models import ExportJob

    now = timezone.now()
    return [
        ExportSummary(
            job.pk,
            job.requested_by,
            job.requested_at,
            job.status,
            str(job.get_status_display()),
            job.size,
            job.expires_at,
            job.status == ExportJob.Status.DONE
            and bool(job.key)
            and bool(job.expires_at and job.expires_at > now),
        )
        for job in ExportJob.objects.all()[:limit]
    ]


def export_for_download(pk: int, *, operator: str, address: str) -> tuple[str, dt.datetime] | None:
    """The storage key and request time of a finished, unexpired export, its download logged in the tenant's
    operation log; None when there is no such export."""
    from django.utils import timezone

    from booking.audit import oplog
    from booking.models import ExportJob

    job = (
        ExportJob.objects.filter(pk=pk, status=ExportJob.Status.DONE, expires_at__gt=timezone.now())
        .exclude(key="")
        .first()
    )
    if job is None:
        return None
    with transaction.atomic():
        oplog.record(_vendor(operator, address), "export.download", f"export {job.pk}")
    return job.key, job.requested_at


def administrator_state(username: str) -> str:
    """ "none" (no such account), "invited" (never set a password) or "active"; for provisioning to stay
    idempotent: an account is invited once, unless the operator asks to send the invitation again."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        return "none"
    return "active" if user.has_usable_password() or user.last_login else "invited"
