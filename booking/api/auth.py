"""Bearer-token authentication of the citizen API."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from booking.login import card_for_token
from booking.models import Card


class CitizenTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Card, str] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed()
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed() from exc
        card = card_for_token(token)
        if card is None:
            raise AuthenticationFailed()
        return card, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="citizen"'


class IsCitizen(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Card)
