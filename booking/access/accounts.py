"""Staff accounts and sign-in (SO-10): roles, Argon2 passwords with expiry, lockout, TOTP, allowed terminals.

Writes are `do_*` functions; each records itself in the operation log inside its own transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from booking.access import bearer, passwords, throttle, totp_wait
from booking.audit import oplog
from booking.lib.japanese import nfkc
from booking.models import AllowedNetwork, StaffProfile, StaffRole, StaffSecurity, StaffToken

TOKEN_LIFETIME = dt.timedelta(hours=8)


class StaffLoginRefused(Exception):
    def __init__(self, code: str) -> None:
        # invalid_credentials | locked | otp_required | otp_wait | otp_setup_required | ip_not_allowed
        # | too_many_attempts
        self.code = code
        super().__init__(code)


class StaffAccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why (Japanese first)."""


def security() -> StaffSecurity:
    """The staff sign-in rules: a pure read, on every staff request. Provisioning and migration 0015 make the
    row; should it be missing, the defaults apply (unsaved) and the first change makes it."""
    return StaffSecurity.objects.filter(singleton=True).first() or StaffSecurity(singleton=True)


# --- terminals -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworksInForce:
    """The networks staff functions may be used from, and where the list comes from."""

    networks: tuple[str, ...]
    tenant_listed: bool  # the tenant's own list; False: the platform's STAFF_DEFAULT_NETWORKS


def networks_in_force() -> NetworksInForce:
    """The tenant's own list when it has one, else the platform's LGWAN and call-center networks.

    Deny by default (finding 1 of issue 13, AD-01): an empty list used to mean "anywhere", which put the
    staff console on the internet; now it means the platform's networks, and when those are unset too
    (production before STAFF_DEFAULT_NETWORKS is configured) nowhere at all.
    """
    own = tuple(AllowedNetwork.objects.values_list("network", flat=True))
    if own:
        return NetworksInForce(own, tenant_listed=True)
    return NetworksInForce(tuple(settings.STAFF_DEFAULT_NETWORKS), tenant_listed=False)


def address_allowed(address: str) -> bool:
    """Only from the networks in force (networks_in_force); none in force: from nowhere."""
    networks = networks_in_force().networks
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def parse_network(raw: str) -> str:
    """A network as the allow-list keeps it (full-width digits and dots as typed on a Japanese keyboard
    count). Every address at once (/0) is refused: an empty list is how "no restriction" is said."""
    try:
        network = ipaddress.ip_network(nfkc(raw).strip(), strict=False)
    except ValueError as exc:
        raise StaffAccountError(
            _("ネットワークの形式が正しくありません（例: 192.0.2.0/24）: %(raw)s") % {"raw": raw.strip()[:60]}
        ) from exc
    if network.prefixlen == 0:
        raise StaffAccountError(
            _(
                "%(network)s はすべての接続元にあたるため、追加できません。接続元を制限しない場合は、"
                "一覧を空にしてください。"
            )
            % {"network": network}
        )
    return str(network)


def do_allow_network(actor: oplog.Actor, raw: str, label: str) -> AllowedNetwork:
    network = parse_network(raw)
    with transaction.atomic():
        allowed, _ = AllowedNetwork.objects.update_or_create(network=network, defaults={"label": label})
        oplog.record(actor, "network.allow", network, {"label": label})
    return allowed


def do_remove_network(actor: oplog.Actor, network: str) -> None:
    with transaction.atomic():
        removed, _by_model = AllowedNetwork.objects.filter(network=network).delete()
        if not removed:  # removed meanwhile (another tab), or never there: nothing to report as done
            raise StaffAccountError(_("接続元 %(network)s は一覧にありません。") % {"network": network[:60]})
        oplog.record(actor, "network.remove", network)


# --- passwords -----------------------------------------------------------------------------------------


def password_expired(profile: StaffProfile, now: dt.datetime | None = None) -> bool:
    if profile.must_change_password:
        return True
    days = security().password_expiry_days
    if not days or profile.password_changed_at is None:
        return False
    return (now or timezone.now()) >= profile.password_changed_at + dt.timedelta(days=days)


def do_change_password(actor: oplog.Actor, user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise StaffAccountError(_("現在のパスワードが違います。"))
    if current == new:
        # A rule about the new password, so it is shown under the new password's field, like the others.
        raise ValidationError(
            _("新しいパスワードは今のものと違うものにしてください。"), code="password_reused"
        )
    validate_password(new, user)
    with transaction.atomic():
        user.set_password(new)
        user.save(update_fields=["password"])
        StaffProfile.objects.filter(user=user).update(
            password_changed_at=timezone.now(), must_change_password=False
        )
        StaffToken.objects.filter(user=user).delete()
        oplog.record(actor, "password.change", user.get_username())


# --- accounts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewStaff:
    user: User
    profile: StaffProfile


def do_create_staff(
    actor: oplog.Actor, username: str, role: str, password: str, *, must_change: bool = True
) -> NewStaff:
    username = username.strip()
    if role not in StaffRole.values:
        raise StaffAccountError(
            _("役割が正しくありません: %(role)s（%(roles)s から選んでください）")
            % {"role": role, "roles": ", ".join(StaffRole.values)}
        )
    user_model = get_user_model()
    if not username or len(username) > 150:
        raise StaffAccountError(_("ユーザーIDを1〜150文字で指定してください。"))
    # in any case: "ADMIN" beside "admin" is two accounts that people (and the sign-in) take for one
    if user_model.objects.filter(username__iexact=username).exists():
        raise StaffAccountError(_("ユーザーID %(username)s は既にあります。") % {"username": username})
    candidate = user_model(username=username)
    validate_password(password, candidate)
    try:
        with transaction.atomic():
            user = user_model.objects.create_user(username=username, password=password)
            profile = StaffProfile.objects.create(
                user=user, role=role, password_changed_at=timezone.now(), must_change_password=must_change
            )
            oplog.record(actor, "staff.create", username, {"role": role})
    except IntegrityError as taken:  # made at the same instant by someone else (migration 0027's index)
        taken_message = _("ユーザーID %(username)s は既にあります。") % {"username": username}
        raise StaffAccountError(taken_message) from taken
    return NewStaff(user=user, profile=profile)


def do_set_role(actor: oplog.Actor, profile: StaffProfile, role: str) -> bool:
    """Give the account `role`; False (nothing written, nothing logged) when it has that role already."""
    if role not in StaffRole.values:
        raise StaffAccountError(_("役割が正しくありません: %(role)s") % {"role": role[:40]})
    with transaction.atomic():
        _lock_administrators()
        current = StaffProfile.objects.select_for_update().get(pk=profile.pk).role
        if current == role:
            profile.role = current
            return False
        if current == StaffRole.ADMINISTRATOR:
            _keep_one_administrator(profile)
        profile.role = role
        profile.save(update_fields=["role"])
        oplog.record(actor, "staff.role", profile.user.get_username(), {"role": role})
    return True


def do_set_active(actor: oplog.Actor, profile: StaffProfile, active: bool) -> bool:
    """Let the account sign in, or stop it (its tokens go); False (nothing written, nothing logged) when it
    is so already."""
    with transaction.atomic():
        _lock_administrators()
        user = type(profile.user).objects.select_for_update().get(pk=profile.user_id)
        if user.is_active == active:
            profile.user.is_active = active
            return False
        role = StaffProfile.objects.get(pk=profile.pk).role  # as locked, not as the caller read it
        if not active and role == StaffRole.ADMINISTRATOR:
            _keep_one_administrator(profile)
        profile.user.is_active = active
        profile.user.save(update_fields=["is_active"])
        StaffToken.objects.filter(user=profile.user).delete()
        oplog.record(actor, "staff.activate" if active else "staff.deactivate", profile.user.get_username())
    return True


def _lock_administrators() -> None:
    """Every administrator's row, locked in one order: two demotions or stops at once wait for each other, so
    the check that one administrator stays (`_keep_one_administrator`) sees the other's change."""
    list(
        StaffProfile.objects.select_for_update(of=("self",))
        .filter(role=StaffRole.ADMINISTRATOR)
        .order_by("pk")
    )


def _keep_one_administrator(leaving: StaffProfile) -> None:
    others = StaffProfile.objects.filter(role=StaffRole.ADMINISTRATOR, user__is_active=True).exclude(
        pk=leaving.pk
    )
    if not others.exists():
        raise StaffAccountError(_("最後の管理者は変更・停止できません。"))


def do_reset_password(actor: oplog.Actor, profile: StaffProfile) -> str:
    """A temporary password the person must change at the next sign-in."""
    temporary = passwords.temporary_password()
    with transaction.atomic():
        profile.user.set_password(temporary)
        profile.user.save(update_fields=["password"])
        profile.must_change_password = True
        profile.failed_logins = 0
        profile.locked_at = None
        profile.save(update_fields=["must_change_password", "failed_logins", "locked_at"])
        StaffToken.objects.filter(user=profile.user).delete()
        oplog.record(actor, "staff.reset_password", profile.user.get_username())
    return temporary


def do_unlock(actor: oplog.Actor, profile: StaffProfile) -> None:
    with transaction.atomic():
        StaffProfile.objects.filter(pk=profile.pk).update(failed_logins=0, locked_at=None)
        oplog.record(actor, "staff.unlock", profile.user.get_username())


# --- second factor -------------------------------------------------------------------------------------


def totp_device(user: User, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).first()


def totp_required(profile: StaffProfile) -> bool:
    if totp_device(profile.user) is not None:
        return True
    return profile.role == StaffRole.ADMINISTRATOR and security().require_totp_for_administrators


def do_start_totp(user: User) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def do_confirm_totp(actor: oplog.Actor, device: TOTPDevice, token: str) -> bool:
    if not device.verify_token(token.strip()):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # API tokens were issued against the second factor as it was; like a session, they start again.
        StaffToken.objects.filter(user=device.user).delete()
        oplog.record(actor, "totp.enable", device.user.get_username())
    return True


def do_remove_totp(actor: oplog.Actor, profile: StaffProfile) -> bool:
    """Remove the account's second-factor devices; False (nothing logged) when it has none."""
    with transaction.atomic():
        removed, _kinds = TOTPDevice.objects.filter(user=profile.user).delete()
        if not removed:
            return False
        # A token marked as issued after a code would outlive the device (a lost phone): it goes with it.
        StaffToken.objects.filter(user=profile.user).delete()
        oplog.record(actor, "totp.remove", profile.user.get_username())
    return True


# --- signing in ----------------------------------------------------------------------------------------

# Why not django-axes (considered for issue 13): its tables could live in each tenant schema (as a tenant
# app), but it keys on user name + address and answers a lockout itself, before any password is checked,
# with a status and page of its own: the very "locked answers fast and differently" of finding 4. It also
# checks the lock before it counts, so a burst still gets past it (finding 5), its cool-off is one setting
# for the whole process rather than each municipality's administrator's, it sees only authenticate()
# (our sign-in has a second step that shares the account's count), and its lock and unlock would still have
# to be written to our operation log. The account's count stays here: two conditional UPDATEs on a column we
# already have, the address's in booking.access.throttle (Redis).


def active_user(username: str) -> User | None:
    return get_user_model().objects.filter(username=username, is_active=True).first()


def do_staff_login(username: str, password: str, address: str, otp: str | None = None) -> StaffProfile:
    """Check the address, the password (counting failures, locking), then the second factor if one is due.

    `otp=None` means "not asked yet" (the web form's first step): a due second factor then raises
    otp_required without counting a failure.
    """
    actor, profile, _checked = _check_sign_in(username, password, address, otp)
    return _signed_in(actor, profile)


def do_staff_token_login(
    username: str, password: str, address: str, otp: str | None = None, now: dt.datetime | None = None
) -> bearer.IssuedToken:
    """The staff API's sign-in: the checks of do_staff_login, then a bearer token that says whether a
    second factor was checked (the gate asks on every request, see token_passed_second_factor)."""
    actor, profile, second_factor = _check_sign_in(username, password, address, otp)
    if not second_factor and totp_required(profile):
        # Required but never set up: only the web console sets a second factor up. The password was right,
        # so the attempt counted before its check is given back.
        _give_back_attempt(profile)
        oplog.record(actor, "login.refused", "otp_setup_required")
        raise StaffLoginRefused("otp_setup_required")
    with transaction.atomic():
        profile = _signed_in(actor, profile)
        return _issue_staff_token(profile, second_factor=second_factor, now=now or timezone.now())


def _check_sign_in(
    username: str, password: str, address: str, otp: str | None
) -> tuple[oplog.Actor, StaffProfile, bool]:
    """The account whose password (and code, when it has a second factor) is right, and whether a code
    was checked; refusals are raised as StaffLoginRefused.

    An unknown name, an inactive account, a locked account and a wrong password answer alike
    (invalid_credentials) after the same work, one password hash: a different answer or a quicker one
    told which user names exist and which were locked (finding 4 of issue 13). A locked account's password
    is checked against no real hash, so a lock also hides whether a guess was right.
    """
    if not address_allowed(address):
        oplog.record(oplog.Actor(None, username[:150], address), "login.refused", "ip_not_allowed")
        raise StaffLoginRefused("ip_not_allowed")
    # One address trying many usernames (password spraying) is slowed like a resident's failed logins;
    # one account is locked by its own count below. Both count the attempt before the password is checked.
    spray_keys = throttle.keys_for(f"staff:{address}", "")
    if not throttle.verdict(spray_keys).allowed or not throttle.claim(spray_keys).allowed:
        oplog.record(oplog.Actor(None, username[:150], address), "login.refused", "too_many_attempts")
        raise StaffLoginRefused("too_many_attempts")
    user_model = get_user_model()
    user = user_model.objects.filter(username=username, is_active=True).select_related("staff").first()
    profile = getattr(user, "staff", None) if user is not None else None
    if user is None or profile is None:
        _password_matches(None, password)
        # Written like a known account's failure is (one entry), so this path costs what the others do.
        oplog.record(oplog.Actor(None, username[:150], address), "login.refused", "unknown_user")
        raise StaffLoginRefused("invalid_credentials")
    actor = oplog.Actor(user.pk, user.get_username(), address)
    rules = security()
    _end_lapsed_lock(actor, profile, rules)
    failures = _claim_attempt(profile)
    if failures is None or failures > rules.lockout_threshold:
        # Locked, or a burst has already claimed every check the threshold allows: no check of this one.
        _password_matches(None, password)
        _lock(actor, profile, rules, failures)
        raise StaffLoginRefused("invalid_credentials")
    if not _password_matches(user, password):
        _failed(actor, profile, rules, failures)
        raise StaffLoginRefused("invalid_credentials")
    throttle.release(spray_keys)
    device = totp_device(user) if totp_required(profile) else None
    if device is None:
        return actor, profile, False
    if otp is None:
        _give_back_attempt(profile)  # the password was right and no code was asked yet: not a failure
        raise StaffLoginRefused("otp_required")
    if totp_wait.seconds(device):
        _give_back_attempt(profile)  # django-otp's pause: no code checked, none counted
        raise StaffLoginRefused("otp_required")
    if not device.verify_token(otp.strip()):
        _failed(actor, profile, rules, failures)  # the claimed attempt stays counted, as the code's failure
        # The staff API answers no "locked" (finding 4): a wrong code is otp_required, locking or not.
        raise StaffLoginRefused("otp_required")
    return actor, profile, True


@functools.cache
def _stand_in_hash(algorithm: str) -> str:
    """A hash of a random password with the default hasher (one per algorithm, made once per process)."""
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


def _password_matches(user: User | None, password: str) -> bool:
    """The one password check of a sign-in, made whoever asks: with no user (unknown, or locked), the
    password is checked against a stand-in hash of the same hasher, so every answer costs the same."""
    if user is None:
        check_password(password, _stand_in_hash(get_hasher().algorithm))
        return False
    return user.check_password(password)


def lock_ends_at(profile: StaffProfile, rules: StaffSecurity | None = None) -> dt.datetime | None:
    """When the profile's lock ends by itself (None: not locked)."""
    if profile.locked_at is None:
        return None
    return profile.locked_at + dt.timedelta(minutes=(rules or security()).lockout_minutes)


def _end_lapsed_lock(actor: oplog.Actor, profile: StaffProfile, rules: StaffSecurity) -> None:
    """A lock whose period has passed ends here, at the next attempt, counted from nothing again; the one
    request whose conditional UPDATE ends it writes the entry."""
    ends = lock_ends_at(profile, rules)
    if ends is None or timezone.now() < ends:
        return
    with transaction.atomic():
        ended = StaffProfile.objects.filter(pk=profile.pk, locked_at=profile.locked_at).update(
            locked_at=None, failed_logins=0
        )
        if ended:
            oplog.record(actor, "staff.lock_expired", actor.username, {"locked_until": ends.isoformat()})
    profile.locked_at, profile.failed_logins = None, 0


def _claim_attempt(profile: StaffProfile) -> int | None:
    """Count this attempt before its password is checked, in one UPDATE … RETURNING (no read-then-write
    that a concurrent attempt could overwrite): the count including it, or None when the account is locked."""
    table = StaffProfile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET failed_logins = failed_logins + 1"  # noqa: S608 - the model's own table
            " WHERE id = %s AND locked_at IS NULL RETURNING failed_logins",
            [profile.pk],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _give_back_attempt(profile: StaffProfile) -> None:
    StaffProfile.objects.filter(pk=profile.pk, failed_logins__gt=0).update(
        failed_logins=F("failed_logins") - 1
    )


def _lock(actor: oplog.Actor, profile: StaffProfile, rules: StaffSecurity, failures: int | None) -> None:
    """Lock the account unless it already is (the attempts of a burst over the threshold)."""
    if failures is None:
        oplog.record(actor, "login.refused", "locked")  # seen by administrators only, never answered
        return
    with transaction.atomic():
        now = timezone.now()
        locked = StaffProfile.objects.filter(pk=profile.pk, locked_at=None).update(locked_at=now)
        oplog.record(
            actor,
            "login.failed",
            actor.username,
            {"failures": failures, "locked": True, "checked": False, **_until(now, rules, bool(locked))},
        )


def _until(now: dt.datetime, rules: StaffSecurity, locked_now: bool) -> dict[str, str]:
    if not locked_now:
        return {}
    return {"locked_until": (now + dt.timedelta(minutes=rules.lockout_minutes)).isoformat()}


def _failed(actor: oplog.Actor, profile: StaffProfile, rules: StaffSecurity, failures: int) -> None:
    """A counted attempt failed: lock the account when it reached the threshold, and write the entry."""
    with transaction.atomic():
        now = timezone.now()
        locked_now = False
        if failures >= rules.lockout_threshold:
            locked_now = bool(
                StaffProfile.objects.filter(pk=profile.pk, locked_at=None).update(locked_at=now)
            )
        oplog.record(
            actor,
            "login.failed",
            actor.username,
            {
                "failures": failures,
                "locked": failures >= rules.lockout_threshold,
                **_until(now, rules, locked_now),
            },
        )


def do_staff_second_factor(user_id: int, otp: str, address: str) -> StaffProfile:
    """The web sign-in's second step, after do_staff_login said otp_required for this user."""
    if not address_allowed(address):
        raise StaffLoginRefused("ip_not_allowed")
    profile = (
        StaffProfile.objects.select_related("user").filter(user_id=user_id, user__is_active=True).first()
    )
    if profile is None:
        raise StaffLoginRefused("invalid_credentials")
    actor = oplog.Actor(profile.user.pk, profile.user.get_username(), address)
    rules = security()
    _end_lapsed_lock(actor, profile, rules)
    # Only someone who gave the right password gets here, so saying "locked" tells no stranger anything.
    failures = _claim_attempt(profile)
    if failures is None or failures > rules.lockout_threshold:
        _lock(actor, profile, rules, failures)
        raise StaffLoginRefused("locked")
    device = totp_device(profile.user)
    if device is not None and totp_wait.seconds(device):
        _give_back_attempt(profile)  # django-otp's pause after a wrong code: no code was checked
        raise StaffLoginRefused("otp_wait")
    if device is None or not device.verify_token(otp.strip()):
        _failed(actor, profile, rules, failures)
        raise StaffLoginRefused("locked" if failures >= rules.lockout_threshold else "otp_required")
    return _signed_in(actor, profile)


def _signed_in(actor: oplog.Actor, profile: StaffProfile) -> StaffProfile:
    with transaction.atomic():
        StaffProfile.objects.filter(pk=profile.pk).update(failed_logins=0)
        get_user_model().objects.filter(pk=profile.user.pk).update(last_login=timezone.now())
        oplog.record(actor, "login", actor.username)
    profile.refresh_from_db()
    return profile


# --- API tokens ----------------------------------------------------------------------------------------


# A staff token says in its own text whether a second factor was checked when it was issued. Only the
# SHA-256 of the whole text is stored, so its holder cannot change what it says (the changed text matches
# no stored token); no column is needed. The random part never contains ".", so a mark cannot be faked by
# chance, and a token without either mark (issued before the marks existed) counts as password only.
TOKEN_AFTER_SECOND_FACTOR = "totp."  # noqa: S105 - a mark in front of a token, not a secret
TOKEN_PASSWORD_ONLY = "pw."  # noqa: S105 - a mark in front of a token, not a secret


def _issue_staff_token(profile: StaffProfile, *, second_factor: bool, now: dt.datetime) -> bearer.IssuedToken:
    StaffToken.objects.filter(expires_at__lte=now).delete()
    mark = TOKEN_AFTER_SECOND_FACTOR if second_factor else TOKEN_PASSWORD_ONLY
    issued = bearer.issue(TOKEN_LIFETIME, now, prefix=mark)
    StaffToken.objects.create(user=profile.user, token_digest=issued.digest, expires_at=issued.expires_at)
    return issued


def token_passed_second_factor(token: str) -> bool:
    return token.startswith(TOKEN_AFTER_SECOND_FACTOR)


def profile_for_token(token: str) -> StaffProfile | None:
    found = (
        StaffToken.objects.select_related("user__staff")
        .filter(token_digest=bearer.digest(token), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )
    return getattr(found.user, "staff", None) if found else None


def do_update_security(actor: oplog.Actor, wanted: StaffSecurity) -> StaffSecurity:
    fields = [
        "password_expiry_days",
        "lockout_threshold",
        "lockout_minutes",
        "operation_log_retention_days",
        "require_totp_for_administrators",
    ]
    with transaction.atomic():
        rules, _ = StaffSecurity.objects.select_for_update().get_or_create(singleton=True)
        for name in fields:
            setattr(rules, name, getattr(wanted, name))
        rules.save(update_fields=fields)
        oplog.record(
            actor, "security.update", "staff sign-in rules", {name: getattr(wanted, name) for name in fields}
        )
    return rules
