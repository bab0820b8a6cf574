"""Cancelling a booking: by the resident (/cancel/) or an operator for a caller (/staff/caller/cancel/)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from booking.citizen.stops import refused_during_stop
from booking.citizen.web.party import go
from booking.citizen.web.views import (
    SESSION_CANCELLED,
    _already_sent,
    _party,
    _write_scope,
    citizen_required,
    page,
)
from booking.engine import idempotency, queries, services
from booking.models import Card
from booking.rules import windows


@refused_during_stop
@citizen_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, card: Card) -> HttpResponse:
    if request.method == "POST":
        return _cancel_once(request, card)
    booking = services.active_booking(card)
    if booking is None:
        return go(request, "mypage")
    deadline = windows.deadline_for(booking.slot.starts_at, queries.booking_rules())
    token = idempotency.form_token("cancel")  # issue 11: a second POST shows the same cancellation
    return page(request, "cancel.html", {"booking": booking, "deadline": deadline, "form_token": token})


def _cancel_once(request: HttpRequest, card: Card) -> HttpResponse:
    party = _party(request)
    seen = request.POST.get("booking", "").strip()  # the booking the page showed

    def cancel_booking() -> idempotency.Answer:
        cancelled = services.do_cancel(card, channel=party.channel, actor=party.actor, seen=seen)
        return idempotency.Answer(302, {"booking": cancelled.pk}, go(request, "done")["Location"])

    try:
        answer, _replayed = idempotency.form_once(
            request, _write_scope(request, card), "cancel", cancel_booking
        )
    except services.BookingError as error:
        if error.code == "other_page":
            messages.warning(request, error.message)
        elif error.code != "no_booking":  # nothing to cancel: their page says so, as before tokens
            messages.error(request, error.message)
        return go(request, "mypage")
    except (idempotency.KeyReused, idempotency.KeyInProgress):
        return _already_sent(request)
    request.session[SESSION_CANCELLED] = answer.body["booking"]
    return redirect(answer.redirect_to)  # a page that says the booking was cancelled
