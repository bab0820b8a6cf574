"""The bookings screens of the staff console (AD-05, AD-06, AD-08)."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.audit import oplog
from booking.lib.phone import format_phone
from booking.models import Booking
from booking.staff import lists
from booking.staff.forms import BookingFilterForm
from integrations import csv_export

PAGE_SIZE = 50
REPLACEMENT_PREVIEW_LIMIT = 20_000


def _filters(request: HttpRequest) -> tuple[BookingFilterForm, dict[str, object]]:
    params = request.GET.copy()
    if not params:
        today = timezone.localdate().isoformat()
        params.update({"date_from": today, "date_to": today})
    form = BookingFilterForm(params)
    return form, (form.cleaned_data if form.is_valid() else {})


def _unencodable(rows: lists.QuerySet[Booking], encoding: str) -> csv_export.ExportStats | None:
    """What a Shift_JIS download of these rows would replace with 〓, shown before the download."""
    if encoding != "cp932" or rows.count() > REPLACEMENT_PREVIEW_LIMIT:
        return None
    stats = csv_export.ExportStats()
    for _chunk in csv_export.iter_csv(lists.CSV_HEADER, lists.csv_rows(rows), "cp932", stats):
        pass
    return stats


@staff_view(Can.VIEW_BOOKINGS, log_reads="bookings.list")
def bookings(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    rows = lists.bookings(filters) if form.is_valid() else Booking.objects.none()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    encoding = request.GET.get("encoding", csv_export.DEFAULT_ENCODING)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "booking/staff/bookings.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "encodings": csv_export.ENCODINGS.values(),
            "encoding": encoding if encoding in csv_export.ENCODINGS else csv_export.DEFAULT_ENCODING,
            "replacements": _unencodable(rows, encoding) if form.is_valid() else None,
        },
        status=200 if form.is_valid() else 400,
    )


@staff_view(Can.EXPORT)
def bookings_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, filters = _filters(request)
    encoding = request.GET.get("encoding", csv_export.DEFAULT_ENCODING)
    if not form.is_valid() or encoding not in csv_export.ENCODINGS:
        return render(
            request,
            "booking/staff/bookings.html",
            {
                "form": form,
                "page": None,
                "encodings": csv_export.ENCODINGS.values(),
                "encoding": encoding,
                "csv_problem": True,
            },
            status=400,
        )
    # The console's button is for a person opening the file in Excel: the Excel variant (csv_export).
    return stream_bookings_csv(
        actor_of(request), request.get_full_path(), lists.bookings(filters), encoding, excel=True
    )


def stream_bookings_csv(
    actor: oplog.Actor, path: str, rows: lists.QuerySet[Booking], encoding: str, *, excel: bool
) -> StreamingHttpResponse:
    """Stream the rows as CSV (``excel``: the variant for Excel, else the plain one); the log records the
    export when it starts and what it replaced when done."""
    stats = csv_export.ExportStats()
    oplog.record(actor, "bookings.export", path[:200], {"encoding": encoding, "excel": excel})

    def body() -> Iterator[bytes]:
        yield from csv_export.iter_csv(lists.CSV_HEADER, lists.csv_rows(rows), encoding, stats, excel=excel)
        if stats.replaced:
            oplog.record(
                actor,
                "bookings.export.replaced",
                path[:200],
                {"rows": stats.rows, "replaced": stats.replaced, "chars": stats.replaced_chars},
            )

    stem = f"予約一覧_{timezone.localtime():%Y%m%d_%H%M}"
    response = StreamingHttpResponse(body(), content_type=csv_export.content_type(encoding))
    response["Content-Disposition"] = csv_export.content_disposition(stem, encoding)
    return response


@staff_view(Can.VIEW_BOOKINGS, log_reads="booking.view")
def booking_detail(request: HttpRequest, pk: int) -> HttpResponse:
    booking = get_object_or_404(Booking.objects.select_related("card", "slot__place", "slot__service"), pk=pk)
    events = booking.events.select_related("from_slot__place", "to_slot__place")
    others = (
        booking.card.bookings.exclude(pk=booking.pk).select_related("slot__place").order_by("-created_at")
        if booking.card
        else Booking.objects.none()
    )
    context = {
        "booking": booking,
        "events": events,
        "others": others,
        "phone": format_phone(booking.contact_phone),
    }
    return render(request, "booking/staff/booking.html", context)
