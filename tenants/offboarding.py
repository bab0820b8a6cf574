"""Offboarding (SO-17, MT-03; issue 14 §3): a municipality leaves, its final export is handed over, and every
piece of its data is destroyed, with a disposal certificate (OffboardingRecord) kept in the public schema.

The vendor console asks for it (`do_request_offboarding`: typed confirmation, the municipality's request,
suspension, vendor-log entry, all in one transaction) and a worker carries it out (task `tenants.offboard`
→ `do_run_offboarding`), because a large city's final export and the DROP of its schema take longer than a
web request may. The command line (`offboard_tenant`) asks and runs in one go (`do_offboard`). The record
says how it went; a failure before the schema is dropped leaves everything in place, and the operator can
run it again from the certificate page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator

from celery import current_app
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import provisioning
from console import vendor_log
from integrations import storage
from tenants.lifecycle import customer, in_schema_of, suspend_in_transaction
from tenants.models import Municipality, OffboardingRecord
from tenants.routing import forget_routes
from tenants.services import ProvisioningError

logger = logging.getLogger(__name__)

# The final export is copied here before the municipality's own folder is destroyed: "_" cannot begin a
# schema name, so no municipality's folder is ever this one.
HANDOVER_FOLDER = "_offboarded"
TASK = "tenants.offboard"
# A run still "running" this long after it started lost its worker (the task is acknowledged late, so a
# killed worker's message comes back, but finds the record claimed): the operator may start it again.
LOST_AFTER = dt.timedelta(hours=6)
Status = OffboardingRecord.Status


def _target(schema_name: str) -> str:
    return f"tenant:{schema_name}"


def do_request_offboarding(
    actor: vendor_log.Actor, schema_name: str, *, confirm: str, asked_by: str, queue: bool = True
) -> OffboardingRecord:
    """Check the typed confirmation, suspend the municipality, make its record and queue the worker."""
    tenant = customer(schema_name)
    if confirm.strip() != schema_name:
        raise ProvisioningError(
            _("確認のためスキーマ名 %(schema)s をそのまま入力してください（元に戻せません）。")
            % {"schema": schema_name}
        )
    with transaction.atomic():
        Municipality.objects.select_for_update().get(pk=tenant.pk)
        running = OffboardingRecord.objects.filter(
            schema_name=schema_name, status__in=[Status.REQUESTED, Status.RUNNING]
        ).first()
        if running is not None:
            raise ProvisioningError(
                _("この自治体の解約・データ削除は既に受け付けています（記録 %(pk)d）。") % {"pk": running.pk}
            )
        suspend_in_transaction(actor, tenant, _("解約・データ削除のため"))
        record = OffboardingRecord.objects.create(
            schema_name=schema_name,
            name=tenant.name,
            status=Status.REQUESTED,
            requested_by=actor.name[:150],
            asked_by=asked_by.strip()[:200],
        )
        vendor_log.record(
            actor, "tenant.offboard_request", _target(schema_name), record=record.pk, asked_by=record.asked_by
        )
        if queue:
            transaction.on_commit(lambda: _queue(record.pk))
    return record


def do_retry_offboarding(actor: vendor_log.Actor, record: OffboardingRecord) -> None:
    """Queue a failed, never-started or lost run again (its municipality is still there, still suspended)."""
    with transaction.atomic():
        # Locked in do_request_offboarding's order (municipality, then record), and judged on the locked rows:
        # a run that ended meanwhile is not put back to "requested", a done certificate never turns "failed".
        tenant = Municipality.objects.select_for_update().filter(schema_name=record.schema_name).first()
        locked = OffboardingRecord.objects.select_for_update().get(pk=record.pk)
        lost = (
            locked.status == Status.RUNNING
            and locked.started_at is not None
            and locked.started_at < timezone.now() - LOST_AFTER
        )
        if locked.status not in (Status.FAILED, Status.REQUESTED) and not lost:
            raise ProvisioningError(_("この記録は再実行できません（実行中か、完了しています）。"))
        # An operator who resumed the municipality after a failed run gave the offboarding up: a retry
        # would destroy a running municipality without its confirmation. A new request is needed then.
        if tenant is None or not tenant.suspended:
            raise ProvisioningError(
                _(
                    "この自治体は利用を再開しているため再実行できません。改めて解約・データ削除を手続きしてください。"
                )
            )
        # A later request supersedes this one: the same schema name may even be a new municipality by now.
        other = OffboardingRecord.objects.filter(
            Q(status__in=[Status.REQUESTED, Status.RUNNING]) | Q(pk__gt=record.pk),
            schema_name=record.schema_name,
        ).exclude(pk=record.pk)
        if other.exists():
            raise ProvisioningError(
                _("より新しい記録 %(pk)d があるため、この記録は再実行できません。")
                % {"pk": other.order_by("-pk")[0].pk}
            )
        OffboardingRecord.objects.filter(pk=record.pk).update(status=Status.REQUESTED, error="")
        vendor_log.record(actor, "tenant.offboard_retry", _target(record.schema_name), record=record.pk)
        transaction.on_commit(lambda: _queue(record.pk))


def _queue(record_id: int) -> None:
    """Queue the worker by the task's registered name (a web process has not imported tasks modules)."""
    try:
        if TASK not in current_app.tasks:
            current_app.loader.import_default_modules()
        current_app.tasks[TASK].delay(record_id)
    except Exception:  # noqa: BLE001 - a broker outage: the record stays "requested", to be run again
        logger.exception("offboarding %s could not be queued", record_id)


def do_offboard(
    actor: vendor_log.Actor, schema_name: str, *, confirm: str, asked_by: str = ""
) -> OffboardingRecord:
    """The command line's way: ask and carry out at once, in this process."""
    record = do_request_offboarding(actor, schema_name, confirm=confirm, asked_by=asked_by, queue=False)
    return do_run_offboarding(record.pk)


def do_run_offboarding(record_id: int) -> OffboardingRecord:
    """Carry out a requested offboarding (the worker's task). In order:

    1. the final export (the full-export zip) is written and copied out of the municipality's folder, to
       `_offboarded/<schema>/`, with its SHA-256: that copy is what is handed over;
    2. every table of its schema is counted, every stored file under `<schema>/` (exports, uploaded card
       files, notice letters and vendor CSVs) is deleted, and the folder is checked to be empty;
    3. in one transaction: the schema is dropped, the municipality and its domains removed (its planned stops
       with them), the record completed (the disposal certificate) and the vendor-log entry written.
    """
    claimed = OffboardingRecord.objects.filter(pk=record_id, status=Status.REQUESTED).update(
        status=Status.RUNNING, started_at=timezone.now(), error=""
    )
    record = OffboardingRecord.objects.get(pk=record_id)
    if not claimed:
        return record  # already run, or running elsewhere: a retried message does nothing twice
    actor = vendor_log.Actor(record.requested_by, None, "worker")
    try:
        _carry_out(record, actor)
    except Exception as exc:
        with transaction.atomic():
            OffboardingRecord.objects.filter(pk=record.pk).update(status=Status.FAILED, error=str(exc)[:2000])
            vendor_log.record(
                actor,
                "tenant.offboard_failed",
                _target(record.schema_name),
                record=record.pk,
                error=str(exc)[:500],
            )
        if isinstance(exc, ProvisioningError):
            record.refresh_from_db()
            return record
        raise
    _sweep_stragglers(record, actor)
    record.refresh_from_db()
    return record


def _carry_out(record: OffboardingRecord, actor: vendor_log.Actor) -> None:
    schema_name = record.schema_name
    tenant = customer(schema_name)
    with in_schema_of(tenant):  # never a "final export" of the public schema's tables
        key, _size = provisioning.final_export()
    store = storage.export_storage()
    started = record.started_at or timezone.now()
    handover = f"{HANDOVER_FOLDER}/{schema_name}/{timezone.localtime(started):%Y%m%dT%H%M%S}-final-export.zip"
    size, sha256 = _copy_with_digest(store, key, handover)
    tables = table_row_counts(schema_name)
    files = _destroy_files(store, schema_name)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred foreign-key checks still pending in this transaction would block the DROP.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tenant.delete(force_drop=True)  # DROP SCHEMA … CASCADE, domains and planned stops with it
        forget_routes()
        record.status = Status.DONE
        record.offboarded_at = timezone.now()
        record.export_key, record.export_size, record.export_sha256 = handover, size, sha256
        record.tables, record.files = tables, files
        record.save()
        vendor_log.record(
            actor,
            "tenant.offboard",
            _target(schema_name),
            record=record.pk,
            export_key=handover,
            export_sha256=sha256,
            tables=len(tables),
            rows=sum(int(str(t["rows"])) for t in tables),
            files=len(files),
            asked_by=record.asked_by,
        )


def _sweep_stragglers(record: OffboardingRecord, actor: vendor_log.Actor) -> None:
    """A worker that was mid-job when the schema went may still have written a file: swept and listed too."""
    try:
        stragglers = _destroy_files(storage.export_storage(), record.schema_name)
    except Exception:  # noqa: BLE001 - the offboarding itself is done; the next look finds them
        logger.exception("offboarding %s: sweeping late files failed", record.pk)
        return
    if stragglers:
        with transaction.atomic():
            OffboardingRecord.objects.filter(pk=record.pk).update(files=[*record.files, *stragglers])
            vendor_log.record(actor, "tenant.offboard_sweep", _target(record.schema_name), files=stragglers)


def table_row_counts(schema_name: str) -> list[dict[str, object]]:
    """Every table of the schema with its exact row count, for the disposal certificate."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [schema_name],
        )
        names = [row[0] for row in cursor.fetchall()]
        counts = []
        for name in names:
            cursor.execute(f"SELECT count(*) FROM {quote(schema_name)}.{quote(name)}")  # noqa: S608 - catalog names
            counts.append({"table": name, "rows": int(cursor.fetchone()[0])})
    return counts


def _copy_with_digest(store: storage.ExportStorage, source: str, target: str) -> tuple[int, str]:
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        with store.open(source) as stream:
            while block := stream.read(storage.CHUNK_BYTES):
                digest.update(block)
                yield block

    size = store.save_stream(target, chunks())
    return size, digest.hexdigest()


def _destroy_files(store: storage.ExportStorage, schema_name: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = [{"key": key, "size": size} for key, size in store.files(schema_name)]
    for item in found:
        store.delete(str(item["key"]))
    left = [key for key, _size in store.files(schema_name)]
    if left:
        raise ProvisioningError(
            _("ファイルを削除できませんでした（%(count)d件、例: %(key)s）。スキーマは残しています。")
            % {"count": len(left), "key": left[0]}
        )
    return found
