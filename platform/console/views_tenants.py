"""The vendor console's municipality pages (issue 14 §3; MT-03, SO-16, SO-17): provision, invite, domains,
suspend and resume, full export, offboarding and its disposal certificate. Thin: each POST validates its
form and calls one service of tenants.lifecycle, which writes the vendor-log entry; refusals are shown on the
page they came from, with nothing changed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking import provisioning
from console import vendor_log
from console.access import operator_required
from console.forms_tenants import DomainForm, InviteForm, OffboardForm, ProvisionForm, SuspendForm
from integrations import csv_export, storage
from madoguchi.client_address import client_address
from tenants import lifecycle, offboarding
from tenants.models import Municipality, OffboardingRecord
from tenants.services import ProvisioningError

LINK_SECONDS = 15 * 60


def _actor(request: HttpRequest) -> vendor_log.Actor:
    return vendor_log.Actor(request.user.get_username(), request.user.pk, client_address(request))


def _tenant(schema_name: str) -> Municipality:
    try:
        return lifecycle.customer(schema_name)
    except ProvisioningError as exc:
        raise Http404(str(exc)) from exc


@operator_required
@require_http_methods(["GET", "POST"])
def tenant_new(request: HttpRequest) -> HttpResponse:
    form = ProvisionForm(request.POST or None)
    problem = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = lifecycle.do_provision(
                _actor(request),
                data["schema_name"].strip(),
                name=data["name"],
                name_en=data["name_en"],
                domain=data["domain"],
                preset=data["preset"],
                admin_username=data["admin_username"],
                admin_email=data["admin_email"],
            )
        except ProvisioningError as exc:
            problem = str(exc)
        else:
            tenant = outcome.result.tenant
            if outcome.invitation is not None:
                messages.success(request, _invited(outcome.invitation))
            elif not outcome.result.changed:
                messages.info(request, _("この自治体は既に同じ内容で作成済みです。変更はありません。"))
            return redirect("console:tenant", schema_name=tenant.schema_name)
    return render(
        request,
        "console/tenant_new.html",
        {"form": form, "problem": problem},
        status=400 if problem or form.errors else 200,
    )


def _invited(invitation: Any) -> str:
    return _("%(user)s さん（%(email)s）に招待メールを送りました。リンクの有効期限: %(until)s") % {
        "user": invitation.username,
        "email": invitation.email,
        "until": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M"),
    }


@operator_required
def tenant_detail(request: HttpRequest, schema_name: str) -> HttpResponse:
    return _detail(request, _tenant(schema_name))


def _detail(
    request: HttpRequest, tenant: Municipality, status: int = 200, **forms_and_problem: Any
) -> HttpResponse:
    missing = ""
    try:
        with lifecycle.in_schema_of(tenant):
            exports = provisioning.full_exports()
    except ProvisioningError as exc:  # the page still shows the row and its domains: what to do is said
        exports, missing = [], str(exc)
    context = {
        "tenant": tenant,
        "domains": tenant.domains.order_by("-is_primary", "domain"),
        "exports": exports,
        "domain_form": DomainForm(),
        "suspend_form": SuspendForm(),
        "invite_form": InviteForm(),
        "problem": missing,
        **forms_and_problem,
    }
    return render(request, "console/tenant.html", context, status=status)


def _refused(request: HttpRequest, tenant: Municipality, problem: str, **bound: Any) -> HttpResponse:
    # the summary at the top lists the failed form's errors (there is one failed form at most)
    return _detail(
        request, tenant, status=400, problem=problem, form=next(iter(bound.values()), None), **bound
    )


def _posted(request: HttpRequest, form_class: type[forms.Form]) -> forms.Form:
    return form_class(request.POST)


@operator_required
@require_POST
def tenant_invite(request: HttpRequest, schema_name: str) -> HttpResponse:
    tenant = _tenant(schema_name)
    form = _posted(request, InviteForm)
    if not form.is_valid():
        return _refused(request, tenant, "", invite_form=form)
    try:
        invitation = lifecycle.do_invite(
            _actor(request), tenant, form.cleaned_data["admin_username"], form.cleaned_data["admin_email"]
        )
    except ProvisioningError as exc:
        return _refused(request, tenant, str(exc), invite_form=form)
    messages.success(request, _invited(invitation))
    return redirect("console:tenant", schema_name=schema_name)


@operator_required
@require_POST
def domain_add(request: HttpRequest, schema_name: str) -> HttpResponse:
    tenant = _tenant(schema_name)
    form = _posted(request, DomainForm)
    if not form.is_valid():
        return _refused(request, tenant, "", domain_form=form)
    try:
        domain = lifecycle.do_add_domain(_actor(request), tenant, form.cleaned_data["domain"])
    except ProvisioningError as exc:
        return _refused(request, tenant, str(exc), domain_form=form)
    messages.success(request, _("ドメイン %(host)s を追加しました。") % {"host": domain.domain})
    return redirect("console:tenant", schema_name=schema_name)


@operator_required
@require_POST
def domain_change(request: HttpRequest, schema_name: str) -> HttpResponse:
    """Remove a domain, or make it primary (the button pressed says which)."""
    tenant = _tenant(schema_name)
    host = request.POST.get("domain", "")
    try:
        if request.POST.get("action") == "primary":
            lifecycle.do_make_primary(_actor(request), tenant, host)
            messages.success(request, _("%(host)s を主ドメインにしました。") % {"host": host})
        elif request.POST.get("action") == "remove":
            lifecycle.do_remove_domain(_actor(request), tenant, host)
            messages.success(request, _("ドメイン %(host)s を削除しました。") % {"host": host})
        else:
            return _refused(request, tenant, _("操作を選んでください。"))
    except ProvisioningError as exc:
        return _refused(request, tenant, str(exc))
    return redirect("console:tenant", schema_name=schema_name)


@operator_required
@require_POST
def tenant_suspend(request: HttpRequest, schema_name: str) -> HttpResponse:
    tenant = _tenant(schema_name)
    if request.POST.get("action") == "resume":
        try:
            lifecycle.do_resume(_actor(request), tenant)
        except ProvisioningError as exc:
            return _refused(request, tenant, str(exc))
        messages.success(request, _("利用を再開しました。"))
        return redirect("console:tenant", schema_name=schema_name)
    form = _posted(request, SuspendForm)
    if not form.is_valid():
        return _refused(request, tenant, "", suspend_form=form)
    try:
        lifecycle.do_suspend(_actor(request), tenant, form.cleaned_data["reason"])
    except ProvisioningError as exc:
        return _refused(request, tenant, str(exc), suspend_form=form)
    messages.success(request, _("利用を停止しました。この自治体のすべての画面とAPIが停止中と表示します。"))
    return redirect("console:tenant", schema_name=schema_name)


@operator_required
@require_POST
def export_request(request: HttpRequest, schema_name: str) -> HttpResponse:
    tenant = _tenant(schema_name)
    try:
        lifecycle.do_request_export(_actor(request), tenant)
    except ProvisioningError as exc:
        return _refused(request, tenant, str(exc))
    messages.success(request, _("全データの出力を開始しました。完了するとこの画面からダウンロードできます。"))
    return redirect("console:tenant", schema_name=schema_name)


@operator_required  # type: ignore[arg-type]  # a file answer (FileResponse) is no HttpResponse
def export_download(request: HttpRequest, schema_name: str, pk: int) -> HttpResponseBase:
    tenant = _tenant(schema_name)
    key = lifecycle.do_record_export_download(_actor(request), tenant, pk)
    if key is None:
        return _refused(
            request, tenant, _("この出力はダウンロードできません（期限切れ、作成中、または存在しません）。")
        )
    target = storage.export_storage()
    filename = f"madoguchi-{schema_name}-export-{pk}.zip"
    url = target.download_url(key, LINK_SECONDS, filename)
    if url:
        return redirect(url)
    response = FileResponse(target.open(key), content_type="application/zip")
    response["Content-Disposition"] = csv_export.attachment_disposition(filename)
    return response


@operator_required
@require_http_methods(["GET", "POST"])
def tenant_offboard(request: HttpRequest, schema_name: str) -> HttpResponse:
    tenant = _tenant(schema_name)
    form = OffboardForm(request.POST or None)
    problem = ""
    if request.method == "POST" and form.is_valid():
        try:
            record = offboarding.do_request_offboarding(
                _actor(request),
                schema_name,
                confirm=form.cleaned_data["confirm"],
                asked_by=form.cleaned_data["asked_by"],
            )
        except ProvisioningError as exc:
            problem = str(exc)
        else:
            messages.success(
                request,
                _(
                    "解約・データ削除を受け付けました。利用を停止し、処理を始めます。この画面で結果を確認してください。"
                ),
            )
            return redirect("console:certificate", pk=record.pk)
    return render(
        request,
        "console/tenant_offboard.html",
        {"tenant": tenant, "form": form, "problem": problem},
        status=400 if problem or form.errors else 200,
    )


@operator_required
@require_POST
def offboard_retry(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(OffboardingRecord, pk=pk)
    try:
        offboarding.do_retry_offboarding(_actor(request), record)
    except ProvisioningError as exc:
        record.refresh_from_db()
        context = {**_certificate_context(record), "problem": str(exc)}
        return render(request, "console/certificate.html", context, status=400)
    messages.success(request, _("解約・データ削除をもう一度実行します。"))
    return redirect("console:certificate", pk=pk)


@operator_required
def offboarded(request: HttpRequest) -> HttpResponse:
    return render(request, "console/offboarded.html", {"records": OffboardingRecord.objects.all()})


@operator_required
def certificate(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(OffboardingRecord, pk=pk)
    return render(request, "console/certificate.html", _certificate_context(record))


@operator_required
def certificate_text(request: HttpRequest, pk: int) -> HttpResponse:
    """The certificate as a UTF-8 text document, to file or attach; the same facts as the page."""
    record = get_object_or_404(OffboardingRecord, pk=pk, status=OffboardingRecord.Status.DONE)
    text = render(request, "console/certificate.txt", _certificate_context(record)).content
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = csv_export.attachment_disposition(
        f"disposal-certificate-{record.schema_name}-{record.pk}.txt"
    )
    return response


def _certificate_context(record: OffboardingRecord) -> dict[str, Any]:
    return {
        "record": record,
        "total_rows": sum(int(t.get("rows", 0)) for t in record.tables),
        "total_bytes": sum(int(f.get("size", 0)) for f in record.files),
    }
