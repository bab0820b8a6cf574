"""The counter's screen (BK-13): the day's bookings at a counter, check-in by the citizen's QR code (a
hand-held scanner types its 12 digits and Enter) or a typed reservation number, then hand-over or no-show."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can, allows
from booking.lib.dates import TOKYO
from booking.lib.digits import record_id
from booking.lifecycle import counter
from booking.lifecycle.counter import CounterError
from booking.lifecycle.place_day import PlaceDayForm
from booking.models import Booking, Place

SESSION_PLACE = "counter_place"  # the counter this clerk used last
SHOW_CHOICES = [
    ("", gettext_lazy("すべて")),
    ("waiting", gettext_lazy("来庁待ち")),
    ("checked_in", pgettext_lazy("a visitor at the counter", "受付済み")),  # as its rows: "Checked in"
    ("done", gettext_lazy("交付済み")),
    ("no_show", gettext_lazy("来庁なし")),
]


class CounterForm(PlaceDayForm):
    show = forms.ChoiceField(label=gettext_lazy("表示"), choices=SHOW_CHOICES, required=False)


def _now() -> dt.datetime:
    """The clock (tests fix it)."""
    return timezone.now()


def _page_url(place_pk: int, day: dt.date, show: str = "", booking: int | None = None) -> str:
    query: dict[str, Any] = {"place": place_pk, "day": day.isoformat()}
    if show:
        query["show"] = show
    if booking:
        query["booking"] = booking
    return f"{reverse('staff:counter')}?{urlencode(query)}"


@staff_view(Can.VIEW_BOOKINGS, log_reads="counter.view")
def counter_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localtime(_now(), TOKYO).date()
    data = {
        "place": request.GET.get("place") or request.session.get(SESSION_PLACE, ""),
        "day": request.GET.get("day") or today.isoformat(),
        "show": request.GET.get("show", ""),
    }
    form = CounterForm(data)
    if not form.is_valid():
        status = 400 if request.GET.get("place") or request.GET.get("day") else 200
        if status == 200:
            form = CounterForm(initial={"day": today})
        return render(request, "booking/staff/counter/day.html", {"form": form}, status=status)
    place: Place = form.cleaned_data["place"]
    day: dt.date = form.cleaned_data["day"]
    show: str = form.cleaned_data["show"]
    request.session[SESSION_PLACE] = place.pk
    rows = counter.day_bookings(place, day, show)
    return render(
        request,
        "booking/staff/counter/day.html",
        {
            "form": form,
            "place": place,
            "day": day,
            "is_today": day == today,
            "show": show,
            "filters": _filters(counter.day_counts(place, day)),
            "rows": rows,
            "selected": _selected(request, place, day),
            "can_act": allows(request.staff.role, Can.EDIT_CARDS),  # type: ignore[attr-defined]
        },
    )


def _filters(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(value, str(label), counts[value or "all"]) for value, label in SHOW_CHOICES]


def _selected(request: HttpRequest, place: Place, day: dt.date) -> Booking | None:
    """The booking just checked in (or chosen from the list), shown with its buttons."""
    # ASCII digits that fit a bigint: isdigit() passes "²", on which int() raises (a 500).
    chosen = record_id(request.GET.get("booking", ""))
    if chosen is None:
        return None
    return counter.day_bookings(place, day).select_related("slot__place").filter(pk=chosen).first()


@staff_view(Can.EDIT_CARDS)
@require_POST
def scan_check_in(request: HttpRequest) -> HttpResponse:
    """The check-in field: the QR code's 12 digits from a scanner, or a number typed by hand."""
    form = CounterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("窓口と日付を選んでください。"))
        return redirect("staff:counter")
    place, day, show = form.cleaned_data["place"], form.cleaned_data["day"], form.cleaned_data["show"]
    found = counter.find_booking(request.POST.get("q", "")[:100], place, day)
    if found.booking is None:
        messages.error(request, found.problem)
        return redirect(_page_url(place.pk, day, show))
    _check_in(request, found.booking)
    return redirect(_page_url(place.pk, day, show, found.booking.pk))


def _check_in(request: HttpRequest, booking: Booking) -> None:
    try:
        counter.do_check_in(booking, actor=actor_of(request), now=_now())
    except CounterError as error:
        if error.code == "already_checked_in":
            messages.warning(request, error.message)
        else:
            messages.error(request, error.message)
        return
    messages.success(request, _("%(name)s さんを受付しました。") % {"name": booking.name_kana})


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    booking = get_object_or_404(Booking.objects.select_related("card", "slot__place"), pk=pk)
    show = request.POST.get("show", "")
    show = show if show in dict(SHOW_CHOICES) else ""
    day = timezone.localtime(booking.slot.starts_at, TOKYO).date()
    if action == "check_in":
        _check_in(request, booking)
    else:
        service = counter.do_hand_over if action == "hand_over" else counter.do_mark_no_show
        try:
            service(booking, actor=actor_of(request), now=_now())
        except CounterError as error:
            messages.error(request, error.message)
        else:
            if action != "hand_over":
                done = _("%(name)s さんを来庁なしにしました。")
            elif booking.card_id is None:  # a phone-only service's visit: no card is handed over
                done = _("%(name)s さんの対応を記録しました。")
            else:
                done = _("%(name)s さんに交付しました。")
            messages.success(request, done % {"name": booking.name_kana})
    return redirect(_page_url(booking.slot.place_id, day, show, booking.pk))


@staff_view(Can.EDIT_CARDS)
@require_POST
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "check_in")


@staff_view(Can.EDIT_CARDS)
@require_POST
def hand_over(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "hand_over")


@staff_view(Can.EDIT_CARDS)
@require_POST
def no_show(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "no_show")
