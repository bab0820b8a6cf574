"""The first administrator's invitation (issue 14 §3, MT-03): a one-time link on the municipality's own host
where the person sets their own password; nobody else ever knows it.

The link carries Django's password-reset token machinery (`PasswordResetTokenGenerator`): an HMAC under
SECRET_KEY of the account's id, its password hash, its last sign-in, the token's time, its e-mail address and
the tenant's schema. So it works once (setting the password changes the hash, and with it every token made
before), a new invitation voids the earlier one (it sets a new unusable password), it expires
INVITATION_DAYS after it was made, and a token made for one municipality is worth nothing on another's host
(the schema is in the HMAC, even where two tenants' accounts share an id). Nothing is stored but the account:
the token is checked, never looked up. Issue, use and every refused try are in the operation log.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from booking.access.accounts import StaffAccountError
from booking.audit import oplog
from booking.models import StaffProfile, StaffRole, StaffToken
from tenants.db import tenant_connection
from tenants.queries import primary_domain

INVITATION_DAYS = 7


class InvitationTokens(PasswordResetTokenGenerator):
    """Django's reset tokens with a salt of their own, the tenant in the hash and their own lifetime."""

    key_salt = "booking.access.invitations.InvitationTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        login = "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        schema = tenant_connection().schema_name
        return f"{user.pk}{user.password}{login}{timestamp}{user.email}{schema}"

    def check_token(self, user: User | None, token: str | None) -> bool:
        """As Django's, but against INVITATION_DAYS rather than PASSWORD_RESET_TIMEOUT (a setting for
        password resets, which are not offered to staff)."""
        if not (user and token):
            return False
        try:
            stamp_b36, _hash = token.split("-")
            stamp = base36_to_int(stamp_b36)
        except ValueError:
            return False
        if self._num_seconds(self._now()) - stamp > INVITATION_DAYS * 24 * 3600:
            return False
        secrets = [self.secret, *self.secret_fallbacks]
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, stamp, secret), token)
            for secret in secrets
        )


tokens = InvitationTokens()


@dataclass(frozen=True)
class Invitation:
    username: str
    email: str
    expires_at: dt.datetime
    url: str
    created: bool  # a new account (False: an unused invitation sent again)


def site_url() -> str:
    """The municipality's own host (its primary domain): "https://<domain>", plain HTTP on `make run`."""
    schema = tenant_connection().schema_name
    host = primary_domain(schema)
    if host is None:
        raise StaffAccountError(f"テナント {schema} にドメインがありません / tenant {schema} has no domain")
    if settings.DEBUG:
        return f"http://{host}:{os.environ.get('PORT', '8000').strip() or '8000'}"
    return f"https://{host}"


def do_invite_administrator(actor: oplog.Actor, username: str, email: str) -> Invitation:
    """Make the administrator's account without a usable password (or void its unused invitation) and
    mail the one-time link after commit. An account whose owner already set a password is refused."""
    username, email = username.strip(), email.strip()
    if not username or len(username) > 150:
        raise StaffAccountError(_("ユーザーIDを1〜150文字で指定してください。"))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise StaffAccountError(
            _("メールアドレスの形式が正しくありません: %(email)s") % {"email": email}
        ) from exc
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.select_for_update().filter(username=username).first()
        if user is None and user_model.objects.filter(username__iexact=username).exists():
            # "ADMIN" beside "admin": as do_create_staff, taken in any case
            raise StaffAccountError(_("ユーザーID %(username)s は既にあります。") % {"username": username})
        created = user is None
        if user is None:
            user = user_model(username=username, email=email)
            user.set_unusable_password()
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError as taken:  # made at the same instant by someone else (migration 0027)
                raise StaffAccountError(
                    _("ユーザーID %(username)s は既にあります。") % {"username": username}
                ) from taken
            StaffProfile.objects.create(user=user, role=StaffRole.ADMINISTRATOR, must_change_password=False)
        elif user.has_usable_password() or user.last_login is not None:
            raise StaffAccountError(
                _("%(username)s は既にパスワードを設定済みです。招待はできません。") % {"username": username}
            )
        else:
            user.email = email
            user.set_unusable_password()  # a new random mark: the earlier invitation's link stops working
            user.save(update_fields=["email", "password"])
        expires_at = timezone.now() + dt.timedelta(days=INVITATION_DAYS)
        url = site_url() + reverse(
            "staff:invitation",
            urlconf=settings.ROOT_URLCONF,  # the tenant's URLs, also when the vendor console invites
            args=[urlsafe_base64_encode(force_bytes(user.pk)), tokens.make_token(user)],
        )
        oplog.record(
            actor,
            "staff.invite",
            username,
            {"email": email, "expires_at": expires_at.isoformat(), "again": not created},
        )
        invitation = Invitation(username, email, expires_at, url, created)
        subject, body = _mail(invitation)
        transaction.on_commit(lambda: _send(email, subject, body), robust=True)
    return invitation


def _mail(invitation: Invitation) -> tuple[str, str]:
    from tenants.queries import current_tenant_name, current_tenant_name_en

    name, name_en = current_tenant_name(), current_tenant_name_en()  # the English part: its English name
    expires = timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d %H:%M")
    subject = f"【{name}】Madoguchi 職員用管理画面へのご招待 / Invitation to the staff console"
    body = (
        f"{name} の Madoguchi 職員用管理画面の管理者として招待されました。\n"
        f"ユーザーID: {invitation.username}\n\n"
        "次のリンクを開き、ご自身でパスワードを設定してください。リンクは一度だけ使えます。\n"
        f"{invitation.url}\n\n"
        f"有効期限: {expires}（日本時間）。期限を過ぎたときは、運用窓口に招待の再送を依頼してください。\n"
        "このメールに心当たりがない場合は、リンクを開かずに破棄してください。\n\n"
        f"You have been invited as an administrator of the Madoguchi staff console of {name_en}.\n"
        f"User ID: {invitation.username}. Open the link above to set your own password; it works once "
        f"and expires at {expires} (Japan time).\n"
    )
    return subject, body


def _send(to: str, subject: str, body: str) -> None:
    from integrations.mail import send_text_mail

    send_text_mail(to, subject, body)


# --- accepting -----------------------------------------------------------------------------------------


def invited_user(uidb64: str, token: str) -> User | None:
    """The account the link names, if the link is valid now (unused, unexpired, this tenant's)."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None or user.has_usable_password() or not tokens.check_token(user, token):
        return None
    return user


def do_record_refused_invitation(address: str, uidb64: str) -> None:
    with transaction.atomic():
        oplog.record(oplog.Actor(None, "", address), "staff.invite_refused", uidb64[:40])


def do_accept_invitation(user: User, token: str, password: str, address: str) -> None:
    """Set the person's own password under the tenant's password rules; the link is spent with it.

    Raises ValidationError (the password rules) or StaffAccountError (the link is no longer valid: used or
    expired meanwhile); changes nothing then.
    """
    validate_password(password, user)
    with transaction.atomic():
        locked = get_user_model().objects.select_for_update().get(pk=user.pk)
        if locked.has_usable_password() or not tokens.check_token(locked, token):
            raise StaffAccountError(_("この招待リンクは使用済みか、期限が過ぎています。"))
        locked.set_password(password)
        locked.save(update_fields=["password"])
        StaffProfile.objects.filter(user=locked).update(
            password_changed_at=timezone.now(), must_change_password=False
        )
        StaffToken.objects.filter(user=locked).delete()
        oplog.record(
            oplog.Actor(locked.pk, locked.get_username(), address),
            "staff.invite_accept",
            locked.get_username(),
        )
