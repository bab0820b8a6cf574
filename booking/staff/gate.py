"""The gate every staff view passes (SO-10, SO-14): allowed terminal, signed in, second factor done,
password not expired, role allows the function; and every use of a staff function is logged.

Writes are logged in detail by the services they call, inside their transactions; the gate itself logs
reads (a person's data viewed, a list searched or exported) as they start.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from booking.staff import accounts, oplog
from booking.staff.models import StaffProfile
from booking.staff.permissions import Can, allows
from madoguchi.client_address import client_address

View = Callable[..., HttpResponseBase]


def actor_of(request: HttpRequest) -> oplog.Actor:
    user = request.user
    if user.is_authenticated:
        return oplog.Actor(cast(User, user).pk, user.get_username(), client_address(request))
    return oplog.Actor(None, "", client_address(request))


def profile_of(request: HttpRequest) -> StaffProfile | None:
    user = request.user
    return getattr(user, "staff", None) if user.is_authenticated else None


def refused(request: HttpRequest, code: str, status: int = 403) -> HttpResponse:
    messages = {
        "ip_not_allowed": _(
            "この端末からは職員用の機能を使えません。許可された端末（庁内ネットワーク等）から接続してください。"
        ),
        "forbidden": _("この操作を行う権限がありません。必要な場合は管理者に依頼してください。"),
    }
    return render(
        request, "booking/staff/refused.html", {"code": code, "message": messages[code]}, status=status
    )


def staff_view(
    capability: Can | None, *, log_reads: str = "", account_setup: bool = False
) -> Callable[[View], View]:
    """Guard a staff view. `log_reads` names the action logged for a GET (empty: GETs are not logged).

    `account_setup` views (password change, second-factor setup) are what the other checks send people
    to, so they skip those checks.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not accounts.address_allowed(client_address(request)):
                return refused(request, "ip_not_allowed")
            profile = profile_of(request)
            if profile is None or not request.user.is_active:
                return redirect(f"/staff/login/?next={request.path}")
            if not account_setup:
                if accounts.totp_required(profile) and not request.user.is_verified():  # type: ignore[attr-defined]
                    has_device = accounts.totp_device(profile.user) is not None
                    return redirect("staff:login" if has_device else "staff:totp_setup")
                if accounts.password_expired(profile):
                    return redirect("staff:password")
            if capability is not None and not allows(profile.role, capability):
                oplog.record(actor_of(request), "refused", request.path, {"capability": str(capability)})
                return refused(request, "forbidden")
            if log_reads and request.method == "GET":
                oplog.record(actor_of(request), log_reads, request.get_full_path()[:200], {**kwargs})
            request.staff = profile  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
