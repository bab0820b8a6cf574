"""Shapes of the citizen API: input validation and output."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
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


class AvailabilityQuery(serializers.Serializer):
    location = serializers.PrimaryKeyRelatedField(queryset=Place.objects.all())
    service = serializers.SlugRelatedField(slug_field="code", queryset=Service.objects.all())
    from_ = DayField(required=False)
    to = DayField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "dict"):
            data = data.dict()
        data = dict(data)
        if "from" in data:
            data["from_"] = data.pop("from")
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first = attrs.get("from_")
        last = attrs.get("to")
        for name, day in (("from", first), ("to", last)):
            if day and not plausible_day(day):
                raise serializers.ValidationError({name: _("日付の範囲が正しくありません。")})
        if first and last:
            if last < first:
                raise serializers.ValidationError({"to": _("from 以降の日付にしてください。")})
            if (last - first).days > MAX_RANGE_DAYS:
                raise serializers.ValidationError(
                    {"to": _("期間は%(days)d日以内にしてください。") % {"days": MAX_RANGE_DAYS}}
                )
        return attrs


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


class SessionIn(serializers.Serializer):
    reservation_number = serializers.CharField(max_length=40)
    password = serializers.CharField(max_length=40, trim_whitespace=True)


class SessionOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.CharField()


class BookingIn(serializers.Serializer):
    location = serializers.PrimaryKeyRelatedField(queryset=Place.objects.all())
    service = serializers.SlugRelatedField(slug_field="code", queryset=Service.objects.all())
    start = TokyoDateTimeField()


class BookingChangeIn(serializers.Serializer):
    location = serializers.PrimaryKeyRelatedField(queryset=Place.objects.all())
    start = TokyoDateTimeField()


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
            "location": slot.place_id,
            "service": slot.service.code,
            "start": iso(slot.starts_at),
            "end": iso(slot.ends_at),
            "status": booking.status,
        }


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
