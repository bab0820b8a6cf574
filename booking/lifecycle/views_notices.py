"""Notice letter screens (AD-03): choose the cards, confirm the counts, follow the run, download the files.

A run gives every card in it a new password, so starting one takes two steps: the choice, then a page with
the counts (and how many are reprints, whose old letters stop working) on which the run is confirmed. The
run itself is a Celery task; its page reloads itself while it runs (the Refresh header, no JavaScript).
The files hold passwords: administrators only, every download is in the operation log, and they are gone
after `notices.DOWNLOAD_DAYS` days (410) or as soon as someone deletes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.audit import oplog
from booking.engine import idempotency
from booking.jobs import pages as job_pages
from booking.lib.digits import whole_number
from booking.lifecycle import notices, queries
from booking.models import Card, JobStatus, NoticeRun
from booking.rules.card_states import CardState
from integrations import csv_export, storage

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5
LINK_SECONDS = 15 * 60
RUNS_SHOWN = 20
ALL_SET_UP, IMPORT_JOB, LINES = "set_up", "import_job", "lines"


class NoticeSelectionForm(forms.Form):
    selection = forms.ChoiceField(
        label=gettext_lazy("印刷するカード"),
        widget=forms.RadioSelect,
        choices=[
            (ALL_SET_UP, gettext_lazy("交付前設定済みで、まだ印刷していないカードすべて")),
            (IMPORT_JOB, gettext_lazy("取込ごと（その取込の交付前設定済みのカード）")),
            (LINES, gettext_lazy("申請書ID・予約番号で指定（再印刷もこちら）")),
        ],
        error_messages={"required": gettext_lazy("印刷するカードの選び方を選んでください。")},
    )
    import_job = forms.TypedChoiceField(
        label=gettext_lazy("取込"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=gettext_lazy("「取込ごと」を選んだときに選びます。"),
    )
    lines = forms.CharField(
        label=gettext_lazy("申請書ID（23桁）または予約番号（12桁）、1行に1件"),
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "cols": 40,
                "inputmode": "numeric",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text=gettext_lazy(
            "「申請書ID・予約番号で指定」を選んだときに入力します。"
            "バーコードリーダーで通知書の申請書IDを読み取って入力することもできます。"
        ),
    )

    def __init__(self, *args: Any, jobs: list[tuple[Any, int, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field_ = self.fields["import_job"]
        assert isinstance(field_, forms.TypedChoiceField)
        field_.choices = [("", _("選んでください"))] + [
            (
                job.pk,
                _("#%(n)s %(file)s（%(at)s）: 印刷できるカード %(ready)s枚、交付前設定待ち %(waiting)s枚")
                % {
                    "n": job.pk,
                    "file": job.filename,
                    "at": timezone.localtime(job.requested_at).strftime("%Y-%m-%d %H:%M"),
                    "ready": ready,
                    "waiting": waiting,
                },
            )
            for job, ready, waiting in jobs
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("selection") == IMPORT_JOB and not data.get("import_job"):
            self.add_error("import_job", _("取込を選んでください。"))
        if data.get("selection") == LINES and not (data.get("lines") or "").strip():
            self.add_error("lines", _("申請書IDまたは予約番号を1行に1件入力してください。"))
        return data


@dataclass
class Selection:
    """The cards a form chose, what they are, and the problems of pasted lines."""

    card_ids: list[int] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    problems: list[queries.LineProblem] = field(default_factory=list)
    described: str = ""
    repeats: list[queries.LineProblem] = field(default_factory=list)  # a letter scanned again: taken once

    @property
    def reprints(self) -> int:
        return self.states.get(CardState.NOTICE_SENT, 0)

    @property
    def total(self) -> int:
        return len(self.card_ids)

    @property
    def first_time(self) -> int:
        return self.total - self.reprints


def _selected(form: NoticeSelectionForm) -> Selection:
    data = form.cleaned_data
    if data["selection"] == LINES:
        # A letter scanned twice (the reader beeps, the clerk is unsure) is taken once and said so, as the
        # cards' bulk change does: the same gesture, one rule (it stopped the whole run here).
        pasted = queries.cards_from_lines(data["lines"], repeats_are_problems=False)
        described = _("指定したカード")
        return Selection(pasted.card_ids, dict(pasted.states), pasted.problems, described, pasted.repeats)
    cards: QuerySet[Card]
    if data["selection"] == IMPORT_JOB:
        cards, described = (
            queries.import_job_cards(data["import_job"]),
            _("取込 #%(n)s のカード") % {"n": data["import_job"]},
        )
    else:
        cards, described = queries.set_up_cards(), _("交付前設定済みのカードすべて")
    ids = list(cards.order_by("pk").values_list("pk", flat=True))
    return Selection(ids, {CardState.SET_UP: len(ids)} if ids else {}, [], described)


@staff_view(Can.PRINT_NOTICES, log_reads="notices.list")
def notices_page(request: HttpRequest) -> HttpResponse:
    return _index(request, _form())


def _form(data: Any = None) -> NoticeSelectionForm:
    return NoticeSelectionForm(data, jobs=queries.import_jobs_to_print())


def _index(
    request: HttpRequest, form: NoticeSelectionForm, selection: Selection | None = None, status: int = 200
) -> HttpResponse:
    runs = list(NoticeRun.objects.all()[:RUNS_SHOWN])
    return render(
        request,
        "booking/staff/notices/index.html",
        {
            "form": form,
            "selection": selection,
            "set_up": queries.set_up_cards().count(),
            "runs": [(run, notices.run_progress(run)) for run in runs],
            "now": timezone.now(),
            "download_days": notices.DOWNLOAD_DAYS,
        },
        status=status,
    )


class _NotStarted(Exception):
    """The selection no longer stands as confirmed; `answer` says so (nothing written, no key kept)."""

    def __init__(self, answer: HttpResponse) -> None:
        self.answer = answer


@staff_view(Can.PRINT_NOTICES)
@require_POST
def notices_start(request: HttpRequest) -> HttpResponse:
    """First the counts to confirm; with `confirm` (and the counts confirmed unchanged), the run."""
    form = _form(request.POST)
    if not form.is_valid():
        return _index(request, form, status=400)
    if request.POST.get("confirm") != "1":
        return _checked(request, form, confirming=False)

    def request_run() -> idempotency.Answer:
        # The selection is read here, inside the key's transaction: a resend of a page whose run finished
        # finds that run before its cards (all printed now) are looked at.
        selection = _selection_to_print(request, form)
        reprints = whole_number(request.POST.get("reprints", ""))  # as the confirmed page counted them
        run = notices.do_request_notice_run(selection.card_ids, actor=actor_of(request), reprints=reprints)
        return idempotency.Answer(302, {"run": run.pk}, reverse("staff:notice_run", args=[run.pk]))

    try:
        # The confirm page sent again (Back, a second press, a resend) goes to the run it made, never a
        # second run: that would reprint the same cards and void the letters of the first (a new user's walk).
        answer, replayed = idempotency.form_once(request, f"staff:{request.user.pk}", "notices", request_run)
    except _NotStarted as refused:
        return refused.answer
    except notices.NoticePrintError as exc:
        form.add_error(None, exc.shown)
        return _index(request, form, status=409)
    except (idempotency.KeyReused, idempotency.KeyInProgress):
        started = _("この確認画面からはすでに印刷を開始しています。印刷の一覧をご確認ください。")
        messages.info(request, started)
        return redirect("staff:notices")
    if replayed:
        messages.info(request, _("この確認画面からはすでに印刷を開始しています。その印刷の画面です。"))
    else:
        messages.success(request, _("印刷を開始しました。完了するとこの画面からダウンロードできます。"))
    return redirect(answer.redirect_to)


def _checked(request: HttpRequest, form: NoticeSelectionForm, *, confirming: bool) -> HttpResponse:
    """The selection's problems (400), or its counts to confirm; `confirming`: the counts changed since the
    page that confirmed them, said so."""
    selection = _selected(form)
    if selection.problems:
        return _index(request, form, selection, status=400)
    if not selection.card_ids:
        form.add_error(None, _("印刷できるカードがありません（交付前設定済みのカードがありません）。"))
        return _index(request, form, status=400)
    if confirming:
        messages.warning(
            request, _("確認のあとで対象のカードが変わりました。件数をもう一度確認してください。")
        )
    context = {"form": form, "selection": selection, "form_token": idempotency.form_token("notices")}
    return render(request, "booking/staff/notices/confirm.html", context)


def _selection_to_print(request: HttpRequest, form: NoticeSelectionForm) -> Selection:
    """The selection as the confirm page counted it, or `_NotStarted` with the page to show instead."""
    selection = _selected(form)
    if (
        selection.problems
        or not selection.card_ids
        or request.POST.get("expected", "") != str(selection.total)
    ):
        raise _NotStarted(_checked(request, form, confirming=True))
    return selection


@staff_view(Can.PRINT_NOTICES)
def notice_run(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(NoticeRun, pk=pk)
    progress = job_pages.progress(run.status, notices.run_progress(run), run.letters)
    refreshing = progress["running"] and request.GET.get("refresh") != "off"
    response = render(
        request,
        "booking/staff/notices/run.html",
        {
            "run": run,
            **progress,
            "refreshing": refreshing,
            "refresh_seconds": REFRESH_SECONDS,
            "available": _available(run),
            "now": timezone.now(),
        },
    )
    if refreshing:
        job_pages.reload_every(response, REFRESH_SECONDS)  # the page offers to stop it (WCAG 2.2.1)
    return response


def _available(run: NoticeRun) -> bool:
    return bool(
        run.status == JobStatus.DONE
        and run.pdf_key
        and run.csv_key
        and run.expires_at is not None
        and run.expires_at > timezone.now()
    )


_KINDS = {"pdf", "csv"}


@staff_view(Can.PRINT_NOTICES)
def notice_download(request: HttpRequest, pk: int, kind: str) -> HttpResponseBase:
    run = get_object_or_404(NoticeRun, pk=pk, status=JobStatus.DONE)
    if kind not in _KINDS:
        return _gone(request, status=404)
    key = run.pdf_key if kind == "pdf" else run.csv_key
    if not _available(run) or not key:
        return _gone(request)
    target = storage.export_storage()
    extension = key.rsplit(".", 1)[-1]
    suffix = "-vendor" if kind == "csv" else ""
    filename = f"notices-{run.pk}-{timezone.localtime(run.requested_at):%Y%m%d}{suffix}.{extension}"
    try:
        url = target.download_url(key, LINK_SECONDS, filename)
        stream = None if url else target.open(key)
    except FileNotFoundError:
        logger.warning("notice run %s: %s file missing from the storage", run.pk, kind)
        return _gone(request)
    oplog.record(actor_of(request), "notices.download", f"notice run {run.pk}", {"file": kind})
    if url:
        return redirect(url)
    content_type = {"pdf": "application/pdf", "zip": "application/zip"}.get(
        extension, "text/csv; charset=utf-8"
    )
    response = FileResponse(stream, content_type=content_type)
    response["Content-Disposition"] = csv_export.attachment_disposition(filename)
    return response


def _gone(request: HttpRequest, status: int = 410) -> HttpResponse:
    return render(
        request,
        "booking/staff/refused.html",
        {
            "code": "expired" if status == 410 else "not_found",
            "message": _(
                "このファイルはダウンロードの期限が過ぎたか、削除されました。必要な場合は、もう一度印刷してください"
                "（新しいパスワードになります）。"
            ),
        },
        status=status,
    )


@staff_view(Can.PRINT_NOTICES)
@require_POST
def notice_delete_files(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(NoticeRun, pk=pk, status=JobStatus.DONE)
    if notices.do_delete_notice_files(run, actor=actor_of(request)):
        messages.success(request, _("ファイルを削除しました。"))
    else:
        messages.info(request, _("この印刷のファイルはすでに削除されています。"))
    return redirect("staff:notice_run", pk=run.pk)
