"""Bearer-token authentication of the citizen API."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from booking.access.bearer import token_from_header
from booking.citizen.login import card_for_token
from booking.models import Card


class CitizenTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Card, str] | None:
        token = token_from_header(request)
        if token is None:
            return None
        card = card_for_token(token)
        if card is None:
            raise AuthenticationFailed()
        return card, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="citizen"'


class IsCitizen(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Card)
