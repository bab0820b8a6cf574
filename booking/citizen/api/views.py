"""The citizen API (JSON, on the tenant's host). Views validate input and call services and queries."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.citizen.api import serializers as s
from booking.citizen.api.auth import CitizenTokenAuthentication, IsCitizen
from booking.citizen.login import LoginRefused, do_citizen_login, do_create_citizen_token
from booking.engine import queries, services
from booking.engine.texts import active_language
from booking.models import Card, OpeningPattern
from madoguchi.api_errors import ApiError
from madoguchi.client_address import client_address

HTTP_FOR = {
    "slot_full": status.HTTP_409_CONFLICT,
    "already_booked": status.HTTP_409_CONFLICT,
    "card_not_bookable": status.HTTP_409_CONFLICT,
    "no_booking": status.HTTP_404_NOT_FOUND,
}


def booking_error(error: services.BookingError) -> ApiError:
    return ApiError(error.code, error.message, HTTP_FOR.get(error.code, status.HTTP_400_BAD_REQUEST))


class LocationsView(APIView):
    @extend_schema(responses=s.LocationOut(many=True))
    def get(self, request: Request) -> Response:
        places = queries.places_offering_any().prefetch_related(
            Prefetch("opening_patterns", queryset=OpeningPattern.objects.select_related("service"))
        )
        return Response([s.LocationOut.of(place) for place in places])


class AvailabilityView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("location", int, required=True),
            OpenApiParameter("service", str, required=True),
            OpenApiParameter("from", dt.date),
            OpenApiParameter("to", dt.date),
        ],
        responses={200: s.SlotOut(many=True), 400: s.ErrorOut},
    )
    def get(self, request: Request) -> Response:
        query = s.AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        first = data.get("from_") or timezone.localdate()
        last = data.get("to") or first + dt.timedelta(days=31)
        slots = queries.free_slots(data["location"], data["service"], first, last)
        return Response([s.SlotOut.of(slot) for slot in slots])


class CitizenSessionsView(APIView):
    @extend_schema(
        request=s.SessionIn,
        responses={201: s.SessionOut, 400: s.ErrorOut, 401: s.ErrorOut, 429: s.ErrorOut},
    )
    def post(self, request: Request) -> Response:
        body = s.SessionIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            card = do_citizen_login(
                body.validated_data["reservation_number"],
                body.validated_data["password"],
                client_address(request),
            )
        except LoginRefused as refused:
            if refused.code == "too_many_attempts":
                raise ApiError(
                    "too_many_attempts",
                    _("失敗が続いたため、%(seconds)d秒後まで受け付けません。")
                    % {"seconds": refused.retry_after},
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(refused.retry_after)},
                ) from refused
            raise ApiError(
                "invalid_credentials",
                _("この予約番号とパスワードでは予約できません。"),
                status.HTTP_401_UNAUTHORIZED,
            ) from refused
        token, expires_at = do_create_citizen_token(card)
        return Response({"token": token, "expires_at": s.iso(expires_at)}, status=status.HTTP_201_CREATED)


class CitizenBookingView(APIView):
    authentication_classes = [CitizenTokenAuthentication]
    permission_classes = [IsCitizen]

    def card(self, request: Request) -> Card:
        return cast(Card, request.user)

    @extend_schema(responses={200: s.BookingOut, 401: s.ErrorOut, 404: s.ErrorOut})
    def get(self, request: Request) -> Response:
        booking = services.active_booking(self.card(request))
        if booking is None:
            raise booking_error(services.BookingError("no_booking"))
        return Response(s.BookingOut.of(booking))

    @extend_schema(
        request=s.BookingIn,
        responses={201: s.BookingOut, 400: s.ErrorOut, 401: s.ErrorOut, 409: s.ErrorOut},
    )
    def post(self, request: Request) -> Response:
        body = s.BookingIn(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        try:
            booking = services.do_book(
                self.card(request),
                data["location"],
                data["service"],
                data["start"],
                language=active_language(),  # the request's language: the booking's mails are in it
            )
        except services.BookingError as error:
            raise booking_error(error) from error
        return Response(s.BookingOut.of(booking), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.BookingChangeIn,
        responses={200: s.BookingOut, 400: s.ErrorOut, 401: s.ErrorOut, 404: s.ErrorOut, 409: s.ErrorOut},
    )
    def patch(self, request: Request) -> Response:
        body = s.BookingChangeIn(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        try:
            booking = services.do_change(self.card(request), data["location"], data["start"])
        except services.BookingError as error:
            raise booking_error(error) from error
        return Response(s.BookingOut.of(booking))

    @extend_schema(responses={204: None, 400: s.ErrorOut, 401: s.ErrorOut, 404: s.ErrorOut})
    def delete(self, request: Request) -> Response:
        try:
            services.do_cancel(self.card(request))
        except services.BookingError as error:
            raise booking_error(error) from error
        return Response(status=status.HTTP_204_NO_CONTENT)
