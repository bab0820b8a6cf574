"""Extending a hold: more time to confirm, asked for on the page (WCAG 2.2.1 "timing adjustable", issue 15).

A live hold is given the full hold time again from now. A hold that has run out (or was swept away every
minute by beat) is taken again, through `do_hold` and all its checks, if its time is still free; if someone
else has taken it meanwhile the person is told so, and nothing changes.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.audit import oplog
from booking.engine.queries import booking_rules
from booking.engine.services import BookingError, do_hold
from booking.models import Booking, Card, Hold, Place, Service


class HoldLost(BookingError):
    """The hold ran out and its time has been taken by someone else."""

    def __init__(self) -> None:
        super().__init__("hold_lost")

    @property
    def message(self) -> str:
        return str(
            _(
                "確保していた時間の期限が切れ、その間にほかの方がその時間を予約したため、延長できませんでした。"
                "別の時間を選んでください。"
            )
        )


class HoldExtensionLimit(BookingError):
    """The hold has been kept as long as one person may keep a time others could book."""

    def __init__(self) -> None:
        super().__init__("hold_extension_limit")

    @property
    def message(self) -> str:
        return str(
            _(
                "この時間はこれ以上延長できません（延長は%(count)d回分までです）。"
                "このまま確定するか、別の時間を選んでください。"
            )
            % {"count": MAX_EXTENSIONS}
        )


# WCAG 2.2.1 asks that a person may extend at least ten times; past that a held time is given back, so that
# nobody keeps a time from everyone else by extending it all day. Counted in hold periods since the hold was
# made: a person who extends near each end gets ten extensions.
MAX_EXTENSIONS = 10


def do_extend_hold(
    card: Card,
    place: Place,
    service: Service,
    starts_at: dt.datetime,
    *,
    channel: str = Booking.Channel.WEB,
    actor: oplog.Actor | str = "",
    now: dt.datetime | None = None,
    held_since: dt.datetime | None = None,
) -> Hold:
    """Give the card's hold on (place, service, starts_at) the full hold time again from now.

    The caller names the time (from the hold, or remembered when the hold was made), because an expired hold
    may already be gone. Raises BookingError (HoldLost when the time was taken meanwhile, HoldExtensionLimit
    after MAX_EXTENSIONS hold periods).
    """
    now = now or timezone.now()
    minutes = booking_rules().hold_minutes
    limit = now - dt.timedelta(minutes=minutes * MAX_EXTENSIONS)
    with transaction.atomic():
        # First held that long ago (this hold, or the one swept away that the caller remembers): no more.
        if (held_since and held_since <= limit) or Hold.objects.filter(
            card=card, created_at__lte=limit
        ).exists():
            raise HoldExtensionLimit
        extended = Hold.objects.filter(
            card=card,
            slot__place=place,
            slot__service=service,
            slot__starts_at=starts_at,
            expires_at__gt=now,
        ).update(expires_at=now + dt.timedelta(minutes=minutes))
        if extended:
            if actor:  # an operator's write goes in the operation log (SO-14); a resident's hold is theirs
                who = actor if isinstance(actor, oplog.Actor) else oplog.Actor(None, actor, "")
                oplog.record(who, "booking.hold_extended", f"card {card.pk}", {"minutes": minutes})
            return Hold.objects.select_related("slot__place", "slot__service").get(card=card)
    try:
        return do_hold(
            card, place, service, starts_at, channel=channel, actor=actor, now=now, held_since=held_since
        )
    except BookingError as error:
        if error.code == "slot_full":
            raise HoldLost from error
        raise
