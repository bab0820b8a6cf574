"""The citizen API (JSON, on the tenant's host). Views validate input and call services and queries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, cast

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.access import bearer
from booking.access.bearer import token_from_header
from booking.citizen.api import serializers as s
from booking.citizen.api.auth import CitizenTokenAuthentication, IsCitizen
from booking.citizen.login import LoginRefused, do_citizen_login, do_create_citizen_token
from booking.citizen.stops import refused_during_stop, refuses_writes_now
from booking.engine import availability_cache, idempotency, one_call, queries, services
from booking.engine.texts import active_language
from booking.models import Booking, BookingSettings, Card, OpeningPattern, Place, Service
from madoguchi.api_errors import ApiError
from madoguchi.client_address import client_address

HTTP_FOR = {
    "slot_full": status.HTTP_409_CONFLICT,
    "already_booked": status.HTTP_409_CONFLICT,
    "card_not_bookable": status.HTTP_409_CONFLICT,
    "changed_meanwhile": status.HTTP_409_CONFLICT,
    "no_booking": status.HTTP_404_NOT_FOUND,
}


def booking_error(error: services.BookingError) -> ApiError:
    return ApiError(error.code, error.api_message, HTTP_FOR.get(error.code, status.HTTP_400_BAD_REQUEST))


IDEMPOTENCY_HEADER = "Idempotency-Key"
# What a change or a cancellation may answer besides success (one list for both: the schema stays in step).
WRITE_ERRORS = {code: s.ErrorOut for code in (400, 401, 404, 409, 422, 503)}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "再送しても二重に書き込まないためのキー（1〜255文字の表示可能なASCII、例: UUID）。"
        "書き込みごとに新しいキーを送ってください。同じキーと同じ内容の再送には、最初の応答が"
        "ヘッダー Idempotent-Replayed: true 付きでそのまま返ります（24時間）。"
        "同じキーで別の内容は 422 idempotency_key_reused、最初のリクエストが処理中なら 409 "
        "idempotency_key_in_progress（Retry-After）。エラーになったリクエストは記録されず、再送はもう一度処理されます。"
    ),
)


# What DRF's content negotiation answers with plain JSON (its only renderer): no Accept, or these, without
# parameters (`application/json; indent=4` is rendered indented by DRF; anything else is its 406).
_PLAIN_JSON_ACCEPTS = frozenset({"*/*", "application/*", "application/json"})


def answers_json(accept: str) -> bool:
    """Whether DRF would answer a request with this Accept header with plain JSON (a path that answers
    outside DRF then answers the same)."""
    if not accept.strip():
        return True
    ranges = [part.strip().lower() for part in accept.split(",")]
    return all(part in _PLAIN_JSON_ACCEPTS for part in ranges)


def key_in_progress(busy: idempotency.KeyInProgress) -> ApiError:
    return ApiError(
        "idempotency_key_in_progress",
        _("同じ Idempotency-Key のリクエストを処理中です。しばらく待ってから再送してください。"),
        status.HTTP_409_CONFLICT,
        headers={"Retry-After": str(busy.retry_after)},
    )


def plain_error(error: ApiError) -> HttpResponse:
    """An ApiError answered outside DRF, as madoguchi.api_errors answers it inside."""
    response = HttpResponse(
        JSONRenderer().render({"code": error.error_code, "message": str(error.detail)}),
        status=error.status_code,
        content_type="application/json",
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def idempotent(request: Request, card: Card, write: Callable[[], idempotency.Answer]) -> Response:
    """Do a booking write once per Idempotency-Key of this card (issue 11): a repeat gets the first answer.
    Without the header the write is done as before."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not idempotency.valid_key(key):
        raise ApiError(
            "invalid_idempotency_key",
            _("Idempotency-Key は1〜255文字の表示可能なASCII文字で指定してください。"),
        )
    # The body as parsed, compared by value: the same request sent again has the same fingerprint. A DELETE's
    # body means nothing (and was never read): not parsed here either.
    body = (
        b"" if request.method == "DELETE" else json.dumps(request.data, sort_keys=True, default=str).encode()
    )
    try:
        answer, replayed = idempotency.do_once(
            f"card:{card.pk}",
            key,
            idempotency.fingerprint(request.method or "", request.path, body),
            write,
            raises_refusals=True,  # book, change and cancel raise every refusal as an ApiError
        )
    except idempotency.KeyReused as reused:
        raise ApiError(
            "idempotency_key_reused",
            _("この Idempotency-Key は別の内容のリクエストに使われています。新しいキーを使ってください。"),
            status.HTTP_422_UNPROCESSABLE_ENTITY,
        ) from reused
    except idempotency.KeyInProgress as busy:
        raise key_in_progress(busy) from busy
    response = Response(answer.body, status=answer.status)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class LocationsView(APIView):
    @extend_schema(responses=s.LocationOut(many=True))
    def get(self, request: Request) -> Response:
        places = queries.places_offering_any().prefetch_related(
            Prefetch("opening_patterns", queryset=OpeningPattern.objects.select_related("service"))
        )
        return Response([s.LocationOut.of(place) for place in places])


class AvailabilityView(APIView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """The usual query (well formed, a place and service that exist) answered without DRF's request
        machinery, which costs as much as the answer itself when it comes from the cache (issue 12, the
        cheap request path); anything else, and every error, goes through DRF as before. DRF's `initial()`
        is not run on this path: no content negotiation (the answer is JSON whatever Accept says), and a
        throttle or permission added to this view later must be added here too."""
        if request.method == "GET":
            data = s.plain_availability_query(s.query_of(request))
            if data is not None:
                try:
                    body = self.answer(data)
                except availability_cache.Unknown:
                    pass  # DRF's dispatch words the error
                else:
                    response = HttpResponse(body, content_type="application/json")
                    response["Allow"] = ", ".join(self.allowed_methods)  # as DRF's finalize_response says
                    return response
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def answer(data: dict[str, Any]) -> bytes:
        """The answer's JSON; availability_cache raises Unknown for a place or service that does not exist."""
        first = data.get("from_") or timezone.localdate()
        last = data.get("to") or first + dt.timedelta(days=31)
        return availability_cache.free_slots_body(
            data["location"], data["service"], first, last, render=s.SlotOut.render
        )

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
        data = s.plain_availability_query(request.query_params)
        if data is None:  # unusual or wrong: DRF's checks, and their errors
            query = s.AvailabilityQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
            data = query.validated_data
        try:
            body = self.answer(data)
        except availability_cache.Unknown as unknown:
            raise s.AvailabilityQuery.unknown(unknown.field, unknown.value) from unknown
        # already JSON (DRF's renderer made it, maybe for an earlier request): sent as it is
        return HttpResponse(body, content_type="application/json")


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

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """The usual booking POST is made in one database call (`booking_in_one_call`); every other request,
        and every booking that path leaves, goes through DRF as before. DRF's `initial()` is not run on that
        path: authentication is the database function's token lookup, there is no content negotiation (the
        answer is JSON whatever Accept says), and a throttle or permission added to this view later must be
        added there too."""
        if request.method == "POST":
            response = self.booking_in_one_call(request)
            if response is not None:
                response["Allow"] = ", ".join(self.allowed_methods)  # as DRF's finalize_response says
                return response
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def booking_in_one_call(request: HttpRequest) -> HttpResponse | None:
        """The answer to a keyed booking POST with the usual body from one database call (issue 12:
        booking.engine.one_call), or None when the usual path must answer: no or a malformed key or token,
        a body BookingIn would have to read, the site stopped, a place or start the kept setup does not offer,
        Redis away, a kept answer under the key, a lost connection."""
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if (
            key is None
            or not idempotency.valid_key(key)
            or request.content_type != "application/json"
            or (request.content_params or {}).get("charset", "utf-8").lower() not in ("utf-8", "utf8")
            or not answers_json(request.headers.get("Accept", ""))
        ):
            return None
        try:
            token = token_from_header(request)
            # decoded as DRF's JSONParser decodes it (strict UTF-8: a BOM is an error there, not skipped)
            data = json.loads(request.body.decode("utf-8"))
        except (AuthenticationFailed, ValueError):  # a UnicodeDecodeError is a ValueError
            return None
        plain = s.plain_booking_body(data)
        if token is None or plain is None or refuses_writes_now(request):
            return None
        location, service_code, start = plain
        try:
            setup = availability_cache.kept_setup(location, service_code)
        except availability_cache.Unknown:
            return None
        if setup is None:
            return None
        body = json.dumps(data, sort_keys=True, default=str).encode()  # as `idempotent` fingerprints it
        try:
            answer = one_call.do_book_in_one_call(
                token_digest=bearer.digest(token),
                key=key,
                fingerprint=idempotency.fingerprint("POST", request.path, body),
                setup=setup,
                starts_at=start,
                language=active_language(),
                answer_of=lambda slot: s.BookingOut.of_slot(
                    location, service_code, slot.starts_at, slot.ends_at, Booking.Status.CONFIRMED
                ),
            )
        except services.BookingError as error:
            return plain_error(booking_error(error))
        except idempotency.KeyInProgress as busy:
            return plain_error(key_in_progress(busy))
        if answer is None:
            return None
        return HttpResponse(
            JSONRenderer().render(answer), status=status.HTTP_201_CREATED, content_type="application/json"
        )

    def card(self, request: Request) -> Card:
        return cast(Card, request.user)

    @staticmethod
    def what_to_book(request: Request) -> tuple[Place, Service, dt.datetime, BookingSettings | None]:
        """Place, service, start and (when kept) the booking settings of a booking body. The usual body
        takes the place, service and settings from what the availability cache keeps, current by its
        configuration generation (issue 12: two queries and the serializer's machinery less per booking in
        a flood); any other body, or a place or service not found there, goes through BookingIn."""
        plain = s.plain_booking_body(request.data)
        if plain is not None:
            location, service_code, start = plain
            try:
                setup = availability_cache.kept_setup(location, service_code)
            except availability_cache.Unknown:
                setup = None  # BookingIn words the error
            if setup is not None:
                return setup.place, setup.service, start, setup.rules
        body = s.BookingIn(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        return data["location"], data["service"], data["start"], None

    @extend_schema(responses={200: s.BookingOut, 401: s.ErrorOut, 404: s.ErrorOut})
    def get(self, request: Request) -> Response:
        booking = services.active_booking(self.card(request))
        if booking is None:
            raise booking_error(services.BookingError("no_booking"))
        return Response(s.BookingOut.of(booking))

    @extend_schema(
        request=s.BookingIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: s.BookingOut,
            400: s.ErrorOut,
            401: s.ErrorOut,
            409: s.ErrorOut,
            422: s.ErrorOut,
            503: s.ErrorOut,
        },
    )
    @method_decorator(refused_during_stop)  # SO-01: 503 planned_stop while the site is down
    def post(self, request: Request) -> Response:
        def book() -> idempotency.Answer:
            place, service, start, rules = self.what_to_book(request)
            booking = services.do_book(
                self.card(request),
                place,
                service,
                start,
                language=active_language(),  # the request's language: the booking's mails are in it
                rules=rules,
            )
            return idempotency.Answer(status.HTTP_201_CREATED, s.BookingOut.of(booking))

        try:
            return idempotent(request, self.card(request), book)
        except services.BookingError as error:
            # worded once the key's transaction is rolled back: a refusal inside do_book leaves it unusable
            # (no savepoint under a key), and some messages read the rules (the call center's number)
            raise booking_error(error) from error

    @extend_schema(
        request=s.BookingChangeIn,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: s.BookingOut, **WRITE_ERRORS},
    )
    @method_decorator(refused_during_stop)  # SO-01: 503 planned_stop while the site is down
    def patch(self, request: Request) -> Response:
        def change() -> idempotency.Answer:
            body = s.BookingChangeIn(data=request.data)
            body.is_valid(raise_exception=True)
            data: dict[str, Any] = body.validated_data
            try:
                booking = services.do_change(self.card(request), data.get("location"), data.get("start"))
            except services.BookingError as error:
                raise booking_error(error) from error
            return idempotency.Answer(status.HTTP_200_OK, s.BookingOut.of(booking))

        return idempotent(request, self.card(request), change)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={204: None, **WRITE_ERRORS},
    )
    @method_decorator(refused_during_stop)  # SO-01: 503 planned_stop while the site is down
    def delete(self, request: Request) -> Response:
        def cancel() -> idempotency.Answer:
            try:
                services.do_cancel(self.card(request))
            except services.BookingError as error:
                raise booking_error(error) from error
            return idempotency.Answer(status.HTTP_204_NO_CONTENT)

        return idempotent(request, self.card(request), cancel)
