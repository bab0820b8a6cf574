"""The one staff access check (SO-10, SO-14), for the console's pages and the staff API alike.

`check_staff_access` decides, in this order: allowed terminal, signed in (a session, or a valid token),
second factor done, password not expired, role allows the function. It also logs every read it lets
through (a person's data viewed, a list searched or exported) as it starts; writes are logged in detail by
the services they call, inside their transactions.

The two surfaces only gather the facts of a request and answer the decision in their own form:
`staff_view` (pages) redirects to sign-in, second factor or password change, or shows the refusal page;
`staff_api` (a DRF permission) answers {"code", "message"} with 401 or 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from http import HTTPStatus
from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from booking.access import accounts, bearer, sessions
from booking.access.permissions import Can, allows
from booking.audit import oplog
from booking.models import StaffProfile
from madoguchi.api_errors import ApiError
from madoguchi.client_address import client_address

View = Callable[..., HttpResponseBase]


class Refusal(StrEnum):
    """Why the gate said no; the value is the staff API's error code."""

    IP_NOT_ALLOWED = "ip_not_allowed"
    NOT_SIGNED_IN = "not_authenticated"
    SECOND_FACTOR = "otp_required"  # set up, but this session or token did not pass it
    SECOND_FACTOR_SETUP = "otp_setup_required"  # required of the account, never set up
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105 - an error code, not a password
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class AccessFacts:
    """What a request tells the gate, whichever surface it came through."""

    address: str  # the client's, as madoguchi.client_address reads it
    profile: StaffProfile | None  # the account of the session or the token; None: nobody signed in
    second_factor_done: bool  # session verified by django-otp / token issued after a code was checked
    method: str
    path: str  # without the query: what a refusal is logged against
    full_path: str  # with the query: a search is part of what was read
    details: Mapping[str, Any] = field(default_factory=dict)  # the URL's arguments (which booking …)


@dataclass(frozen=True)
class Decision:
    refusal: Refusal | None
    profile: StaffProfile | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def check_staff_access(
    facts: AccessFacts, capability: Can | None, *, log_reads: str = "", account_setup: bool = False
) -> Decision:
    """`log_reads` names the action logged for a GET let through (empty: not logged).

    `account_setup` is for the password change and second-factor setup, where the second-factor and
    password checks send people: those two checks are skipped there.
    """
    if not accounts.address_allowed(facts.address):
        return Decision(Refusal.IP_NOT_ALLOWED)
    profile = facts.profile
    if profile is None or not profile.user.is_active:
        return Decision(Refusal.NOT_SIGNED_IN)
    if not account_setup:
        if not facts.second_factor_done and accounts.totp_required(profile):
            set_up = accounts.totp_device(profile.user) is not None
            return Decision(Refusal.SECOND_FACTOR if set_up else Refusal.SECOND_FACTOR_SETUP, profile)
        if accounts.password_expired(profile):
            return Decision(Refusal.PASSWORD_EXPIRED, profile)
    actor = oplog.Actor(profile.user.pk, profile.user.get_username(), facts.address)
    if capability is not None and not allows(profile.role, capability):
        oplog.record(actor, "refused", facts.path, {"capability": str(capability)})
        return Decision(Refusal.FORBIDDEN, profile)
    if log_reads and facts.method == "GET":
        oplog.record(actor, log_reads, facts.full_path[:200], dict(facts.details))
    return Decision(None, profile)


# --- pages -----------------------------------------------------------------------------------------------


def actor_of(request: HttpRequest) -> oplog.Actor:
    user = request.user
    if user.is_authenticated:
        return oplog.Actor(cast(User, user).pk, user.get_username(), client_address(request))
    return oplog.Actor(None, "", client_address(request))


def profile_of(request: HttpRequest) -> StaffProfile | None:
    user = request.user
    return getattr(user, "staff", None) if user.is_authenticated else None


def refused(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """The refusal page, for the refusals that no sign-in step can cure."""
    messages = {
        Refusal.IP_NOT_ALLOWED: _(
            "この端末からは職員用の機能を使えません。許可された端末（庁内ネットワーク等）から接続してください。"
        ),
        Refusal.FORBIDDEN: _("この操作を行う権限がありません。必要な場合は管理者に依頼してください。"),
    }
    if refusal is Refusal.IP_NOT_ALLOWED and not accounts.networks_in_force().networks:
        # Deny by default with nothing configured yet: say so, or operators would hunt for a wrong terminal.
        messages[refusal] = _(
            "接続を許可するネットワークがまだ設定されていないため、職員用の機能はどの端末からも使えません。"
            "運用担当者に共通の許可ネットワーク（STAFF_DEFAULT_NETWORKS）の設定を依頼してください。"
        )
    return render(
        request,
        "booking/staff/refused.html",
        {"code": refusal.value, "message": messages[refusal]},
        status=HTTPStatus.FORBIDDEN,
    )


def page_facts(request: HttpRequest, url_arguments: Mapping[str, Any]) -> AccessFacts:
    user = request.user
    return AccessFacts(
        address=client_address(request),
        profile=profile_of(request),
        # OTPMiddleware gives every request.user is_verified(): true once a device was checked in this
        # session.
        second_factor_done=bool(user.is_authenticated and user.is_verified()),  # type: ignore[attr-defined]
        method=request.method or "",
        path=request.path,
        full_path=request.get_full_path(),
        details=url_arguments,
    )


def page_answer(request: HttpRequest, refusal: Refusal) -> HttpResponseBase:
    match refusal:
        case Refusal.IP_NOT_ALLOWED | Refusal.FORBIDDEN:
            return refused(request, refusal)
        case Refusal.NOT_SIGNED_IN:
            return redirect(f"/staff/login/?next={request.path}")
        case Refusal.SECOND_FACTOR:
            return redirect("staff:login")
        case Refusal.SECOND_FACTOR_SETUP:
            return redirect("staff:totp_setup")
        case Refusal.PASSWORD_EXPIRED:
            return redirect("staff:password")


def staff_view(
    capability: Can | None, *, log_reads: str = "", account_setup: bool = False
) -> Callable[[View], View]:
    """Guard a staff page with check_staff_access (its arguments: see there)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            sessions.end_if_over(request)  # idle or too old: signed out here, so sent to sign in below
            decision = check_staff_access(
                page_facts(request, kwargs), capability, log_reads=log_reads, account_setup=account_setup
            )
            if decision.refusal is not None:
                return page_answer(request, decision.refusal)
            request.staff = decision.profile  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


# --- the staff API ---------------------------------------------------------------------------------------

API_REALM = 'Bearer realm="staff"'


class StaffTokenAuthentication(BaseAuthentication):
    """Who holds the bearer token. An unknown or expired token is nobody rather than an error here, so
    that the gate answers it in its own order (a token from a terminal not allowed: ip_not_allowed)."""

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        token = bearer.token_from_header(request)
        if token is None:
            return None
        profile = accounts.profile_for_token(token)
        return (profile.user, token) if profile is not None else None

    def authenticate_header(self, request: Request) -> str:
        return API_REALM


def api_facts(request: Request) -> AccessFacts:
    token = request.auth if isinstance(request.auth, str) else None
    profile = cast(StaffProfile | None, getattr(request.user, "staff", None)) if token else None
    return AccessFacts(
        address=client_address(request),
        profile=profile,
        second_factor_done=token is not None and accounts.token_passed_second_factor(token),
        method=request.method or "",
        path=request.path,
        full_path=request.get_full_path(),
    )


def api_error(request: Request, refusal: Refusal) -> ApiError:
    unauthorized, forbidden = HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN
    answers: dict[Refusal, tuple[int, str]] = {
        Refusal.IP_NOT_ALLOWED: (
            forbidden,
            _(
                "この接続元からは職員用の機能を使えません。許可された端末（庁内ネットワーク等）から"
                "接続してください。"
            ),
        ),
        Refusal.NOT_SIGNED_IN: (
            unauthorized,
            _(
                "トークンが無効か、有効期限が切れています。POST /api/v1/staff/sessions/ でもう一度"
                "ログインしてください。"
            )
            if bearer.token_from_header(request) is not None
            else _(
                "ログインが必要です。POST /api/v1/staff/sessions/ で得たトークンを Authorization: Bearer "
                "で送ってください。"
            ),
        ),
        Refusal.SECOND_FACTOR: (
            unauthorized,
            _(
                "このトークンは確認コードを確かめずに発行されたものです。確認コード（otp）を付けて"
                "もう一度ログインしてください。"
            ),
        ),
        Refusal.SECOND_FACTOR_SETUP: (
            unauthorized,
            _(
                "このアカウントには二要素認証が必要です。先に管理画面で設定してから、もう一度ログインして"
                "ください。"
            ),
        ),
        Refusal.PASSWORD_EXPIRED: (
            forbidden,
            _(
                "パスワードの有効期限が切れています。管理画面でパスワードを変更してから、もう一度ログインして"
                "ください。"
            ),
        ),
        Refusal.FORBIDDEN: (
            forbidden,
            _("この操作を行う権限がありません。必要な場合は管理者に依頼してください。"),
        ),
    }
    http_status, message = answers[refusal]
    headers = {"WWW-Authenticate": API_REALM} if http_status == unauthorized else None
    return ApiError(refusal.value, message, http_status, headers)


def staff_api(capability: Can, *, log_reads: str = "") -> type[BasePermission]:
    """A DRF permission guarding a staff endpoint with check_staff_access (with StaffTokenAuthentication)."""

    class StaffApiAccess(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            decision = check_staff_access(api_facts(request), capability, log_reads=log_reads)
            if decision.refusal is not None:
                raise api_error(request, decision.refusal)
            return True

    return StaffApiAccess
