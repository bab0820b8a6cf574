"""Full data export screens (SO-16): ask for an export, see its progress, download it while it is valid."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.audit import oplog
from booking.exports import full_export
from booking.exports.tables import tables
from booking.models import ExportJob
from integrations import csv_export, storage

LINK_SECONDS = 15 * 60


@staff_view(Can.FULL_EXPORT, log_reads="export.list")
def exports(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "booking/staff/exports.html",
        {
            "jobs": ExportJob.objects.all()[:20],
            "now": timezone.now(),
            "kinds": tables(),
        },
    )


@staff_view(Can.FULL_EXPORT)
@require_POST
def request_export(request: HttpRequest) -> HttpResponse:
    full_export.do_request_full_export(actor_of(request))
    messages.success(request, _("全データの出力を開始しました。完了するとこの画面からダウンロードできます。"))
    return redirect("staff:exports")


@staff_view(Can.FULL_EXPORT)
def download_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = get_object_or_404(ExportJob, pk=pk, status=ExportJob.Status.DONE)
    if not job.key or job.expires_at is None or job.expires_at <= timezone.now():
        return render(
            request,
            "booking/staff/refused.html",
            {
                "code": "expired",
                "message": _("ダウンロードの期限が過ぎました。もう一度出力してください。"),
            },
            status=410,
        )
    oplog.record(actor_of(request), "export.download", f"export {job.pk}")
    target = storage.export_storage()
    filename = f"madoguchi-export-{timezone.localtime(job.requested_at):%Y%m%d-%H%M%S}.zip"  # Tokyo time
    url = target.download_url(job.key, LINK_SECONDS, filename)
    if url:
        return redirect(url)
    response = FileResponse(target.open(job.key), content_type="application/zip")
    response["Content-Disposition"] = csv_export.attachment_disposition(filename)
    return response
