"""The call-center operator's screens (CC-01…CC-05): identify the caller, then the citizen's own flow for
card bookings (BK-10, namespace "caller"); phone-only visits; the read-out script; one-click call log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.callcenter import services as callcenter
from booking.callcenter.session import CALLER_CARD, CALLER_LANGUAGE
from booking.engine import idempotency, queries, services
from booking.engine.texts import bring_for
from booking.lib.dates import TOKYO, plausible_day
from booking.lib.digits import record_id
from booking.lib.japanese import is_katakana_name, to_katakana
from booking.lib.phone import format_phone, phone_number
from booking.lib.typed_fields import TypedDateField
from booking.models import Booking, CallLogEntry, Card, Place, Service


class IdentifyForm(forms.Form):
    reservation_number = forms.CharField(label=gettext_lazy("予約番号"), max_length=40)
    birth_date = TypedDateField(
        label=gettext_lazy("生年月日"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    name_kana = forms.CharField(label=gettext_lazy("氏名（カナ）"), max_length=100, required=False)
    # Operators speak Japanese; a caller who asks for English gets the booking's mails in English.
    language = forms.ChoiceField(
        label=gettext_lazy("メールの言語"),
        choices=Booking.Language.choices,
        initial=Booking.Language.JA,
        required=False,  # not chosen: Japanese
        help_text=gettext_lazy("予約確認などのメールをこの言語で送ります。"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A birth date that was typed but is no date has its own error on the field: not "nothing entered".
        if "birth_date" in self.errors:
            return data
        if not data.get("birth_date") and not (data.get("name_kana") or "").strip():
            raise forms.ValidationError(_("本人確認のため、生年月日か氏名（カナ）を入力してください。"))
        return data


class VisitForm(forms.Form):
    """A phone-only service for a caller: what, where, when, and who (name in kana and a phone number)."""

    service = forms.ModelChoiceField(
        label=gettext_lazy("サービス"),
        to_field_name="code",
        queryset=Service.objects.filter(web_bookable=False),
    )
    place = forms.ModelChoiceField(label=gettext_lazy("場所"), queryset=Place.objects.all())
    day = TypedDateField(label=gettext_lazy("日にち"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_day(self) -> dt.date:
        day: dt.date = self.cleaned_data["day"]
        if not plausible_day(day):
            raise forms.ValidationError(_("日付の範囲が正しくありません。"))
        if day < timezone.localdate():  # not "no free times": the operator mistyped the day
            raise forms.ValidationError(_("過去の日付です。今日以降の日付を入力してください。"))
        return day


class CallerForm(forms.Form):
    start = forms.DateTimeField(label=gettext_lazy("時間"))
    caller_name_kana = forms.CharField(label=gettext_lazy("氏名（カナ）"), max_length=100)
    contact_phone = forms.CharField(label=gettext_lazy("電話番号"), max_length=20)

    def clean_caller_name_kana(self) -> str:
        kana = to_katakana(self.cleaned_data["caller_name_kana"])
        if not is_katakana_name(kana):
            raise forms.ValidationError(_("氏名はカタカナで入力してください。"))
        return kana

    def clean_contact_phone(self) -> str:
        digits = phone_number(self.cleaned_data["contact_phone"])
        if digits is None:
            raise forms.ValidationError(_("電話番号は0から始まる10桁または11桁の数字で入力してください。"))
        return digits


def _today() -> dt.date:
    return timezone.localdate()


@staff_view(Can.CALL_CENTER)
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    form = IdentifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card = callcenter.do_identify_caller(
                actor_of(request),
                form.cleaned_data["reservation_number"],
                birth_date=form.cleaned_data.get("birth_date"),
                name_kana=form.cleaned_data.get("name_kana") or "",
            )
        except callcenter.CallerNotFound:
            form.add_error(None, _("予約番号と生年月日（または氏名）が一致するカードはありません。"))
        else:
            request.session[CALLER_CARD] = card.pk
            request.session[CALLER_LANGUAGE] = form.cleaned_data["language"] or Booking.Language.JA
            return redirect("/staff/caller/mypage/")
    return render(
        request,
        "booking/staff/callcenter/home.html",
        {
            "form": form,
            "tallies": callcenter.call_tallies(_today()),
            "kinds": CallLogEntry.Kind.choices,
            "caller": request.session.get(CALLER_CARD),
        },
        status=400 if form.errors else 200,
    )


@staff_view(Can.CALL_CENTER)
@require_POST
def log_call(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind in CallLogEntry.Kind.values:
        callcenter.do_log_call(actor_of(request), kind)
        messages.success(request, _("受電を記録しました: %(kind)s") % {"kind": CallLogEntry.Kind(kind).label})
    else:
        messages.error(request, _("受電の種別が正しくありません。"))
    return redirect("staff:callcenter")


@staff_view(Can.CALL_CENTER)
@require_POST
def end_call(request: HttpRequest) -> HttpResponse:
    card_id = request.session.pop(CALLER_CARD, None)
    request.session.pop(CALLER_LANGUAGE, None)
    if card_id:
        card = Card.objects.filter(pk=card_id).first()
        if card is not None:
            services.do_release_hold(card, actor=actor_of(request))
    messages.info(request, _("通話を終了しました。"))
    return redirect("staff:callcenter")


@staff_view(Can.CALL_CENTER, log_reads="visit.search")
@require_http_methods(["GET", "POST"])
def visit(request: HttpRequest) -> HttpResponseBase:
    moving = _visit_to_move(request)
    if isinstance(moving, HttpResponse):
        return moving
    initial = {"service": moving.slot.service.code, "place": moving.slot.place_id} if moving else None
    search = VisitForm(request.GET or None, initial=initial)
    caller = CallerForm(
        request.POST or None,
        initial={
            "caller_name_kana": moving.caller_name_kana,
            "contact_phone": format_phone(moving.contact_phone),
        }
        if moving
        else None,
    )
    slots: list[queries.FreeSlot] = []
    problem = ""
    bring = None
    if search.is_valid():
        service, place, day = (search.cleaned_data[k] for k in ("service", "place", "day"))
        # what the operator tells the caller to bring: this service's own text (read out in Japanese)
        bring = bring_for(queries.booking_rules(), service, "ja")
        if request.method == "POST" and caller.is_valid():
            # The form's one-time token (issue 11): a double click or a resubmit goes to the first visit's
            # script, never books it twice.
            def book() -> idempotency.Answer:
                booking = _book_or_move(request, moving, place, service, caller.cleaned_data)
                return idempotency.Answer(
                    302, {"booking": booking.pk}, reverse("staff:callcenter_script", args=[booking.pk])
                )

            try:
                answer, _replayed = idempotency.form_once(request, f"staff:{request.user.pk}", "visit", book)
            except services.BookingError as error:
                problem = error.message
            except (idempotency.KeyReused, idempotency.KeyInProgress):
                problem = _(
                    "この入力画面はすでに送信されたか、処理中です。予約を確認してから、必要ならこの画面で入力し直してください。"
                )
            else:
                return redirect(answer.redirect_to)
        slots = queries.free_slots(place, service, day, day)
    return render(
        request,
        "booking/staff/callcenter/visit.html",
        {
            "search": search,
            "caller": caller,
            "slots": slots,
            "problem": problem,
            "moving": moving,
            "bring": bring,
            "form_token": idempotency.form_token("visit"),
        },
        status=400 if problem or (request.method == "POST" and caller.errors) else 200,
    )


def _visit_to_move(request: HttpRequest) -> Booking | HttpResponse | None:
    """The visit `?move=` names, or the way back to its page when it has been cancelled meanwhile."""
    booking_id = record_id(request.GET.get("move", ""))
    if booking_id is None:
        return None
    booking = get_object_or_404(
        Booking.objects.select_related("slot__place", "slot__service"), pk=booking_id, card__isnull=True
    )
    if booking.status != Booking.Status.CONFIRMED:
        messages.warning(request, _("この来庁予約は取り消されているため、変更できません。"))
        return redirect("staff:booking", pk=booking.pk)
    return booking


def _book_or_move(
    request: HttpRequest, moving: Booking | None, place: Place, service: Service, data: dict[str, Any]
) -> Booking:
    actor = actor_of(request)
    start = data["start"].astimezone(TOKYO)
    if moving is not None:
        return callcenter.do_move_visit(
            actor,
            moving,
            place,
            start,
            service=service,
            seen_slot=record_id(request.POST.get("from_slot", "")),
            caller_name_kana=data["caller_name_kana"],
            contact_phone=data["contact_phone"],
        )
    return services.do_book_visit(
        place,
        service,
        start,
        caller_name_kana=data["caller_name_kana"],
        contact_phone=data["contact_phone"],
        actor=actor,
    )


@staff_view(Can.CALL_CENTER)
@require_http_methods(["GET", "POST"])
def cancel_visit(request: HttpRequest, pk: int) -> HttpResponse:
    """Asked first (as a resident's cancellation is), then cancelled: one click on the booking's page
    cancelled it at once."""
    booking = get_object_or_404(
        Booking.objects.select_related("slot__place", "slot__service"), pk=pk, card__isnull=True
    )
    if booking.status != Booking.Status.CONFIRMED:
        messages.info(request, _("この来庁予約はすでに取り消されています。"))
        return redirect("staff:booking", pk=booking.pk)
    if request.method == "GET":
        return render(request, "booking/staff/callcenter/cancel_visit.html", {"booking": booking})
    try:
        services.do_cancel_booking(booking, channel=Booking.Channel.PHONE, actor=actor_of(request))
    except services.BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("来庁予約を取り消しました。"))
    return redirect("staff:booking", pk=booking.pk)


@staff_view(Can.CALL_CENTER)
@require_http_methods(["GET", "POST"])
def script(request: HttpRequest, pk: int) -> HttpResponse:
    """The items to read out after booking (CC-03); the operator ticks each one as read."""
    booking = get_object_or_404(Booking.objects.select_related("slot__place", "slot__service", "card"), pk=pk)
    lines = callcenter.script_lines(booking)
    missing = False
    if request.method == "POST":
        ticked = set(request.POST.getlist("read"))
        if ticked >= {str(i) for i in range(len(lines))}:
            callcenter.do_confirm_script_read(actor_of(request), booking)
            request.session.pop(CALLER_CARD, None)
            messages.success(request, _("読み上げを完了しました。通話を終了してください。"))
            return redirect("staff:callcenter")
        missing = True
    return render(
        request,
        "booking/staff/callcenter/script.html",
        {
            "booking": booking,
            "lines": lines,
            "missing": missing,
        },
        status=400 if missing else 200,
    )
