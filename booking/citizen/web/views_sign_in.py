"""Residents signing in with the reservation number and password of their notice letter, and out."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking.cards import credentials
from booking.citizen.login import LoginRefused, do_citizen_login
from booking.citizen.web import limits
from booking.citizen.web.forms import LoginForm
from booking.citizen.web.party import go, in_operator_flow
from booking.citizen.web.views import (
    SESSION_CARD,
    SESSION_CARD_PROOF,
    SESSION_IDLE_SECONDS,
    current_card,
    page,
)
from booking.engine import services
from madoguchi.client_address import client_address


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if in_operator_flow(request):
        raise Http404
    form = LoginForm(request.POST or None)
    refusal = ""
    if request.method == "POST" and form.is_valid():
        try:
            card = do_citizen_login(
                form.cleaned_data["reservation_number"],
                form.cleaned_data["password"],
                client_address(request),
            )
        except LoginRefused as refused:
            if refused.code == "too_many_attempts":
                refusal = _(
                    "入力の誤りが続いたため、しばらく受け付けを停止しています。%(wait)s後にもう一度お試しください。"
                ) % {"wait": limits.wait_text(refused.retry_after)}
            else:
                refusal = _(
                    "この予約番号とパスワードでは予約できません。交付通知書の記載をご確認のうえ、もう一度入力してください。"
                )
        else:
            request.session.cycle_key()  # a new session id at login: no fixation
            request.session[SESSION_CARD] = card.pk
            request.session[SESSION_CARD_PROOF] = credentials.session_proof(card.password_digest)
            request.session.set_expiry(SESSION_IDLE_SECONDS)
            return go(request, "mypage")
    rejected = bool(refusal or form.errors)
    return page(request, "login.html", {"form": form, "refusal": refusal}, status=400 if rejected else 200)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    if in_operator_flow(request):
        raise Http404
    card = current_card(request)
    if card:
        services.do_release_hold(card)
    request.session.flush()
    messages.info(request, _("ログアウトしました。"))
    return redirect("booking:top")
