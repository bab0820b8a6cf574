"""Who may use the vendor console (issue 13, finding 3): allowed networks, a throttled and locking sign-in
with a TOTP second factor for every operator, and every admin action in the vendor operation log.

The console is the Django admin plus `console.urls` on the public host. Operators reach every municipality,
so the gate is built from django-otp's OTPAdminSite (a user counts as staff only once a registered TOTP
device verified them) rather than by hand; the throttle and lock are ours because the tenant staff's
(booking.access) are tenant code the control plane may not import.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache, update_wrapper, wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from console import vendor_log
from console.services import (
    CLIENT_WINDOW_SECONDS,
    do_claim_sign_in,
    do_record_failed_sign_in,
    do_record_sign_in,
)
from madoguchi.client_address import client_address

View = Callable[..., HttpResponse]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- allowed networks ---


@lru_cache(maxsize=4)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def network_allowed(address: str) -> bool:
    """Is this client in VENDOR_ALLOWED_NETWORKS? An empty list allows nobody (production's default)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(tuple(settings.VENDOR_ALLOWED_NETWORKS)))


class VendorNetworkMiddleware:
    """Every request to the public host (the vendor console) comes from an allowed network, or gets 403.

    Before sessions and views, so a refused client cannot even try a password. /healthz is answered
    earlier by TenantHostMiddleware; static files are not the console's and stay reachable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (
            tenant is not None
            and tenant.schema_name == settings.PUBLIC_SCHEMA_NAME
            and not request.path.startswith(settings.STATIC_URL)
            and not network_allowed(client_address(request))
        ):
            return render(request, "console/not_allowed.html", status=403)
        return self.get_response(request)


# --- sign-in ---


class VendorLoginForm(OTPAdminAuthenticationForm):
    """Password and TOTP code on one form; failures are counted per client address and per account."""

    # django-otp's messages are English only; the console's pages are Japanese first.
    otp_error_messages = dict(
        OTPAdminAuthenticationForm.otp_error_messages,
        token_required=gettext_lazy("確認コードを入力してください。"),
        invalid_token=gettext_lazy("確認コードが違います。認証アプリの今の6桁を入力してください。"),
        n_failed_attempts=gettext_lazy(
            "確認コードの誤りが続いたため、しばらくしてからもう一度お試しください。"
        ),
        verification_not_allowed=gettext_lazy(
            "確認コードの確認を一時的に止めています。しばらくしてからお試しください。"
        ),
        device_required=gettext_lazy(
            "確認コードの端末が登録されていません。運用手順書5章の登録を行ってください。"
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # django-otp labels the field "OTP Token" in English; operators read 確認コード in docs/operations.md.
        self.fields["otp_token"].label = _("確認コード（認証アプリの6桁）")

    def _chosen_device(self, user: Any) -> Any:
        # django-otp asks which device when none is chosen (trying each would count failures against the
        # others); an operator has one TOTP device, so the one-step form uses it without asking.
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user))
            if len(devices) == 1:
                return devices[0]
        return device

    def clean(self) -> dict[str, Any]:
        address = client_address(self.request) if self.request else ""
        username = self.cleaned_data.get("username") or ""
        claim = do_claim_sign_in(username, address)
        if claim.throttled:
            raise ValidationError(
                _(
                    "この接続元からのサインインの失敗が多すぎるため、受け付けを止めています。"
                    "%(minutes)d分後にもう一度お試しください。"
                )
                % {"minutes": CLIENT_WINDOW_SECONDS // 60},
                code="throttled",
            )
        try:
            # Checked even when refused: a locked account answers as slowly as a wrong password.
            cleaned = super().clean()
        except ValidationError:
            do_record_failed_sign_in(username, address, claim)
            raise
        if claim.refused:
            # The right password and code do not open a locked account; the answer is that of a wrong
            # password, so that the form does not tell an outsider which accounts exist or are locked.
            self.user_cache = None
            raise self.get_invalid_login_error()
        user = self.get_user()
        device = getattr(user, "otp_device", None)
        do_record_sign_in(user, address, device.persistent_id if device else "")
        return cleaned


# --- the admin site ---


def _target(obj: Model) -> str:
    return f"{obj._meta.label_lower}:{obj.pk} {obj}"[:200]


def _actor(request: HttpRequest) -> vendor_log.Actor:
    user = request.user
    return vendor_log.Actor(user.get_username(), user.pk, client_address(request))


def _logged_by_service(model_admin: admin.ModelAdmin) -> bool:
    """A ModelAdmin that saves through a console service writing its own entry (stops: SO-01) says so with
    `logged_by_service = True`; read with getattr, since this mixin comes first in the class's MRO."""
    return bool(getattr(model_admin, "logged_by_service", False))


class VendorLoggedAdmin(admin.ModelAdmin):
    """Mixed into every ModelAdmin of the vendor site: each admin write is in the vendor operation log.

    Django's admin calls these in the write's own transaction (the site makes every non-GET view atomic),
    so the action and its entry commit together.
    """

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        if not _logged_by_service(self):
            vendor_log.record(_actor(request), "admin.add", _target(obj), change=message)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        if not _logged_by_service(self):
            vendor_log.record(_actor(request), "admin.change", _target(obj), change=message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        for obj in queryset:
            vendor_log.record(_actor(request), "admin.delete", _target(obj))
        return super().log_deletions(request, queryset)


class VendorAdminSite(OTPAdminSite):
    """The Django admin of the vendor console: staff users verified by TOTP only; every write logged."""

    login_form = VendorLoginForm
    # Our own sign-in page: django-otp's labels its code field "OTP Token" in English and offers an
    # "OTP challenge" button that TOTP does not use.
    login_template = "console/login.html"
    site_header = gettext_lazy("Madoguchi 運用コンソール")
    site_title = "Madoguchi"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        base = admin_class or admin.ModelAdmin
        logged = type(base.__name__, (VendorLoggedAdmin, base), {"__module__": base.__module__})
        super().register(model_or_iterable, logged, **options)

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        def atomic_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Bulk actions (delete selected) are not atomic by themselves; the log entry must not
            # outlive a failed write, nor a write its entry.
            if request.method in SAFE_METHODS:
                return view(request, *args, **kwargs)
            with transaction.atomic():
                return view(request, *args, **kwargs)

        update_wrapper(atomic_view, view)
        return super().admin_view(atomic_view, cacheable)


def operator_required(view: View) -> View:
    """The console's own pages: the same rule as the admin (active staff, verified by TOTP)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not admin.site.has_permission(request):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, *args, **kwargs)

    return wrapped
