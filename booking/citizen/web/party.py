"""Who is booking: the resident on the web, or a call-center operator for a caller (BK-10).

The same views and screens serve both (the citizen's flow is mounted twice: namespace "citizen" at `/`, and
"caller" at `/staff/caller/` for operators). Which one a request is in decides where the card comes from,
the channel recorded (web / phone) and who acted.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from booking.audit import oplog
from booking.models import Booking, Card

CITIZEN_CARD = "citizen_card"


@dataclass(frozen=True)
class Party:
    card: Card
    channel: str
    # The signed-in operator (user ID, name, address: the operation log's entry); "" when residents act
    # for themselves.
    actor: oplog.Actor | str
    # The language the person uses: the page's for residents, the one the operator chose for a caller;
    # a booking records it and its mails are written in it.
    language: str = Booking.Language.JA

    @property
    def operator(self) -> bool:
        return self.channel == Booking.Channel.PHONE


def in_operator_flow(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.namespace == "caller"


def party_of(request: HttpRequest) -> Party | None:
    return getattr(request, "party", None)


def go(request: HttpRequest, name: str, *args: object) -> HttpResponse:
    """Redirect to a step of the flow the request is in (citizen or caller)."""
    namespace = "caller" if in_operator_flow(request) else "citizen"
    return redirect(reverse(f"citizen:{name}", args=args, current_app=namespace))
