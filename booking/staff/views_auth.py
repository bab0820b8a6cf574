"""Staff sign-in, sign-out, password change and second-factor setup."""

from __future__ import annotations

import base64
import time

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from booking.access import accounts, sessions, totp_wait
from booking.access.gate import Refusal, actor_of, profile_of, refused, staff_view
from booking.staff.forms import OtpForm, PasswordChangeForm, StaffLoginForm
from integrations import qr
from madoguchi import session_limits
from madoguchi.client_address import client_address

PENDING = (
    "staff_pending_login"  # {"user_id", "since"}: password right, second factor awaited (never the password)
)
PENDING_SECONDS = 300
# Lazy: a module-level text is translated when shown, in the signing-in person's language (gettext here would
# fix the language of whichever request first imported the module).
REFUSALS = {
    # Also a locked account's answer, so that locked and unknown look the same (finding 4 of issue 13).
    "invalid_credentials": gettext_lazy(
        "ユーザーIDまたはパスワードが違います。失敗が続いた場合は、しばらくの間ログインできません。"
    ),
    # Only after the right password (the second step): telling the lock then tells no stranger anything.
    "locked": gettext_lazy(
        "ログインの失敗が続いたため、このアカウントはロックされています。"
        "しばらく待ってからやり直すか、管理者に解除を依頼してください。"
    ),
    "otp_required": gettext_lazy(
        "確認コードが違います。認証アプリに表示されている6桁の数字を入力してください"
        "（一度使ったコードは使えません。次のコードに変わってから入力してください）。"
    ),
    "too_many_attempts": gettext_lazy(
        "この端末からのログインの失敗が続いたため、しばらく受け付けを停止しています。"
    ),
    # django-otp's pause of a few seconds after a wrong code: the code typed was not checked nor counted
    "otp_wait": gettext_lazy(
        "確認コードの誤りの直後のため、数秒間は確認できません。少し待ってから、もう一度入力してください。"
    ),
}


def _next(request: HttpRequest) -> str:
    target = request.GET.get("next") or request.POST.get("next") or ""
    if target.startswith("/staff/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return "/staff/"


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    address = client_address(request)
    if not accounts.address_allowed(address):
        return refused(request, Refusal.IP_NOT_ALLOWED)
    pending = request.session.get(PENDING)
    if pending and time.time() - pending["since"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        pending = None
    password_form = StaffLoginForm(request.POST or None) if not pending else None
    otp_form = OtpForm(request.POST or None) if pending else None
    problem = ""
    if request.method == "POST":
        form = otp_form or password_form
        if form is not None and form.is_valid():
            try:
                if pending:
                    profile = accounts.do_staff_second_factor(
                        pending["user_id"], form.cleaned_data["otp"], address
                    )
                else:
                    profile = accounts.do_staff_login(
                        form.cleaned_data["username"], form.cleaned_data["password"], address
                    )
            except accounts.StaffLoginRefused as refusal:
                if refusal.code == "otp_required" and not pending:
                    # Password right, second factor due: ask for it on the next screen.
                    user = accounts.active_user(form.cleaned_data["username"])
                    request.session[PENDING] = {"user_id": user.pk if user else 0, "since": time.time()}
                    return redirect(request.get_full_path())
                if refusal.code == "ip_not_allowed":
                    return refused(request, Refusal.IP_NOT_ALLOWED)
                problem = str(REFUSALS[refusal.code])
                if refusal.code == "locked":
                    request.session.pop(PENDING, None)
            else:
                request.session.pop(PENDING, None)
                auth_login(request, profile.user)
                sessions.start(request)  # the idle and absolute limits count from this sign-in
                device = accounts.totp_device(profile.user)
                if device is not None:
                    otp_login(request, device)
                return redirect(_next(request))
    return render(
        request,
        "booking/staff/login.html",
        {
            "form": otp_form or password_form,
            "second_step": bool(pending),
            "problem": problem,
            "next": _next(request),
        },
        status=400 if problem else 200,
    )


@require_POST
def cancel_login(request: HttpRequest) -> HttpResponse:
    request.session.pop(PENDING, None)
    return redirect("staff:login")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        sessions.do_sign_out(actor_of(request), request)
    else:
        auth_logout(request)  # nobody to log: only the visitor's own session is cleared
    messages.info(request, _("ログアウトしました。"))
    return redirect("staff:login")


@staff_view(None, account_setup=True)
@require_POST
def extend_session(request: HttpRequest) -> HttpResponse:
    """「時間を延長する」 (WCAG 2.2.1): the idle limit counts again from now; JSON for timeout.js."""
    sessions.extend(request)
    limit = request.staff_time_limit  # type: ignore[attr-defined]
    text = _("時間を延長しました。この画面は %(time)s まで有効です。") % {
        "time": session_limits.clock(limit.ends_at)
    }
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ends_at": limit.ends_at.isoformat(), "message": text})
    messages.success(request, text)
    return redirect(_next(request))


@staff_view(None, account_setup=True)
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request)
    assert profile is not None
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.do_change_password(
                actor_of(request), profile.user, form.cleaned_data["current"], form.cleaned_data["new"]
            )
        except ValidationError as exc:
            form.add_error("new", exc)
        except accounts.StaffAccountError as exc:
            form.add_error("current", str(exc))
        else:
            auth_login(request, profile.user)  # keep the session valid after the password changed
            device = accounts.totp_device(profile.user)
            if device is not None:
                otp_login(request, device)
            messages.success(request, _("パスワードを変更しました。"))
            return redirect("staff:home")
    expired = accounts.password_expired(profile)
    return render(request, "booking/staff/password.html", {"form": form, "expired": expired})


@staff_view(None, account_setup=True)
@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    profile = profile_of(request)
    assert profile is not None
    device = accounts.totp_device(profile.user, confirmed=False)
    if device is None or request.method == "GET":
        device = accounts.do_start_totp(profile.user)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if totp_wait.seconds(device):
            form.add_error("otp", str(REFUSALS["otp_wait"]))
        elif accounts.do_confirm_totp(actor_of(request), device, form.cleaned_data["otp"]):
            otp_login(request, device)
            messages.success(request, _("二要素認証を設定しました。次回から確認コードの入力が必要です。"))
            return redirect("staff:home")
        else:
            form.add_error(
                "otp",
                _(
                    "確認コードが違います。端末の時刻がずれていないか確認し、認証アプリのいまの6桁を入力して"
                    "ください（一度使ったコードは使えません）。"
                ),
            )
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "booking/staff/totp.html",
        {
            "form": form,
            "qr": qr.svg_base64(device.config_url),
            "secret": secret,
            "required": accounts.totp_required(profile),
        },
    )
