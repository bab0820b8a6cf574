"""A municipality's life, run from the vendor console and the command line (issue 14 §3; MT-03, SO-16, SO-17):
provisioning with the first administrator's invitation, domains, suspension, a full export on demand, and
offboarding with its disposal certificate (tenants.offboarding).

Each write is a `do_*` service whose vendor operation-log entry (console.vendor_log) is written in the write's
own transaction. What happens inside a tenant's schema goes through booking.provisioning, the one door.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from booking import provisioning
from console import vendor_log
from tenants.models import Domain, Municipality, OffboardingRecord
from tenants.queries import schema_present
from tenants.routing import forget_routes
from tenants.services import ProvisioningError, ProvisionResult, do_provision_tenant, validate_host

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")
REASON_MAX = 500


def _target(tenant: Municipality) -> str:
    return f"tenant:{tenant.schema_name}"


def customer(schema_name: str) -> Municipality:
    """The municipality (never the platform's own public tenant), or ProvisioningError."""
    tenant = Municipality.objects.filter(schema_name=schema_name).first()
    if tenant is None or schema_name == get_public_schema_name():
        raise ProvisioningError(_("自治体 %(schema)s はありません。") % {"schema": schema_name})
    return tenant


@contextmanager
def in_schema_of(tenant: Municipality) -> Iterator[None]:
    """The municipality's schema, for the control plane's work in it; ProvisioningError when the schema is
    missing (a provisioning stopped before making it, or lost): the search_path would otherwise fall through
    to the public schema's tables of the same names (the operators' accounts and sessions), as the host
    routing knows (tenants.routing)."""
    if not Municipality.objects.filter(pk=tenant.pk).filter(schema_present()).exists():
        raise ProvisioningError(
            _(
                "自治体 %(schema)s のスキーマがありません（作成が途中で止まったか、失われています）。"
                "provision_tenant で作成を完了するか、復元してください。"
            )
            % {"schema": tenant.schema_name}
        )
    with schema_context(tenant.schema_name):
        yield


# --- provisioning and the first administrator --------------------------------------------------------------


def check_administrator(username: str, email: str) -> None:
    """Checked before anything is made, so that bad input changes nothing."""
    if not USERNAME_RE.match(username.strip()):
        raise ProvisioningError(_("管理者のユーザーIDは英数字と _ . @ + - の1〜150文字で入力してください。"))
    # The invitation's own rule (Django's validate_email): an address it would refuse only after the
    # municipality was made would leave that creation without its vendor-log entry.
    try:
        if len(email.strip()) > 254:  # the account's e-mail column
            raise ValidationError("too long")
        validate_email(email.strip())
    except ValidationError as exc:
        raise ProvisioningError(_("管理者のメールアドレスの形式が正しくありません。")) from exc


@dataclass
class Provisioned:
    result: ProvisionResult
    invitation: Any | None  # booking.access.invitations.Invitation, when one was sent
    admin_state: str  # "none", "invited", "active" before this run


# The advisory lock's key (a name, not a module path: two versions of the code during a rollout share it).
PROVISION_LOCK = "madoguchi.provision"


@contextmanager
def one_provisioning_at_a_time() -> Iterator[None]:
    """Provisioning runs one at a time (a double-clicked form, two operators, the command line at once): the
    second waits and then finds the municipality made, changing nothing, instead of failing with a 500 on
    the first one's rows. A session lock: the schema's creation cannot share one transaction with the rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [PROVISION_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [PROVISION_LOCK])


@one_provisioning_at_a_time()
def do_provision(
    actor: vendor_log.Actor,
    schema_name: str,
    *,
    name: str,
    domain: str,
    preset: str,
    name_en: str = "",
    admin_username: str = "",
    admin_email: str = "",
    reinvite: bool = False,
) -> Provisioned:
    """Make the municipality ready (schema, domain, preset) and invite its first administrator; idempotent.

    The administrator is invited only when the account does not exist yet (or `reinvite` for an unused
    invitation): running it again with the same arguments changes nothing and sends nothing.
    """
    if admin_username or admin_email:
        check_administrator(admin_username, admin_email)
    result = do_provision_tenant(schema_name, name=name, domain=domain, preset=preset, name_en=name_en)
    invitation = None
    state = "none"
    with transaction.atomic():
        if admin_username:
            with in_schema_of(result.tenant):
                state = provisioning.administrator_state(admin_username)
                if state == "none" or (state == "invited" and reinvite):
                    try:
                        invitation = provisioning.invite_administrator(
                            admin_username, admin_email, operator=actor.name, address=actor.address
                        )
                    except ValueError as exc:
                        raise ProvisioningError(str(exc)) from exc
                    result.changes.append(
                        f"invited {admin_username} <{admin_email}> (link valid until "
                        f"{timezone.localtime(invitation.expires_at):%Y-%m-%d %H:%M})"
                    )
        if result.changed:
            vendor_log.record(
                actor,
                "tenant.provision",
                _target(result.tenant),
                changes=result.changes,
                preset=preset,
                administrator=admin_username,
            )
    return Provisioned(result, invitation, state)


def do_invite(actor: vendor_log.Actor, tenant: Municipality, username: str, email: str) -> Any:
    """Send the administrator's invitation again (a new link; the earlier one stops working)."""
    check_administrator(username, email)
    with transaction.atomic():
        with in_schema_of(tenant):
            if provisioning.administrator_state(username) == "active":
                raise ProvisioningError(
                    _("%(username)s は既にパスワードを設定済みです。招待はできません。")
                    % {"username": username}
                )
            try:
                invitation = provisioning.invite_administrator(
                    username, email, operator=actor.name, address=actor.address
                )
            except ValueError as exc:
                raise ProvisioningError(str(exc)) from exc
        vendor_log.record(
            actor,
            "tenant.invite",
            _target(tenant),
            username=username,
            email=email,
            expires_at=invitation.expires_at.isoformat(),
        )
    return invitation


# --- domains -----------------------------------------------------------------------------------------------


def _host(raw: str) -> str:
    try:
        return validate_host(raw)
    except ProvisioningError as exc:
        raise ProvisioningError(
            _("ドメイン名が正しくありません: %(host)s（英小文字・数字・ハイフンとドットのみ）")
            % {"host": raw.strip()}
        ) from exc


def do_add_domain(actor: vendor_log.Actor, tenant: Municipality, raw: str) -> Domain:
    host = _host(raw)
    with transaction.atomic():
        owner = Domain.objects.select_for_update().filter(domain=host).select_related("tenant").first()
        if owner is not None:
            raise ProvisioningError(
                _("ドメイン %(host)s は既に %(owner)s で使われています。")
                % {"host": host, "owner": owner.tenant.schema_name}
            )
        first = not tenant.domains.exists()
        try:
            with transaction.atomic():  # a savepoint: the host taken meanwhile leaves this transaction usable
                domain = Domain.objects.create(domain=host, tenant=tenant, is_primary=first)
        except IntegrityError:
            # added at the same moment (a double click, two operators): the lock above saw no row yet, the
            # unique index waited for the other to commit
            raise ProvisioningError(_("ドメイン %(host)s は既に使われています。") % {"host": host}) from None
        vendor_log.record(actor, "tenant.domain_add", _target(tenant), domain=host, primary=first)
        forget_routes()
    return domain


def _own_domain(tenant: Municipality, host: str) -> Domain:
    domain = Domain.objects.select_for_update().filter(tenant=tenant, domain=host).first()
    if domain is None:
        raise ProvisioningError(_("ドメイン %(host)s はこの自治体のものではありません。") % {"host": host})
    return domain


def do_remove_domain(actor: vendor_log.Actor, tenant: Municipality, host: str) -> None:
    """Never the last one: a municipality without a domain could not be reached, nor its invitation links."""
    with transaction.atomic():
        domains = list(Domain.objects.select_for_update().filter(tenant=tenant).order_by("pk"))
        domain = _own_domain(tenant, host)
        if len(domains) <= 1:
            raise ProvisioningError(_("最後のドメインは削除できません。先に別のドメインを追加してください。"))
        domain.delete()
        promoted = ""
        if domain.is_primary:
            successor = next(d for d in domains if d.pk != domain.pk)
            Domain.objects.filter(pk=successor.pk).update(is_primary=True)
            promoted = successor.domain
        vendor_log.record(actor, "tenant.domain_remove", _target(tenant), domain=host, new_primary=promoted)
        forget_routes()


def do_make_primary(actor: vendor_log.Actor, tenant: Municipality, host: str) -> None:
    """The primary domain is the one printed on letters and used in invitation links."""
    with transaction.atomic():
        domain = _own_domain(tenant, host)
        Domain.objects.filter(tenant=tenant).exclude(pk=domain.pk).update(is_primary=False)
        Domain.objects.filter(pk=domain.pk).update(is_primary=True)
        vendor_log.record(actor, "tenant.domain_primary", _target(tenant), domain=host)


# --- suspension --------------------------------------------------------------------------------------------


def do_suspend(actor: vendor_log.Actor, tenant: Municipality, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise ProvisioningError(_("利用停止の理由を入力してください。"))
    if len(reason) > REASON_MAX:
        raise ProvisioningError(
            _("利用停止の理由は%(max)d文字以内で入力してください。") % {"max": REASON_MAX}
        )
    with transaction.atomic():
        if not suspend_in_transaction(actor, tenant, reason):
            raise ProvisioningError(_("この自治体は既に利用停止中です。"))
    tenant.refresh_from_db()


def suspend_in_transaction(actor: vendor_log.Actor, tenant: Municipality, reason: str) -> bool:
    """Suspend within the caller's transaction, unless already suspended; True if this did it."""
    locked = Municipality.objects.select_for_update().get(pk=tenant.pk)
    if locked.suspended_at is not None:
        return False
    Municipality.objects.filter(pk=tenant.pk).update(
        suspended_at=timezone.now(), suspended_by=actor.name[:150], suspension_reason=reason[:REASON_MAX]
    )
    vendor_log.record(actor, "tenant.suspend", _target(tenant), reason=reason)
    forget_routes()  # every process's host routing carries the suspension: it must read the row again
    return True


def leaving(schema_name: str) -> bool:
    """Is an offboarding of the municipality asked for or running? Then it stays suspended and nothing more
    is made in it: residents' writes after the final export would be destroyed unexported."""
    return OffboardingRecord.objects.filter(
        schema_name=schema_name,
        status__in=[OffboardingRecord.Status.REQUESTED, OffboardingRecord.Status.RUNNING],
    ).exists()


def _refuse_if_leaving(schema_name: str) -> None:
    if leaving(schema_name):
        raise ProvisioningError(_("この自治体は解約・データ削除の処理中です。この操作はできません。"))


def do_resume(actor: vendor_log.Actor, tenant: Municipality) -> None:
    with transaction.atomic():
        # the lock do_request_offboarding takes too: a resume and an offboarding request never cross
        locked = Municipality.objects.select_for_update().get(pk=tenant.pk)
        if locked.suspended_at is None:
            raise ProvisioningError(_("この自治体は利用停止中ではありません。"))
        _refuse_if_leaving(locked.schema_name)
        Municipality.objects.filter(pk=tenant.pk).update(
            suspended_at=None, suspended_by="", suspension_reason=""
        )
        vendor_log.record(
            actor,
            "tenant.resume",
            _target(tenant),
            suspended_at=locked.suspended_at.isoformat(),
            suspended_by=locked.suspended_by,
            reason=locked.suspension_reason,
        )
        forget_routes()
    tenant.refresh_from_db()


# --- full export on demand ---------------------------------------------------------------------------------


def do_request_export(actor: vendor_log.Actor, tenant: Municipality) -> int:
    # The transaction commits inside the tenant's schema: the export task is queued on commit and carries the
    # schema of the connection at that moment. The vendor log's table is found in public on the search path.
    _refuse_if_leaving(tenant.schema_name)  # the final export is being made; a file made now is orphaned
    with in_schema_of(tenant), transaction.atomic():
        job = provisioning.request_full_export(operator=actor.name, address=actor.address)
        vendor_log.record(actor, "tenant.export", _target(tenant), export=job)
    return job


def do_record_export_download(actor: vendor_log.Actor, tenant: Municipality, pk: int) -> str | None:
    """The key of a downloadable export, its download logged in both logs; None when there is none."""
    with transaction.atomic():
        with in_schema_of(tenant):
            found = provisioning.export_for_download(pk, operator=actor.name, address=actor.address)
        if found is None:
            return None
        vendor_log.record(actor, "tenant.export_download", _target(tenant), export=pk)
    return found[0]
