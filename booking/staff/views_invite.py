"""The invited administrator's page (issue 14 §3): a one-time link where they set their own password."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking.access import accounts, invitations
from booking.access.gate import Refusal, refused
from booking.staff.forms import InvitationPasswordForm
from madoguchi.client_address import client_address


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    address = client_address(request)
    # A staff function like the sign-in: only from the networks the municipality's staff may use.
    if not accounts.address_allowed(address):
        return refused(request, Refusal.IP_NOT_ALLOWED)
    user = invitations.invited_user(uidb64, token)
    if user is None:
        invitations.do_record_refused_invitation(address, uidb64)
        return render(request, "booking/staff/invitation_invalid.html", status=410)
    form = InvitationPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.do_accept_invitation(user, token, form.cleaned_data["new"], address)
        except ValidationError as exc:
            form.add_error("new", exc)
        except accounts.StaffAccountError:
            return render(request, "booking/staff/invitation_invalid.html", status=410)
        else:
            messages.success(
                request, _("パスワードを設定しました。ユーザーIDと新しいパスワードでログインしてください。")
            )
            return redirect("staff:login")
    return render(
        request,
        "booking/staff/invitation.html",
        {"form": form, "username": user.get_username()},
        status=400 if form.errors else 200,
    )
