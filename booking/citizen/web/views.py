"""The citizen's booking site: log in → service → place → day → time → contact → confirm → done.

Server-rendered and usable without JavaScript. Views read the request, call services and queries, and
render; every write goes through booking.services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking.access import sessions
from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.callcenter.session import CALLER_CARD, CALLER_LANGUAGE
from booking.cards import credentials
from booking.citizen.stops import refused_during_stop
from booking.citizen.web import limits
from booking.citizen.web.forms import ContactForm
from booking.citizen.web.party import CITIZEN_CARD, Party, go, in_operator_flow, party_of
from booking.engine import idempotency, queries, services
from booking.engine.holds import HoldExtensionLimit
from booking.engine.refusals import card_refusal
from booking.engine.texts import active_language, bring_for, citizen_texts, language_of
from booking.lib.dates import TOKYO, parse_date, parse_month, plausible_day
from booking.lib.digits import record_id
from booking.lib.phone import format_phone
from booking.models import Booking, Card, Hold, Service
from booking.rules import windows
from integrations import qr
from madoguchi.session_limits import clock
from tenants.db import tenant_connection

SESSION_CARD = CITIZEN_CARD
SESSION_CARD_PROOF = "citizen_card_proof"  # the password the session was opened with, as a keyed hash
SESSION_CONTACT = "citizen_contact"
SESSION_IDLE_SECONDS = limits.SESSION_IDLE_SECONDS
SESSION_CANCELLED = "citizen_cancelled"  # the booking just cancelled, for the page that says so
View = Callable[..., HttpResponseBase]


def current_card(request: HttpRequest) -> Card | None:
    """The signed-in resident's card, while its password is the one the session was opened with."""
    card_id = request.session.get(SESSION_CARD)
    # with_probe: the external prober signs in with its card like a resident (BK-08); it never books
    card = Card.with_probe.filter(pk=card_id).first() if card_id else None
    if card is None:
        return None
    # A reissued password ends every session opened with the old one (credentials.session_proof).
    proof = request.session.get(SESSION_CARD_PROOF)
    if not isinstance(proof, str) or not constant_time_compare(
        proof, credentials.session_proof(card.password_digest)
    ):
        return None
    return card


def citizen_required(view: View) -> View:
    """The resident signed in with their reservation number, or an operator serving an identified caller."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if in_operator_flow(request):
            return _for_caller(_of_this_card(view))(request, *args, **kwargs)
        card = current_card(request)
        if card is None:
            card_id = request.session.get(SESSION_CARD)
            reissued = (
                card_id is not None
                and SESSION_CARD_PROOF in request.session
                and Card.with_probe.filter(pk=card_id).exists()
            )
            if card_id is not None:
                # Signed in once, but the card's password was reissued since (or the card is gone): the
                # old session ends here, with whatever it held (contact details typed in).
                request.session.flush()
            if request.method == "POST" and limits.keep_draft_of_ended_session(request):
                # The session ran out while they typed their contact details: keep them for their card.
                messages.info(
                    request,
                    _(
                        "しばらく操作がなかったため、ログアウトしました。入力した連絡先は保存してあります。"
                        "もう一度ログインしてください。"
                    ),
                )
            elif reissued:
                messages.info(
                    request,
                    _(
                        "パスワードが新しくなったため、ログアウトしました。"
                        "新しい交付通知書に記載のパスワードでログインしてください。"
                    ),
                )
            else:
                messages.info(request, _("予約番号とパスワードを入力してください。"))
            return redirect("citizen:login")
        request.session.set_expiry(SESSION_IDLE_SECONDS)
        request.party = Party(card, Booking.Channel.WEB, "", active_language())  # type: ignore[attr-defined]
        return _of_this_card(view)(request, card, *args, **kwargs)

    return wrapper


def _of_this_card(view: View) -> View:
    """A form sent from a page of another card (an operator's tab of the last caller, a second sign-in in
    the same browser) does nothing here: every form of the steps carries its card's mark."""

    @wraps(view)
    def checked(request: HttpRequest, card: Card, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and not limits.form_is_for(request, card):
            messages.warning(request, services.BookingError("other_page").message)
            return go(request, "mypage")
        return view(request, card, *args, **kwargs)

    return checked


def _for_caller(view: View) -> View:
    @staff_view(Can.CALL_CENTER)
    def operator_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        card = Card.objects.filter(pk=request.session.get(CALLER_CARD) or 0).first()
        if card is None:
            messages.info(request, _("先に、電話をかけてきた方の予約番号と本人確認をしてください。"))
            return redirect("staff:callcenter")
        language = language_of(request.session.get(CALLER_LANGUAGE))
        request.party = Party(card, Booking.Channel.PHONE, actor_of(request), language)  # type: ignore[attr-defined]
        return view(request, card, *args, **kwargs)

    return operator_view


def _party(request: HttpRequest) -> Party:
    party = party_of(request)
    assert party is not None  # set by citizen_required
    return party


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    rules = queries.booking_rules()
    base = {
        "municipality": tenant_connection().tenant,
        "rules": rules,
        "texts": citizen_texts(rules),
        "signed_in": SESSION_CARD in request.session and not in_operator_flow(request),
        "party": party_of(request),
    }
    party = party_of(request)
    if party is not None:  # signed in: the page says when the hold or the session ends
        base["time_limit"] = limits.time_limit(request, context.get("hold"), context.get("limit_form_id", ""))
        base["card_mark"] = limits.card_mark(party.card)
    return render(request, f"booking/citizen/{template}", {**base, **context}, status=status)


def _web_service(code: str) -> Service:
    return get_object_or_404(Service, code=code, web_bookable=True)


def _hold_of(card: Card) -> Hold | None:
    return (
        Hold.objects.select_related("slot__place", "slot__service")
        .filter(card=card, expires_at__gt=timezone.now())
        .first()
    )


# --- the person's booking -------------------------------------------------------------------------------


@citizen_required
def mypage(request: HttpRequest, card: Card) -> HttpResponse:
    booking = services.active_booking(card)
    rules = queries.booking_rules()
    context: dict[str, Any] = {"card": card, "booking": booking, "hold": _hold_of(card)}
    if booking:
        now, operator = timezone.now(), _party(request).operator
        context["deadline"] = windows.deadline_for(booking.slot.starts_at, rules)
        # What this person may do: residents until the deadline; an operator until the start (the residents'
        # page sends late changes to the phone), and the operator is told so rather than "phone us".
        context["can_change"] = windows.can_change(booking.slot.starts_at, now, rules, by_operator=operator)
        context["past_residents_deadline"] = not windows.can_change(booking.slot.starts_at, now, rules)
        context["phone"] = format_phone(booking.contact_phone)
        context["bring"] = bring_for(rules, booking.slot.service, active_language())
        if not operator:
            context["checkin_qr"] = _checkin_qr(card)
    else:
        # said here, not after service, place, day and time were chosen (a new user's walk)
        context["unbookable"] = _unbookable(card)
    return page(request, "mypage.html", context)


def _unbookable(card: Card) -> str:
    """Why this card cannot be booked now ("" if it can): the card's state, in the page's language."""
    return getattr(card_refusal(card.state, card.probe), "message", "")


def _steps_closed(card: Card) -> bool:
    """Every step (each has an address) sends a card that cannot be booked back to the page saying why."""
    return bool(_unbookable(card)) and services.active_booking(card) is None


@citizen_required
def choose_service(request: HttpRequest, card: Card) -> HttpResponse:
    if _steps_closed(card):
        return go(request, "mypage")
    return page(request, "service.html", {"services": queries.web_services(), "step": 1})


@citizen_required
def choose_place(request: HttpRequest, card: Card, service: str) -> HttpResponse:
    if _steps_closed(card):
        return go(request, "mypage")
    chosen = _web_service(service)
    places = queries.places_offering(chosen)
    return page(request, "place.html", {"service": chosen, "places": places, "step": 2})


def _month(raw: str | None, fallback: dt.date) -> dt.date:
    """The month a ?month=YYYY-MM link asks for; the first bookable month for anything else (an old link)."""
    return parse_month(raw or "") or fallback.replace(day=1)


@citizen_required
def choose_day(request: HttpRequest, card: Card, service: str, place: int) -> HttpResponse:
    if _steps_closed(card):
        return go(request, "mypage")
    chosen = _web_service(service)
    where = get_object_or_404(queries.places_offering(chosen), pk=place)
    rules = queries.booking_rules()
    now = timezone.now()
    first_day = windows.first_bookable_day(now, rules, where)
    # The calendar stops where the window does (the fixed date or the rolling horizon): an edited ?month=
    # beyond it shows the last bookable month, never a month of days the hold would refuse.
    last_day = max(windows.last_bookable_day(now, rules, where), first_day)
    month = _month(request.GET.get("month"), first_day)
    month = min(max(month, first_day.replace(day=1)), last_day.replace(day=1))
    weeks = queries.month_calendar(where, chosen, month)
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    return page(
        request,
        "day.html",
        {
            "service": chosen,
            "place": where,
            "weeks": weeks,
            "month": month,
            "step": 3,
            "previous": previous if previous >= first_day.replace(day=1) else None,
            "following": following if following <= last_day else None,
            "any_free": any(day.free for week in weeks for day in week if day.in_month),
        },
    )


def _day(raw: str) -> dt.date:
    """The day in the page's address: an address naming no day (2026-02-30, 9999-12-31) is no page, a 404."""
    day = parse_date(raw)
    if day is None or not plausible_day(day):
        raise Http404
    return day


@refused_during_stop
@citizen_required
@require_http_methods(["GET", "POST"])
def choose_time(request: HttpRequest, card: Card, service: str, place: int, day: str) -> HttpResponse:
    if _steps_closed(card):
        return go(request, "mypage")
    chosen = _web_service(service)
    where = get_object_or_404(queries.places_offering(chosen), pk=place)
    when = _day(day)
    now = timezone.now()
    rules = queries.booking_rules()
    problem = ""
    if (
        not windows.first_bookable_day(now, rules, where)
        <= when
        <= windows.last_bookable_day(now, rules, where)
    ):
        # An address edited to a day outside the window: said so, no times to choose (the hold refuses too)
        problem = services.BookingError("outside_window").message
    if request.method == "POST":
        try:
            start = dt.datetime.fromisoformat(request.POST.get("start", "")).astimezone(TOKYO)
            if not plausible_day(start.date()):
                raise ValueError("out of range")
        except (ValueError, OverflowError):
            problem = _("時間を選んでください。")
        else:
            try:
                party = _party(request)
                hold = services.do_hold(card, where, chosen, start, channel=party.channel, actor=party.actor)
            except services.BookingError as error:
                problem = error.message
            else:
                limits.remember_slot(request, hold)
                return go(request, "details")
    slots = queries.free_slots(where, chosen, when, when)
    booking = services.active_booking(card)
    current = booking.slot.starts_at if booking and booking.slot.place_id == where.pk else None
    return page(
        request,
        "time.html",
        {
            "service": chosen,
            "place": where,
            "day": when,
            "slots": slots,
            "problem": problem,
            "step": 4,
            "current_start": current,
        },
        status=409 if problem else 200,
    )


@refused_during_stop
@citizen_required
@require_http_methods(["GET", "POST"])
def details(request: HttpRequest, card: Card) -> HttpResponse:
    hold = _hold_of(card)
    extending = request.method == "POST" and "extend" in request.POST
    if request.method == "POST" and (hold is None or extending):
        # More time asked for, or the hold ran out while they typed: what they typed is kept either way.
        limits.keep_draft(request, card.pk, request.POST)
        hold = _hold_again(request, card, asked=extending)
        if hold is None:
            return go(request, "service")
    elif hold is None:
        messages.warning(request, _("確保していた時間の期限が切れました。もう一度時間を選んでください。"))
        return go(request, "service")
    rules = queries.booking_rules()
    booking = services.active_booking(card)
    initial = (
        limits.draft_for(request, card)
        or _contact_of(request, card)
        or ({"phone": format_phone(booking.contact_phone), "email": booking.contact_email} if booking else {})
    )
    # After 「時間を延長する」 the typed details come back as they were, not checked (no errors yet).
    form = ContactForm(None if extending else request.POST or None, rules=rules, initial=initial)
    if request.method == "POST" and not extending and form.is_valid():
        request.session[SESSION_CONTACT] = {
            "card": card.pk,  # an operator's next caller must never get this caller's details
            "phone": form.cleaned_data.get("phone", ""),
            "email": form.cleaned_data.get("email", ""),
        }
        limits.forget_draft(request)
        return go(request, "confirm")
    context = {"form": form, "hold": hold, "step": 5, "limit_form_id": "contact-form"}
    return page(request, "details.html", {**context, "draft_owner": limits.draft_owner(card)})


def _hold_again(request: HttpRequest, card: Card, *, asked: bool) -> Hold | None:
    """Extend the hold (asked), or take the time again after it ran out; None (and why, said) if not."""
    party = _party(request)
    kept = _("入力した連絡先は保存してあります。")
    try:
        hold = limits.extend_hold(request, card, party.channel, party.actor)
    except HoldExtensionLimit as error:
        messages.error(request, error.message)  # the hold runs on to its own end: they may still confirm
        return _hold_of(card)
    except services.BookingError as error:
        messages.error(request, f"{error.message} {kept}")
        return None
    if hold is None:
        messages.warning(
            request, _("確保していた時間の期限が切れました。もう一度時間を選んでください。") + " " + kept
        )
    elif asked:
        messages.success(
            request,
            _("時間を延長しました。選んだ時間を %(time)s まで確保しています。")
            % {"time": clock(hold.expires_at)},
        )
    else:
        messages.info(
            request,
            _(
                "確保していた時間の期限が切れていましたが、同じ時間がまだ空いていたため、もう一度確保しました。"
            ),
        )
    return hold


@refused_during_stop
@citizen_required
@require_POST
def extend(request: HttpRequest, card: Card) -> HttpResponse:
    """「時間を延長する」 (WCAG 2.2.1): the hold gets its full time again, and so does the session (any
    signed-in request does that; an operator's staff session is extended explicitly). Back to the page."""
    party = _party(request)
    if party.operator:
        sessions.extend(request)
    try:
        limits.extend_hold(request, card, party.channel, party.actor)
    except services.BookingError as error:
        problem = error.message
    else:
        problem = ""
    limit = limits.time_limit(request, _hold_of(card))
    wants_json = "application/json" in request.headers.get("Accept", "")
    if wants_json and limit is not None and not problem:
        return JsonResponse({"ends_at": limit.ends_at.isoformat(), "message": limits.extended_text(limit)})
    if problem:
        messages.error(request, problem)
        if _hold_of(card) is None:
            return go(request, "service")
    elif limit is not None:
        messages.success(request, limits.extended_text(limit))
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return go(request, "mypage")


@refused_during_stop
@citizen_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, card: Card) -> HttpResponse:
    if request.method == "POST":
        return _confirm_once(request, card)
    hold = _hold_of(card)
    contact = _contact_of(request, card)
    if hold is None:
        messages.warning(request, _("確保していた時間の期限が切れました。もう一度時間を選んでください。"))
        return go(request, "service")
    if contact is None:  # the time is held, in another browser perhaps: only the details are missing here
        messages.info(request, _("選んだ時間は確保しています。確認の前に連絡先を入力してください。"))
        return go(request, "details")
    current = services.active_booking(card)
    phone = format_phone(contact.get("phone", ""))
    context = {"hold": hold, "contact": contact, "phone": phone, "current": current, "step": 6}
    # One-time token (issue 11): a second POST of this page goes where the first went, never books twice.
    context["form_token"] = idempotency.form_token("confirm")
    return page(request, "confirm.html", context)


def _write_scope(request: HttpRequest, card: Card) -> str:
    """Whose form tokens: the operator's for this caller's card (a stale tab of the last caller must not
    answer for this one), or the resident's card."""
    return f"staff:{request.user.pk}:card:{card.pk}" if _party(request).operator else f"card:{card.pk}"


def _contact_of(request: HttpRequest, card: Card) -> dict[str, str] | None:
    """The contact details typed for this card in this session (None for another card's: an operator's
    session serves one caller after another)."""
    contact = request.session.get(SESSION_CONTACT)
    return contact if isinstance(contact, dict) and contact.get("card") == card.pk else None


def _already_sent(request: HttpRequest) -> HttpResponse:
    """The same form token for another request, or its first request still running: nothing written now."""
    messages.info(request, _("この手続きは処理中か、すでに完了しています。予約の内容をご確認ください。"))
    return go(request, "mypage")


def _confirm_once(request: HttpRequest, card: Card) -> HttpResponse:
    party = _party(request)

    def confirm_hold() -> idempotency.Answer:
        contact, posted = _contact_of(request, card), request.POST.get("hold", "")
        if contact is None:
            raise services.BookingError("hold_expired")
        shown = (record_id(posted) or -1) if posted else None  # the hold this page showed (-1: none of its)
        booking = services.do_confirm_hold(
            card,
            hold_id=shown,
            contact_phone=contact["phone"],
            contact_email=contact["email"],
            channel=party.channel,
            language=party.language,
            actor=party.actor,
        )
        return idempotency.Answer(302, {"booking": booking.pk}, go(request, "done")["Location"])

    try:
        answer, _replayed = idempotency.form_once(
            request, _write_scope(request, card), "confirm", confirm_hold
        )
    except services.BookingError as error:
        if error.code == "hold_changed":
            messages.warning(request, error.message)
            return go(request, "confirm")
        (messages.warning if error.code == "hold_expired" else messages.error)(request, error.message)
        return go(request, "service")
    except (idempotency.KeyReused, idempotency.KeyInProgress):
        return _already_sent(request)
    request.session.pop(SESSION_CONTACT, None)
    limits.forget_slot(request)
    return redirect(answer.redirect_to)


@refused_during_stop
@citizen_required
@require_POST
def release(request: HttpRequest, card: Card) -> HttpResponse:
    services.do_release_hold(card, actor=_party(request).actor)
    request.session.pop(SESSION_CONTACT, None)
    limits.forget_slot(request)  # a released time is not held again by 「時間を延長する」
    messages.info(request, _("選んでいた時間を解放しました。"))
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return go(request, "mypage")


@citizen_required
def done(request: HttpRequest, card: Card) -> HttpResponse:
    """The page after a booking is made, changed (it says so: issue 15) or cancelled."""
    booking = services.active_booking(card)
    if booking is None:
        cancelled = Booking.objects.filter(
            pk=request.session.pop(SESSION_CANCELLED, None) or 0, card=card, status=Booking.Status.CANCELLED
        ).first()
        if cancelled is None:
            return go(request, "mypage")
        return page(request, "done.html", {"booking": cancelled, "outcome": "cancelled", "card": card})
    if _party(request).operator:
        return redirect("staff:callcenter_script", pk=booking.pk)  # the operator reads the items out (CC-03)
    rules = queries.booking_rules()
    deadline = windows.deadline_for(booking.slot.starts_at, rules)
    bring = bring_for(rules, booking.slot.service, active_language())
    context = {
        "booking": booking,
        "deadline": deadline,
        "card": card,
        "checkin_qr": _checkin_qr(card),
        "bring": bring,
    }
    # A change moves the booking in place and stamps changed_at; a new booking (even after a cancellation)
    # is a new row without it.
    context["outcome"] = "changed" if booking.changed_at else "booked"
    return page(request, "done.html", context)


def _checkin_qr(card: Card) -> str:
    """The code the counter's scanner reads at check-in: the reservation number only, no secret (BK-13)."""
    label = _("窓口でこのコードを見せてください")
    return mark_safe(qr.inline_svg(card.reservation_number, label=label, element_id="checkin-qr"))  # noqa: S308
