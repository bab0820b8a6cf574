"""Shapes of the citizen API: input validation and output."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from booking.engine.queries import FreeSlot
from booking.lib.dates import TOKYO, parse_date, plausible_day
from booking.models import Booking, Place, Service

MAX_RANGE_DAYS = 92


def iso(when: dt.datetime) -> str:
    return when.astimezone(TOKYO).isoformat()


class TokyoDateTimeField(serializers.DateTimeField):
    """ISO 8601; a time without an offset is taken as Japan time."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        if not plausible_day(parsed.date()):
            raise serializers.ValidationError(_("日時の範囲が正しくありません。"))
        return parsed.astimezone(TOKYO)

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=TOKYO) if value.tzinfo is None else value


class DayField(serializers.DateField):
    """A day as YYYY-MM-DD, read as the pages read it (booking.lib.dates): DRF's own parser also took
    "20261206" and the ISO week date "2026-W49-7"."""

    def to_internal_value(self, value: Any) -> dt.date:
        day = parse_date(value) if isinstance(value, str) else None
        if day is None:
            raise serializers.ValidationError(_("日付は YYYY-MM-DD の形式で指定してください。"))
        return day


class LocationOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    services = serializers.ListField(child=serializers.CharField())

    @staticmethod
    def of(place: Place) -> dict[str, Any]:
        codes = sorted({p.service.code for p in place.opening_patterns.all()})
        return {"id": place.pk, "name": place.name, "address": place.address, "services": codes}


def range_problem(first: dt.date | None, last: dt.date | None) -> dict[str, str] | None:
    """What is wrong with an availability query's days ({field: message}), or None."""
    for name, day in (("from", first), ("to", last)):
        if day and not plausible_day(day):
            return {name: _("日付の範囲が正しくありません。")}
    if first and last:
        if last < first:
            return {"to": _("from 以降の日付にしてください。")}
        if (last - first).days > MAX_RANGE_DAYS:
            return {"to": _("期間は%(days)d日以内にしてください。") % {"days": MAX_RANGE_DAYS}}
    return None


_PLAIN_LOCATION = re.compile(r"[1-9][0-9]{0,17}")
_PLAIN_SERVICE = re.compile(r"[-a-zA-Z0-9_]{1,40}")


def query_of(request: HttpRequest) -> Mapping[str, str]:
    """A request's query parameters, the last of a repeated name as `QueryDict.get` gives it, read without
    building the QueryDict (a tenth of an availability answer served from the cache; issue 12). Only for
    `plain_availability_query`, which accepts nothing but ASCII: too many fields give {} (DRF's path then
    reads request.GET and refuses them as before)."""
    if "GET" in request.__dict__:  # already read: the same answer
        return request.GET
    try:
        return dict(
            parse_qsl(
                request.META.get("QUERY_STRING", ""),
                keep_blank_values=True,
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        )
    except ValueError:
        return {}


def plain_availability_query(params: Any) -> dict[str, Any] | None:
    """The usual availability query (location, service, maybe from and to, all well formed), read without
    DRF's field machinery, which costs a third of an answer served from the cache (issue 12). Anything it
    does not accept (None) goes through AvailabilityQuery, which words the error; what it accepts,
    AvailabilityQuery accepts too, with the same values."""
    location, service = params.get("location", ""), params.get("service", "")
    if not (_PLAIN_LOCATION.fullmatch(location) and _PLAIN_SERVICE.fullmatch(service)):
        return None
    days: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        text = params.get(name)
        days[name] = parse_date(text) if isinstance(text, str) else None
        if text is not None and days[name] is None:
            return None
    if range_problem(days["from"], days["to"]):
        return None
    return {"location": int(location), "service": service, "from_": days["from"], "to": days["to"]}


class PlaceField(serializers.PrimaryKeyRelatedField):
    """A place by its id, a whole number (GET /api/v1/locations/ lists them), with errors that say so; DRF's
    own read "invalid primary key" and took 1.7 for place 1."""

    default_error_messages = {
        "does_not_exist": gettext_lazy(
            "場所 {pk_value} はありません。GET /api/v1/locations/ の id を指定してください。"
        ),
        "incorrect_type": gettext_lazy(
            "場所は id（整数）で指定してください。GET /api/v1/locations/ に一覧があります。"
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Place.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        # true is no place; 3.0 (as some JSON writers send a whole number) is place 3, 1.7 is no place
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(int(data) if isinstance(data, float) else data)


class ServiceField(serializers.SlugRelatedField):
    """A service by its code (each place's `services` in GET /api/v1/locations/)."""

    default_error_messages = {
        "does_not_exist": gettext_lazy(
            "サービス「{value}」はありません。"
            "GET /api/v1/locations/ の services にあるコードを指定してください。"
        ),
        "invalid": gettext_lazy("サービスはコード（文字列）で指定してください。"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="code", queryset=Service.objects.all(), **kwargs)


class AvailabilityQuery(serializers.Serializer):
    """Checked without the database: whether the place and service exist is found only when the answer is
    not in the cache (booking.engine.availability_cache raises Unknown; `unknown` words the error as
    before)."""

    location = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    service = serializers.SlugField(max_length=40)
    from_ = DayField(required=False, source="from_")  # the query's `from` (get_fields), a keyword in Python
    to = DayField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        """`from_` answers to the query's `from`, and its errors are named `from` as the client sent it."""
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "dict"):
            data = data.dict()  # a QueryDict's last value of each name, as the plain path reads it
        return super().to_internal_value(dict(data))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = range_problem(attrs.get("from_"), attrs.get("to"))
        if problem:
            raise serializers.ValidationError(problem)
        return attrs

    @staticmethod
    def unknown(field: str, value: Any) -> serializers.ValidationError:
        """The error the related fields gave for a place or service that does not exist."""
        if field == "location":
            message = PlaceField.default_error_messages["does_not_exist"]
            return serializers.ValidationError({field: [str(message).format(pk_value=value)]})
        message = ServiceField.default_error_messages["does_not_exist"]
        return serializers.ValidationError({field: [str(message).format(value=value)]})


class SlotOut(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    capacity = serializers.IntegerField()
    remaining = serializers.IntegerField()

    @staticmethod
    def of(slot: FreeSlot) -> dict[str, Any]:
        return {
            "start": iso(slot.starts_at),
            "end": iso(slot.ends_at),
            "capacity": slot.capacity,
            "remaining": slot.remaining,
        }

    @staticmethod
    def render(slots: list[FreeSlot]) -> bytes:
        """The JSON the API answers, byte for byte as DRF's JSONRenderer writes `of()` (compact, keys in this
        order), made once and kept in the cache. Each slot's start, end and capacity are written once per
        process (`_SLOT_HEADS`): in a booking flood every answer is made again after each booking, and
        formatting two times per slot was half of that (issue 12)."""
        parts = []
        for slot in slots:
            key = (slot.starts_at, slot.ends_at, slot.capacity)
            head = _SLOT_HEADS.get(key)
            if head is None:
                if len(_SLOT_HEADS) >= _SLOT_HEADS_MAX:
                    _SLOT_HEADS.clear()
                start, end = iso(slot.starts_at), iso(slot.ends_at)
                head = _SLOT_HEADS[key] = (
                    f'{{"start":"{start}","end":"{end}","capacity":{slot.capacity:d},"remaining":'
                ).encode()
            parts.append(b"%s%d}" % (head, slot.remaining))
        return b"[" + b",".join(parts) + b"]"


# A slot's JSON up to its remaining places, by (start, end, capacity); bounded (a year of a large city's
# slots fits), started afresh when full.
_SLOT_HEADS: dict[tuple[dt.datetime, dt.datetime, int], bytes] = {}
_SLOT_HEADS_MAX = 100_000


class SessionIn(serializers.Serializer):
    reservation_number = serializers.CharField(max_length=40)
    password = serializers.CharField(max_length=40, trim_whitespace=True)


class SessionOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.CharField()


_START = TokyoDateTimeField()  # stateless once made: one for every plain reading


def plain_booking_body(data: Any) -> tuple[int, str, dt.datetime] | None:
    """The usual booking body ({"location": a positive integer, "service": a code, "start": a time, nothing
    else}) as (location, service code, start), read without the serializer's machinery and without looking
    the place and service up (the caller takes them from what the availability cache keeps: issue 12).
    Anything else (None) goes through BookingIn, which words the error; what this accepts, BookingIn
    accepts too, with the same values, when the place and service exist."""
    if not isinstance(data, dict) or data.keys() != {"location", "service", "start"}:
        return None
    location, service, start = data["location"], data["service"], data["start"]
    if type(location) is not int or not 1 <= location < 2**63:
        return None
    if not isinstance(service, str) or not _PLAIN_SERVICE.fullmatch(service) or not isinstance(start, str):
        return None
    try:
        return location, service, _START.to_internal_value(start)
    except serializers.ValidationError:
        return None


class BookingIn(serializers.Serializer):
    location = PlaceField()
    service = ServiceField()
    start = TokyoDateTimeField()


class BookingChangeIn(serializers.Serializer):
    """A PATCH: what is not given stays as it is (another time at the same place, or the same time at
    another place); at least one of the two."""

    location = PlaceField(required=False)
    start = TokyoDateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "location" not in attrs and "start" not in attrs:
            raise serializers.ValidationError(
                _("location（場所）か start（日時）の少なくとも一方を指定してください。")
            )
        return attrs


class BookingOut(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.IntegerField()
    service = serializers.CharField()
    start = serializers.CharField()
    end = serializers.CharField()
    status = serializers.CharField()

    @staticmethod
    def of(booking: Booking) -> dict[str, Any]:
        slot = booking.slot
        return {
            "id": booking.pk,
            **BookingOut.of_slot(
                slot.place_id, slot.service.code, slot.starts_at, slot.ends_at, booking.status
            ),
        }

    @staticmethod
    def of_slot(
        location: int, service: str, starts_at: dt.datetime, ends_at: dt.datetime, status: str
    ) -> dict[str, Any]:
        """The fields after "id" (the one-call booking answers with them before its booking has an id)."""
        return {
            "location": location,
            "service": service,
            "start": iso(starts_at),
            "end": iso(ends_at),
            "status": status,
        }


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
