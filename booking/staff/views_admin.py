"""Administrator screens: staff accounts, allowed terminals, sign-in rules, the operation log (SO-10, -14)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.access import accounts, sessions
from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.audit import oplog
from booking.lib.dates import TOKYO, parse_date, plausible_day
from booking.lib.digits import whole_number
from booking.lib.japanese import nfkc
from booking.models import AllowedNetwork, OperationLogEntry, StaffProfile, StaffRole, StaffSecurity
from booking.staff.forms import CreateStaffForm, NetworkForm
from integrations import csv_export


def _profiles() -> QuerySet[StaffProfile]:
    """The accounts, each with whether it has a second factor set up (the list says so, and offers its
    removal only then)."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
    return (
        StaffProfile.objects.select_related("user")
        .annotate(has_totp=Exists(confirmed))
        .order_by("user__username")
    )


@staff_view(Can.MANAGE_STAFF, log_reads="staff.list")
def staff_list(request: HttpRequest) -> HttpResponse:
    form = CreateStaffForm(request.POST or None)
    profiles = _profiles()
    return render(
        request,
        "booking/staff/staff_list.html",
        {
            "form": form,
            "profiles": profiles,
            "roles": StaffRole.choices,
            "temporary": None,
        },
    )


@staff_view(Can.MANAGE_STAFF)
@require_POST
def staff_create(request: HttpRequest) -> HttpResponse:
    form = CreateStaffForm(request.POST)
    if form.is_valid():
        try:
            accounts.do_create_staff(
                actor_of(request),
                form.cleaned_data["username"],
                form.cleaned_data["role"],
                form.cleaned_data["password"],
            )
        except ValidationError as exc:
            form.add_error("password", exc)
        except accounts.StaffAccountError as exc:
            form.add_error("username", str(exc))
        else:
            messages.success(
                request, _("職員 %(name)s を登録しました。") % {"name": form.cleaned_data["username"]}
            )
            return redirect("staff:staff_list")
    profiles = _profiles()
    return render(
        request,
        "booking/staff/staff_list.html",
        {"form": form, "profiles": profiles, "roles": StaffRole.choices},
        status=400,
    )


@staff_view(Can.MANAGE_STAFF)
@require_POST
def staff_update(request: HttpRequest, pk: int) -> HttpResponseBase:
    profile = get_object_or_404(StaffProfile.objects.select_related("user"), pk=pk)
    actor = actor_of(request)
    action = request.POST.get("action", "")
    try:
        name = profile.user.get_username()
        if action == "role":
            if accounts.do_set_role(actor, profile, request.POST.get("role", "")):
                messages.success(request, _("役割を変更しました。"))
            else:
                role = StaffRole(profile.role).label
                messages.info(
                    request, _("%(name)s の役割はすでに「%(role)s」です。") % {"name": name, "role": role}
                )
        elif action == "unlock":
            accounts.do_unlock(actor, profile)
            messages.success(request, _("ロックを解除しました。"))
        elif action == "reset":
            temporary = accounts.do_reset_password(actor, profile)
            messages.warning(
                request,
                _("仮パスワード: %(p)s 本人に安全な方法で伝えてください（この画面でしか表示されません）。")
                % {"p": temporary},
            )
        elif action in {"activate", "deactivate"}:
            if accounts.do_set_active(actor, profile, action == "activate"):
                messages.success(request, _("利用状態を変更しました。"))
            elif action == "activate":
                messages.info(request, _("%(name)s はすでに利用できる状態です。") % {"name": name})
            else:
                messages.info(request, _("%(name)s はすでに利用停止しています。") % {"name": name})
        elif action == "remove_totp":
            if accounts.do_remove_totp(actor, profile):
                messages.success(request, _("二要素認証の設定を削除しました。"))
            else:
                messages.info(request, _("%(name)s には二要素認証が設定されていません。") % {"name": name})
        else:
            messages.error(request, _("操作が正しくありません。"))
    except accounts.StaffAccountError as exc:
        messages.error(request, str(exc))
    return redirect("staff:staff_list")


@staff_view(Can.MANAGE_STAFF, log_reads="security.view")
def security(request: HttpRequest) -> HttpResponse:
    return _security_page(request, NetworkForm())


# What each form of the security page sends, shown again as typed when it is refused.
TYPED_FIELDS = {
    "rules": (
        "password_expiry_days",
        "lockout_threshold",
        "lockout_minutes",
        "operation_log_retention_days",
        "require_totp_for_administrators",
    ),
    "sessions": ("session_idle_minutes", "session_absolute_hours"),
}


def _security_page(
    request: HttpRequest, form: NetworkForm, typed: str = "", status: int = 200
) -> HttpResponse:
    """The page; `typed` names the form whose refused values it shows again as typed (not the saved
    ones: an administrator who mistyped one of four numbers keeps the other three)."""
    rules = accounts.security()
    shown: dict[str, Any] = {name: getattr(rules, name) for names in TYPED_FIELDS.values() for name in names}
    if typed == "rules":
        shown["require_totp_for_administrators"] = request.POST.get("require_totp_for_administrators") == "on"
    for name in TYPED_FIELDS.get(typed, ()):
        if name in request.POST and name != "require_totp_for_administrators":
            shown[name] = request.POST[name][:20]
    return render(
        request,
        "booking/staff/security.html",
        {
            "rules": shown,
            "networks": AllowedNetwork.objects.all(),
            "in_force": accounts.networks_in_force(),  # what applies while the tenant lists none
            "form": form,
        },
        status=status,
    )


@staff_view(Can.MANAGE_STAFF)
@require_POST
def security_update(request: HttpRequest) -> HttpResponseBase:
    actor = actor_of(request)
    action = request.POST.get("action", "")
    form = NetworkForm(request.POST) if action == "allow" else NetworkForm()
    try:
        if action == "allow":
            if not form.is_valid():  # which field and why (a long label is not "enter a network")
                name, errors = next(iter(form.errors.items()))
                label = form.fields[name].label if name in form.fields else ""
                raise accounts.StaffAccountError(f"{label}: {errors[0]}" if label else str(errors[0]))
            accounts.do_allow_network(actor, form.cleaned_data["network"], form.cleaned_data["label"])
            messages.success(request, _("接続元を追加しました。"))
        elif action == "remove":
            accounts.do_remove_network(actor, request.POST.get("network", ""))
            messages.success(request, _("接続元を削除しました。"))
        elif action == "rules":
            _update_rules(actor, request)
            messages.success(request, _("ログインの設定を保存しました。"))
        elif action == "sessions":
            idle, absolute = (
                _integer(request.POST.get(name, ""))
                for name in ("session_idle_minutes", "session_absolute_hours")
            )
            if idle is None or absolute is None:
                raise accounts.StaffAccountError(_("数値で入力してください。"))
            sessions.do_update_session_limits(actor, idle, absolute)
            messages.success(request, _("自動ログアウトの設定を保存しました。"))
        else:
            messages.error(request, _("操作が正しくありません。"))
    except accounts.StaffAccountError as exc:
        # shown again with what was typed (a redirect lost it), the refused form's message beside it
        messages.error(request, str(exc))
        return _security_page(request, form, typed=action, status=400)
    return redirect("staff:security")


def _integer(raw: str) -> int | None:
    """A whole number as typed (full-width digits count), a minus sign too: -1 is then told the range, not
    "enter a number"."""
    text = nfkc(raw).strip()
    negative = text.startswith("-")
    number = whole_number(text[1:] if negative else text)
    return None if number is None else (-number if negative else number)


def _update_rules(actor: oplog.Actor, request: HttpRequest) -> None:
    # Full-width digits as typed on a Japanese keyboard count; other scripts' digits do not.
    expiry, threshold, retention = (
        _integer(request.POST.get(name, ""))
        for name in ("password_expiry_days", "lockout_threshold", "operation_log_retention_days")
    )
    if expiry is None or threshold is None or retention is None:
        raise accounts.StaffAccountError(_("数値で入力してください。"))
    if not (0 <= expiry <= 3650 and 1 <= threshold <= 20 and 366 <= retention <= 3650):
        raise accounts.StaffAccountError(
            _("有効期間は0〜3650日、ロックは1〜20回、操作ログの保存は366〜3650日で入力してください。")
        )
    # How long a lock lasts (finding 4 of issue 13); a form without the field keeps the period in force.
    raw_minutes = nfkc(request.POST.get("lockout_minutes", "")).strip()
    lock_minutes = whole_number(raw_minutes) if raw_minutes else accounts.security().lockout_minutes
    if lock_minutes is None or not 1 <= lock_minutes <= 1440:
        raise accounts.StaffAccountError(
            _("ロックが自動で解除されるまでの時間は1〜1440分で入力してください。")
        )
    accounts.do_update_security(
        actor,
        StaffSecurity(
            password_expiry_days=expiry,
            lockout_threshold=threshold,
            lockout_minutes=lock_minutes,
            operation_log_retention_days=retention,
            require_totp_for_administrators=request.POST.get("require_totp_for_administrators") == "on",
        ),
    )


def _log_entries(request: HttpRequest) -> tuple[QuerySet[OperationLogEntry], str]:
    """The entries the filters ask for, and what is wrong with a filter ("" when nothing is). A day that is no
    date is refused with a message, not ignored: the list would show more than was asked for."""
    entries = OperationLogEntry.objects.order_by("-seq")
    user = request.GET.get("user", "").strip()
    action = request.GET.get("action", "").strip()
    text = request.GET.get("q", "").strip()
    if user:
        entries = entries.filter(username=user)
    if action:
        entries = entries.filter(action__startswith=action)
    if text:
        entries = entries.filter(Q(target__icontains=text) | Q(address=text))
    days: dict[str, dt.date] = {}
    for name, op, label in (("date_from", "gte", _("日付（から）")), ("date_to", "lt", _("日付（まで）"))):
        raw = request.GET.get(name, "").strip()
        if not raw:
            continue
        # Only YYYY-MM-DD in 2000–2099: fromisoformat also took "2026-W49-7", and 9999-12-31 overflowed.
        day = parse_date(raw)
        if day is None or not plausible_day(day):
            problem = _("「%(label)s」は 2026-12-06 のような、2000年から2099年までの日付で指定してください。")
            return entries.none(), problem % {"label": label}
        days[name] = day
        if op == "lt":
            day += dt.timedelta(days=1)
        entries = entries.filter(**{f"at__{op}": dt.datetime.combine(day, dt.time.min, TOKYO)})
    if "date_from" in days and "date_to" in days and days["date_to"] < days["date_from"]:
        # an empty list would read as "nothing happened" (a new user's walk)
        wrong_way = _("「日付（まで）」は「日付（から）」と同じ日か、それより後の日にしてください。")
        return entries.none(), wrong_way
    return entries, ""


def _log_page(request: HttpRequest, entries: QuerySet[OperationLogEntry], problem: str) -> HttpResponse:
    if problem:
        messages.error(request, problem)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    verdict = oplog.verify() if request.GET.get("verify") else None
    return render(
        request,
        "booking/staff/oplog.html",
        {
            "page": page,
            "query": query.urlencode(),
            "verdict": verdict,
            "params": request.GET,
        },
        status=400 if problem else 200,
    )


@staff_view(Can.VIEW_OPLOG, log_reads="oplog.view")
def operation_log(request: HttpRequest) -> HttpResponse:
    entries, problem = _log_entries(request)
    return _log_page(request, entries, problem)


@staff_view(Can.VIEW_OPLOG)
def operation_log_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    encoding = request.GET.get("encoding", csv_export.DEFAULT_ENCODING)
    if encoding not in csv_export.ENCODINGS:
        encoding = csv_export.DEFAULT_ENCODING
    entries, problem = _log_entries(request)
    if problem:
        return _log_page(request, entries, problem)  # the page with the message, and no file
    oplog.record(actor_of(request), "oplog.export", request.get_full_path()[:200])

    def rows() -> Iterator[list[object]]:
        for e in entries.iterator(chunk_size=2000):
            yield [
                e.seq,
                e.at,
                e.user_id_snapshot,
                e.username,
                e.address,
                e.action,
                e.target,
                e.detail,
                e.digest,
            ]

    header = ["番号", "日時", "ユーザーID番号", "ユーザー", "接続元", "操作", "対象", "詳細", "ハッシュ"]
    # Staff open it in Excel: times it reads as times (csv_export's Excel variant).
    response = StreamingHttpResponse(
        csv_export.iter_csv(header, rows(), encoding, excel=True),
        content_type=csv_export.content_type(encoding),
    )
    response["Content-Disposition"] = csv_export.content_disposition(
        f"操作ログ_{timezone.localtime():%Y%m%d_%H%M}", encoding
    )
    return response
