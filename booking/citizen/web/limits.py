"""The citizen flow's time limits (WCAG 2.2.1, issue 15): the slot hold and the session.

Every signed-in page says when it ends (the hold's end on the pages that keep a time, the session's on
the others) and offers 「時間を延長する」. What the person typed on the contact page is kept when a limit
runs out anyway: a hold that ran out is taken again if its time is still free, and the typed details are
kept in the session ("draft") and shown again, after a new sign-in too, for the same card only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core import signing
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.citizen.web.party import in_operator_flow
from booking.engine.holds import do_extend_hold
from booking.lib.dates import TOKYO
from booking.models import Card, Hold, Place, Service
from madoguchi.session_limits import TimeLimit, clock

SESSION_IDLE_SECONDS = 30 * 60
SESSION_HELD_SLOT = "citizen_held_slot"  # the time last held: to take it again once the hold has run out
SESSION_CONTACT_DRAFT = "citizen_contact_draft"  # what was typed on the contact page, not yet checked
DRAFT_OWNER_FIELD = "draft_owner"
_DRAFT_SALT = "booking.citizen.contact-draft"
_DRAFT_MAX_AGE = 24 * 60 * 60
_DRAFT_FIELDS = {"phone": 20, "email": 254}  # the contact form's fields and their lengths


def remember_slot(request: HttpRequest, hold: Hold) -> None:
    slot = hold.slot
    request.session[SESSION_HELD_SLOT] = {
        "card": hold.card_id,
        "since": hold.created_at.isoformat(),  # the extensions' limit outlives a hold swept away
        "place": slot.place_id,
        "service": slot.service_id,
        "starts_at": slot.starts_at.isoformat(),
    }


def forget_slot(request: HttpRequest) -> None:
    """The remembered time is done with (booked, released, cancelled): extend must not take it again."""
    request.session.pop(SESSION_HELD_SLOT, None)


def held_time(request: HttpRequest, card: Card) -> tuple[Place, Service, dt.datetime] | None:
    """The time this person holds, or held until it ran out (None: nothing to extend)."""
    hold = Hold.objects.select_related("slot__place", "slot__service").filter(card=card).first()
    if hold is not None:
        return hold.slot.place, hold.slot.service, hold.slot.starts_at
    remembered = request.session.get(SESSION_HELD_SLOT)
    if not isinstance(remembered, dict) or remembered.get("card") != card.pk:
        return None  # another caller's time (an operator's session), or nothing remembered
    place = Place.objects.filter(pk=remembered.get("place") or 0).first()
    service = Service.objects.filter(pk=remembered.get("service") or 0).first()
    try:
        starts_at = dt.datetime.fromisoformat(str(remembered.get("starts_at"))).astimezone(TOKYO)
    except ValueError:
        return None
    return (place, service, starts_at) if place and service else None


def _held_since(request: HttpRequest, card: Card) -> dt.datetime | None:
    remembered = request.session.get(SESSION_HELD_SLOT)
    if not isinstance(remembered, dict) or remembered.get("card") != card.pk:
        return None
    try:
        return dt.datetime.fromisoformat(str(remembered.get("since")))
    except ValueError:
        return None


def extend_hold(request: HttpRequest, card: Card, channel: str, actor: Any) -> Hold | None:
    """Extend (or take again) the held time; None when nothing was held. Raises BookingError."""
    held = held_time(request, card)
    if held is None:
        return None
    hold = do_extend_hold(card, *held, channel=channel, actor=actor, held_since=_held_since(request, card))
    remember_slot(request, hold)
    return hold


def extended_text(limit: TimeLimit) -> str:
    return _("時間を延長しました。この画面は %(time)s まで有効です。") % {"time": clock(limit.ends_at)}


def time_limit(request: HttpRequest, hold: Hold | None, form_id: str = "") -> TimeLimit | None:
    """What this page says of its limit: the earlier of the hold's end and the session's."""
    if in_operator_flow(request):
        session_limit: TimeLimit | None = getattr(request, "staff_time_limit", None)  # the staff gate's
        session_end = session_limit.ends_at if session_limit else None
        session_reason = session_limit.reason if session_limit else ""
        extend_url = reverse("citizen:extend", current_app="caller")
    else:
        session_end = timezone.now() + dt.timedelta(seconds=SESSION_IDLE_SECONDS)
        session_reason = _("それまで操作がないと、自動でログアウトします。")
        extend_url = reverse("citizen:extend", current_app="citizen")
    if hold is not None and (session_end is None or hold.expires_at <= session_end):
        ends_at, reason = hold.expires_at, _("それまでに確定しないと、選んだ時間の確保は解除されます。")
    elif session_end is not None:
        ends_at, reason = session_end, session_reason
    else:
        return None
    return TimeLimit(ends_at, extend_url, request.get_full_path(), reason, form_id)


# --- what was typed on the contact page ---------------------------------------------------------------


def draft_owner(card: Card) -> str:
    """A signed mark of whose details the contact form holds (a hidden field): if the session has ended when
    the form is sent, the typed details can still be kept for that card only."""
    return signing.dumps(card.pk, salt=_DRAFT_SALT)


def keep_draft(request: HttpRequest, card_pk: int, data: QueryDict) -> None:
    request.session[SESSION_CONTACT_DRAFT] = {
        "card": card_pk,
        **{name: str(data.get(name, ""))[:length] for name, length in _DRAFT_FIELDS.items()},
    }


def keep_draft_of_ended_session(request: HttpRequest) -> bool:
    """The contact form was sent after the session ended: keep what it held for its card, if it says whose."""
    try:
        card_pk = signing.loads(
            request.POST.get(DRAFT_OWNER_FIELD, ""), salt=_DRAFT_SALT, max_age=_DRAFT_MAX_AGE
        )
    except signing.BadSignature:
        return False
    if not isinstance(card_pk, int):
        return False
    keep_draft(request, card_pk, request.POST)
    return True


CARD_MARK_FIELD = "card_mark"
_CARD_MARK_SALT = "booking.citizen.card-mark"


def card_mark(card: Card) -> str:
    """A signed mark of whose page a form is on (a hidden field of every form of the booking steps): an
    operator's tab of the last caller, or a second sign-in in the same browser, never acts for this card."""
    return signing.dumps(card.pk, salt=_CARD_MARK_SALT)


def form_is_for(request: HttpRequest, card: Card) -> bool:
    """Whether a POST was sent from a page of `card` (a form without the mark, an old page's or the
    sign-out's, is taken as it was before the mark)."""
    mark = request.POST.get(CARD_MARK_FIELD, "")
    if not mark:
        return True
    try:
        return bool(signing.loads(mark, salt=_CARD_MARK_SALT) == card.pk)
    except signing.BadSignature:
        return False


def draft_for(request: HttpRequest, card: Card) -> dict[str, str] | None:
    draft = request.session.get(SESSION_CONTACT_DRAFT)
    if not isinstance(draft, dict) or draft.get("card") != card.pk:
        return None
    return {name: str(draft.get(name, "")) for name in _DRAFT_FIELDS}


def forget_draft(request: HttpRequest) -> None:
    request.session.pop(SESSION_CONTACT_DRAFT, None)


def wait_text(seconds: int) -> str:
    """How long a refused sign-in is to wait, as people say it: 45秒, 2分, 2分30秒."""
    minutes, rest = divmod(max(seconds, 1), 60)
    if not minutes:
        return _("%(s)d秒") % {"s": rest}
    return _("%(m)d分%(s)d秒") % {"m": minutes, "s": rest} if rest else _("%(m)d分") % {"m": minutes}
