"""Card data import screens (AD-03): upload a J-LIS file (or CARDS.csv), then follow its background import.

The import is one transaction in a Celery worker (`booking.lifecycle.intake_job`); its progress comes from the
cache, and the job page reloads itself while the job runs, without JavaScript.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.jobs import pages as job_pages
from booking.lifecycle import intake_job
from booking.models import CardImportJob
from integrations import jlis
from integrations.jlis import CardImportError, Layout

logger = logging.getLogger(__name__)

# The LGWAN gateway takes request bodies up to 20 MiB (infra/gateways/snippets/lgwan-site.conf); this leaves
# room for the form around the file, so a file the gateway would cut off gets a clear answer here instead.
# 100,000 J-LIS fixed-width records are 44 MB; the LGWAN gateway allows this path as much (lgwan-site.conf).
MAX_UPLOAD_BYTES = 64_000_000
SNIFF_BYTES = 8192
REFRESH_SECONDS = 3
FIELD_LABELS = {
    "application_id": gettext_lazy("申請書ID"),
    "name": gettext_lazy("氏名"),
    "name_kana": gettext_lazy("氏名カナ"),
    "birth_date": gettext_lazy("生年月日"),
    "postal_code": gettext_lazy("郵便番号"),
    "address": gettext_lazy("住所"),
}


class CardImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("取込ファイル"),
        help_text=gettext_lazy(
            "J-LIS のカード作成データ（CSV または固定長、Shift_JIS または UTF-8）か CARDS.csv。"
            "64MB（固定長で約14万件）まで。"
        ),
        error_messages={
            "required": gettext_lazy("ファイルを選んでください。"),
            "empty": gettext_lazy("ファイルが空です。"),
            "invalid": gettext_lazy("ファイルを送信できませんでした。もう一度選んでください。"),
        },
    )
    file_format = forms.ChoiceField(
        label=gettext_lazy("形式"),
        required=False,
        choices=[
            ("", gettext_lazy("自動判定")),
            (Layout.JLIS_CSV.value, gettext_lazy("J-LIS CSV")),
            (Layout.JLIS_FIXED.value, gettext_lazy("J-LIS 固定長")),
            (Layout.CARDS_CSV.value, gettext_lazy("CARDS.csv（英語の見出し）")),
        ],
    )
    encoding = forms.ChoiceField(
        label=gettext_lazy("文字コード"),
        required=False,
        choices=[
            ("", gettext_lazy("自動判定")),
            (jlis.CP932, gettext_lazy("Shift_JIS（cp932）")),
            (jlis.UTF8, gettext_lazy("UTF-8")),
        ],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is None:
            return data
        if upload.size > MAX_UPLOAD_BYTES:
            self.add_error(
                "file",
                _(
                    "ファイルが大きすぎます（%(size)s バイト、上限 %(limit)s バイト）。"
                    "ファイルを分けて取り込んでください。"
                )
                % {"size": f"{upload.size:,}", "limit": f"{MAX_UPLOAD_BYTES:,}"},
            )
            return data
        # A quick look at the first line: a wrong kind of file gets its answer now, not from the worker.
        head = upload.read(SNIFF_BYTES)
        upload.seek(0)
        try:
            jlis.sniff(head, layout=self.layout(), encoding=data.get("encoding") or None)
        except CardImportError as exc:
            self.add_error("file", exc.problems[0].reason)
        return data

    def layout(self) -> Layout | None:
        chosen = self.cleaned_data.get("file_format")
        return Layout(chosen) if chosen else None


@staff_view(Can.IMPORT_CARDS)
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CardImportForm(request.POST, request.FILES)
        if form.is_valid():
            job = _queue(request, form)
            if job is not None:
                messages.success(request, _("取込を受け付けました。この画面で進み具合を確認できます。"))
                return redirect("staff:card_import_job", pk=job.pk)
        return _page(request, form, status=400)
    return _page(request, CardImportForm())


def _queue(request: HttpRequest, form: CardImportForm) -> CardImportJob | None:
    uploaded = form.cleaned_data["file"]
    try:
        return intake_job.do_request_card_import(
            actor_of(request),
            uploaded.chunks(),
            filename=uploaded.name or "",
            layout=form.layout(),
            encoding=form.cleaned_data.get("encoding") or None,
        )
    except Exception:  # noqa: BLE001 - storage or queue down: a clear answer, nothing half made
        logger.exception("card import: the upload could not be stored or queued")
        form.add_error(
            None,
            _(
                "ファイルを保存できなかったため、取込を開始していません。しばらくしてからもう一度お試しください。"
            ),
        )
        return None


def _page(request: HttpRequest, form: CardImportForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "booking/staff/cards/import.html",
        {"form": form, "jobs": CardImportJob.objects.all()[:20], "max_bytes": MAX_UPLOAD_BYTES},
        status=status,
    )


@staff_view(Can.IMPORT_CARDS)
def job(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(CardImportJob, pk=pk)
    progress = job_pages.progress(found.status, *intake_job.job_progress(found))
    response = render(
        request,
        "booking/staff/cards/import_job.html",
        {
            "job": found,
            **progress,
            "problems": [
                {**problem, "label": FIELD_LABELS.get(str(problem.get("field")), "")}
                for problem in found.problems
            ],
            "refresh_seconds": REFRESH_SECONDS,
        },
    )
    if progress["running"]:
        job_pages.reload_every(response, REFRESH_SECONDS)
    return response
