"""Transfer list screens (BK-13): choose a counter and a day, see its list (a live preview before the cut),
download it as CSV or PDF, confirm the move of its cards, bring back cards removed after the cut. "All
counters" shows a day's counters side by side and downloads their lists as one PDF (a counter's sheet from a
new page) and one CSV (with the counter's column); confirming stays one counter at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.forms.models import ModelChoiceIterator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can, allows
from booking.audit import oplog
from booking.lib.digits import record_id, whole_number
from booking.lib.typed_fields import TypedDateField
from booking.lifecycle import transfers
from booking.lifecycle.place_day import PlaceDayForm
from booking.lifecycle.transfer_services import TransferError, do_confirm_transfer, do_return_to_back_office
from booking.models import Card, Place, TransferConfirmation
from booking.rules.card_states import CardState
from integrations import csv_export
from tenants.db import tenant_connection

# The place choice that stands for every counter of the day (lists, PDF and CSV; never a confirmation).
ALL_PLACES = "all"


class _PlacesAndAll(ModelChoiceIterator):
    """The counters, with "all counters" right after the empty choice."""

    def __iter__(self) -> Iterator[Any]:
        choices = super().__iter__()
        if self.field.empty_label is not None:
            yield next(choices)
        yield ALL_PLACES, _("すべての窓口（まとめて印刷・保存）")
        yield from choices

    def __len__(self) -> int:
        return super().__len__() + 1


class PlaceOrAllField(forms.ModelChoiceField):
    iterator = _PlacesAndAll

    def to_python(self, value: Any) -> Any:
        return ALL_PLACES if value == ALL_PLACES else super().to_python(value)


class ChooseForm(PlaceDayForm):
    place = PlaceOrAllField(label=gettext_lazy("窓口"), queryset=Place.objects.all())
    day = TypedDateField(label=gettext_lazy("来庁日"), widget=forms.DateInput(attrs={"type": "date"}))


def _now() -> dt.datetime:
    """The clock (tests fix it)."""
    return timezone.now()


def _chosen_any(data: object) -> tuple[ChooseForm, Place | str | None, dt.date | None]:
    """A counter or ALL_PLACES, and a day."""
    form = ChooseForm(data)  # type: ignore[arg-type]
    if not form.is_valid():
        return form, None, None
    return form, form.cleaned_data["place"], form.cleaned_data["day"]


def _chosen(data: object) -> tuple[ChooseForm, Place | None, dt.date | None]:
    """One counter and a day: what confirming and bringing back need."""
    form, place, day = _chosen_any(data)
    if place == ALL_PLACES:
        form.add_error("place", _("窓口を一つ選んでください。"))
        return form, None, None
    return form, place if isinstance(place, Place) else None, day


def _back(place: Place, day: dt.date) -> HttpResponse:
    query = urlencode({"place": place.pk, "day": day.isoformat()})
    return redirect(f"{reverse('staff:transfers')}?{query}")


@staff_view(Can.VIEW_BOOKINGS, log_reads="transfers.view")
def transfer_page(request: HttpRequest) -> HttpResponse:
    now = _now()
    if "place" not in request.GET and "day" not in request.GET:
        tomorrow = timezone.localtime(now).date() + dt.timedelta(days=1)
        form = ChooseForm(initial={"day": tomorrow})
        return render(request, "booking/staff/transfers/list.html", {"form": form})
    form, chosen, day = _chosen_any(request.GET)
    if chosen is None or day is None:
        return render(request, "booking/staff/transfers/list.html", {"form": form}, status=400)
    role = request.staff.role  # type: ignore[attr-defined]
    if not isinstance(chosen, Place):
        return render(
            request,
            "booking/staff/transfers/list.html",
            {
                "form": form,
                "all_counters": True,
                "all_lists": transfers.all_transfer_lists(day, now),
                "day": day,
                "can_export": allows(role, Can.EXPORT),
                "encodings": csv_export.ENCODINGS.values(),
                "query": urlencode({"place": ALL_PLACES, "day": day.isoformat()}),
            },
        )
    place = chosen
    return render(
        request,
        "booking/staff/transfers/list.html",
        {
            "form": form,
            "list": transfers.transfer_list(place, day, now),
            "confirmations": TransferConfirmation.objects.filter(place=place, day=day),
            "can_act": allows(role, Can.EDIT_CARDS),
            "can_export": allows(role, Can.EXPORT),
            "encodings": csv_export.ENCODINGS.values(),
            "query": urlencode({"place": place.pk, "day": day.isoformat()}),
        },
    )


def _refused(request: HttpRequest, form: ChooseForm) -> HttpResponse:
    return render(request, "booking/staff/transfers/list.html", {"form": form}, status=400)


@staff_view(Can.EXPORT)
def transfer_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, chosen, day = _chosen_any(request.GET)
    encoding = request.GET.get("encoding", csv_export.DEFAULT_ENCODING)
    if chosen is None or day is None or encoding not in csv_export.ENCODINGS:
        return _refused(request, form)
    if not isinstance(chosen, Place):
        return _all_csv(request, day, encoding)
    place = chosen
    listing = transfers.transfer_list(place, day, _now())
    oplog.record(actor_of(request), "transfers.export", f"{place.code} {day.isoformat()}", {"format": "csv"})
    rows = csv_export.iter_csv(transfers.CSV_HEADER, transfers.csv_rows(listing), encoding, excel=True)
    response = StreamingHttpResponse(rows, content_type=csv_export.content_type(encoding))
    stem = f"移送リスト_{place.code}_{day:%Y%m%d}"
    response["Content-Disposition"] = csv_export.content_disposition(stem, encoding)
    return response


def _all_csv(request: HttpRequest, day: dt.date, encoding: str) -> StreamingHttpResponse:
    listings = transfers.all_transfer_lists(day, _now())
    oplog.record(actor_of(request), "transfers.export", f"{ALL_PLACES} {day.isoformat()}", {"format": "csv"})
    rows = csv_export.iter_csv(
        transfers.ALL_CSV_HEADER, transfers.all_csv_rows(listings), encoding, excel=True
    )
    response = StreamingHttpResponse(rows, content_type=csv_export.content_type(encoding))
    stem = f"移送リスト_全窓口_{day:%Y%m%d}"
    response["Content-Disposition"] = csv_export.content_disposition(stem, encoding)
    return response


def _all_pdf(request: HttpRequest, day: dt.date) -> HttpResponse:
    now = _now()
    listings = transfers.all_transfer_lists(day, now)
    if not listings:
        messages.info(request, _("この日に移送するカードのある窓口はありません。"))
        return redirect(f"{reverse('staff:transfers')}?{urlencode({'place': ALL_PLACES, 'day': day})}")
    oplog.record(actor_of(request), "transfers.export", f"{ALL_PLACES} {day.isoformat()}", {"format": "pdf"})
    body = transfers.all_pdf(listings, tenant_connection().tenant.name, now)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = csv_export.attachment_disposition(f"移送リスト_全窓口_{day:%Y%m%d}.pdf")
    return response


@staff_view(Can.EXPORT)
def transfer_pdf(request: HttpRequest) -> HttpResponse:
    form, chosen, day = _chosen_any(request.GET)
    if chosen is None or day is None:
        return _refused(request, form)
    if not isinstance(chosen, Place):
        return _all_pdf(request, day)
    place = chosen
    now = _now()
    listing = transfers.transfer_list(place, day, now)
    oplog.record(actor_of(request), "transfers.export", f"{place.code} {day.isoformat()}", {"format": "pdf"})
    body = transfers.pdf(listing, tenant_connection().tenant.name, now)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = csv_export.attachment_disposition(
        f"移送リスト_{place.code}_{day:%Y%m%d}.pdf"
    )
    return response


@staff_view(Can.EDIT_CARDS)
@require_POST
def confirm_transfer(request: HttpRequest) -> HttpResponse:
    form, place, day = _chosen(request.POST)
    if place is None or day is None:
        return _refused(request, form)
    expected = whole_number(request.POST.get("expected", ""))
    if expected is None:  # the count on the button guards against a list changed meanwhile: never skipped
        messages.error(request, _("確定する枚数が読めません。リストを開き直してから確定してください"))
        return _back(place, day)
    try:
        result = do_confirm_transfer(place, day, actor=actor_of(request), now=_now(), expected=expected)
    except TransferError as error:
        messages.error(request, error.message)
        return _back(place, day)
    messages.success(
        request,
        _("%(count)d枚のカードを「%(place)s」へ移送済みにしました。")
        % {"count": result.moved, "place": place.name},
    )
    return _back(place, day)


@staff_view(Can.EDIT_CARDS)
@require_POST
def return_card(request: HttpRequest) -> HttpResponse:
    form, place, day = _chosen(request.POST)
    if place is None or day is None:
        return _refused(request, form)
    # ASCII digits that fit a bigint: isdigit() passes "²", on which int() raises (a 500).
    card_id = record_id(request.POST.get("card", ""))
    if card_id is None:
        raise Http404
    card = get_object_or_404(Card, pk=card_id)
    try:
        state = do_return_to_back_office(card, actor=actor_of(request), now=_now())
    except TransferError as error:
        messages.error(request, error.message)
        return _back(place, day)
    messages.success(
        request,
        _("予約番号 %(number)s のカードを事務室に戻しました（%(state)s）。")
        % {"number": card.reservation_number, "state": CardState(state).label},
    )
    return _back(place, day)
