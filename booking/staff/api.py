"""The staff API (JSON, on the tenant's host): the same rules as the console, for tools and integrations."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAcceptable
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from booking.access import accounts
from booking.access.gate import StaffTokenAuthentication, staff_api
from booking.access.permissions import Can
from booking.audit import oplog
from booking.citizen.api.serializers import DayField, ErrorOut, PlaceField, iso
from booking.lib.dates import plausible_day
from booking.lib.japanese import typed_digits
from booking.models.bookings import whom_kana
from booking.staff import lists
from booking.staff.forms import ORDERINGS, OTP_DIGITS
from booking.staff.views_bookings import stream_bookings_csv
from integrations import csv_export
from madoguchi.api_errors import ApiError
from madoguchi.client_address import client_address

# Messages lazy (built at import time), shown in the request's language; the codes stay codes.
LOGIN_ERRORS = {
    "invalid_credentials": (
        status.HTTP_401_UNAUTHORIZED,
        # Also a locked account's answer: locked and unknown must look the same (finding 4 of issue 13).
        gettext_lazy("ユーザーIDまたはパスワードが違うか、失敗が続いたため一時的にログインできません。"),
    ),
    "otp_required": (
        status.HTTP_401_UNAUTHORIZED,
        gettext_lazy("確認コードが必要か、違います。"),
    ),
    "otp_setup_required": (
        status.HTTP_401_UNAUTHORIZED,
        gettext_lazy("先に管理画面で二要素認証を設定してください。"),
    ),
    "ip_not_allowed": (
        status.HTTP_403_FORBIDDEN,
        gettext_lazy("この接続元からは使えません。"),
    ),
    "too_many_attempts": (
        status.HTTP_429_TOO_MANY_REQUESTS,
        gettext_lazy("失敗が続いたため、しばらく受け付けません。"),
    ),
}


def _actor(request: Request) -> oplog.Actor:
    """The token's holder; only for views behind staff_api, which let nobody else through."""
    user = cast(User, request.user)
    return oplog.Actor(user.pk, user.get_username(), client_address(request))


class StaffSessionIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=200)
    otp = serializers.CharField(max_length=40, required=False)

    def validate_otp(self, value: str) -> str:
        # The sign-in page's rule (OtpForm): "123 456" as an authenticator app shows it, full-width digits.
        digits = typed_digits(value, OTP_DIGITS)
        if digits is None:
            raise serializers.ValidationError(_("6桁の数字を入力してください。"))
        return digits


class StaffSessionsView(APIView):
    @extend_schema(
        request=StaffSessionIn,
        responses={201: None, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    )
    def post(self, request: Request) -> Response:
        body = StaffSessionIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            issued = accounts.do_staff_token_login(
                data["username"], data["password"], client_address(request), data.get("otp")
            )
        except accounts.StaffLoginRefused as refused:
            http_status, message = LOGIN_ERRORS[refused.code]
            raise ApiError(refused.code, str(message), http_status) from refused
        return Response(
            {"token": issued.token, "expires_at": iso(issued.expires_at)}, status=status.HTTP_201_CREATED
        )


class BookingsQuery(serializers.Serializer):
    date = DayField(required=False)
    location = PlaceField(required=False)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False)

    def validate_date(self, value: dt.date) -> dt.date:
        if not plausible_day(value):
            raise serializers.ValidationError(_("日付の範囲が正しくありません。"))
        return value


EXPORT_STYLES = ("plain", "excel")


class CsvRenderer(BaseRenderer):
    """Lets content negotiation accept ``Accept: text/csv``: without a renderer for it DRF answers 406 before
    the view runs. The CSV itself is streamed by the view; errors are JSON (``finalize_response`` below)."""

    media_type = "text/csv"
    format = "csv"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        return JSONRenderer().render(data)


class ExportQuery(serializers.Serializer):
    date_from = DayField(required=False)
    date_to = DayField(required=False)
    location = PlaceField(required=False)
    encoding = serializers.ChoiceField(choices=list(csv_export.ENCODINGS), required=False)
    # plain (default, for programs, as it always was) or excel (for a person opening it: csv_export)
    style = serializers.ChoiceField(choices=list(EXPORT_STYLES), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("date_from", "date_to"):
            if attrs.get(name) and not plausible_day(attrs[name]):
                raise serializers.ValidationError({name: _("日付の範囲が正しくありません。")})
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"date_to": _("date_from 以降にしてください。")})
        return attrs


class StaffBookingOut(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.IntegerField()
    location_name = serializers.CharField()
    service = serializers.CharField()
    start = serializers.CharField()
    end = serializers.CharField()
    status = serializers.CharField()
    channel = serializers.CharField()
    reservation_number = serializers.CharField(allow_null=True)
    application_id = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    name_kana = serializers.CharField()
    contact_phone = serializers.CharField()
    contact_email = serializers.CharField()


class StaffBookingsPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = StaffBookingOut(many=True)


# What the staff API answers for a booking, read as values rather than models: a page of 100 bookings as
# model instances was 500 objects (booking, card, slot, place, service) with 500 datetimes parsed, half of
# the request's time (issue 12, docs/performance.md). A field left out here is a KeyError in booking_json,
# caught by the tests, not a silent query per row as a deferred field would be.
BOOKING_FIELDS = (
    "pk",
    "slot__place_id",
    "slot__place__name",
    "slot__service__code",
    "slot__starts_at",
    "slot__ends_at",
    "status",
    "channel",
    "card__reservation_number",
    "card__application_id",
    "card__name",
    "card__name_kana",
    "caller_name_kana",
    "contact_phone",
    "contact_email",
)


def booking_json(row: dict[str, Any]) -> dict[str, Any]:
    """One row of `rows.values(*BOOKING_FIELDS)` as the API answers it (card fields null for a booking
    without a card)."""
    return {
        "id": row["pk"],
        "location": row["slot__place_id"],
        "location_name": row["slot__place__name"],
        "service": row["slot__service__code"],
        "start": iso(row["slot__starts_at"]),
        "end": iso(row["slot__ends_at"]),
        "status": row["status"],
        "channel": row["channel"],
        "reservation_number": row["card__reservation_number"],
        "application_id": row["card__application_id"],
        "name": row["card__name"],
        "name_kana": whom_kana(row["card__name_kana"], row["caller_name_kana"]),
        "contact_phone": row["contact_phone"],
        "contact_email": row["contact_email"],
    }


class StaffBookingsView(APIView):
    authentication_classes = [StaffTokenAuthentication]
    permission_classes = [staff_api(Can.VIEW_BOOKINGS, log_reads="api.bookings.list")]

    @extend_schema(
        parameters=[
            OpenApiParameter("date", dt.date),
            OpenApiParameter("location", int),
            OpenApiParameter("ordering", str, enum=list(ORDERINGS)),
            OpenApiParameter("page", int),
        ],
        responses={200: StaffBookingsPage, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    )
    def get(self, request: Request) -> Response:
        query = BookingsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        day = data.get("date")
        rows = lists.bookings(
            {
                "date_from": day,
                "date_to": day,
                "location": data.get("location"),
                "ordering": data.get("ordering"),
            }
        )
        paginator = PageNumberPagination()
        paginator.page_size = 100
        page = paginator.paginate_queryset(rows.values(*BOOKING_FIELDS), request, view=self) or []
        return paginator.get_paginated_response([booking_json(b) for b in page])


class StaffBookingsExportView(APIView):
    authentication_classes = [StaffTokenAuthentication]
    permission_classes = [staff_api(Can.EXPORT)]
    # JSON first: "*/*" and errors; text/csv for clients that ask for what they will get.
    renderer_classes = [JSONRenderer, CsvRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF's ?format= picks a renderer by name: "json" would pick the errors' renderer for a CSV answer,
        # and an unknown name is DRF's bare 404. Only csv means anything here. (force: an error's answer.)
        asked = request.query_params.get(api_settings.URL_FORMAT_OVERRIDE or "format")
        if not force and asked not in (None, "", CsvRenderer.format):
            raise ApiError(
                "not_acceptable",
                _("このAPIは text/csv で答えます。format を付けるときは format=csv にしてください。"),
                status.HTTP_406_NOT_ACCEPTABLE,
            )
        try:
            return super().perform_content_negotiation(request, force)
        except NotAcceptable as refused:
            raise ApiError(
                "not_acceptable",
                _("このAPIは text/csv で答えます。"),
                status.HTTP_406_NOT_ACCEPTABLE,
            ) from refused

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error is a Response with the {"code", "message"} body: JSON, whichever type the client accepted.
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", dt.date),
            OpenApiParameter("date_to", dt.date),
            OpenApiParameter("location", int),
            OpenApiParameter("encoding", str, enum=list(csv_export.ENCODINGS)),
            OpenApiParameter("style", str, enum=list(EXPORT_STYLES)),
            OpenApiParameter("format", exclude=True),  # csv only, as the path says (see above)
        ],
        responses={(200, "text/csv"): bytes, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 406: ErrorOut},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = ExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        rows = lists.bookings(
            {
                "date_from": data.get("date_from"),
                "date_to": data.get("date_to"),
                "location": data.get("location"),
            }
        )
        return stream_bookings_csv(
            _actor(request),
            request.get_full_path(),
            rows,
            data.get("encoding", csv_export.DEFAULT_ENCODING),
            excel=data.get("style") == "excel",
        )
