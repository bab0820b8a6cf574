"""The house's walls (docs/architecture.md), checked on every run: the import contracts hold with nothing
ignored, no module grows past 600 lines, tasks are queued one way only, and the set of Celery task names
and the beat schedule change only on purpose (a renamed task strands the messages queued under its name)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
from celery.schedules import crontab

from madoguchi.celery import app

REPO = Path(__file__).resolve().parents[2]
PRODUCT_FOLDERS = ["booking", "integrations", "tenants", "platform"]
MAX_LINES = 600

# Every task a message can name. Changing this set is changing a wire format: queued messages, beat entries
# and operators' runbooks name these.
TASK_NAMES = {
    "booking.checkpoint_operation_log",
    "booking.delete_expired_exports",
    "booking.delete_expired_notice_files",
    "booking.fail_lost_card_imports",
    "booking.purge_idempotent_requests",
    "booking.purge_operation_log",
    "booking.relay_mail_outbox",
    "booking.release_expired_holds",
    "booking.run_card_import",
    "booking.run_full_export",
    "booking.run_notice_print",
    "booking.send_booking_confirmation",
    "booking.send_daily_report",
    "booking.send_day_before_reminders",
    "booking.send_monthly_report",
    "console.tasks.record_heartbeat",
    "console.tasks.send_availability_reports",
    "tenants.for_each_tenant",
    "tenants.offboard",
}

# entry -> (task, per-tenant task or None, schedule)
BEAT = {
    "record-heartbeat": ("console.tasks.record_heartbeat", None, 60.0),
    "availability-report": (
        "console.tasks.send_availability_reports",
        None,
        crontab(hour=8, minute=30),
    ),
    "release-expired-holds": ("tenants.for_each_tenant", "booking.release_expired_holds", 60.0),
    "relay-mail-outbox": ("tenants.for_each_tenant", "booking.relay_mail_outbox", 60.0),
    "purge-operation-log": (
        "tenants.for_each_tenant",
        "booking.purge_operation_log",
        crontab(hour=3, minute=30),
    ),
    "checkpoint-operation-log": ("tenants.for_each_tenant", "booking.checkpoint_operation_log", 300.0),
    "delete-expired-exports": (
        "tenants.for_each_tenant",
        "booking.delete_expired_exports",
        crontab(hour=4, minute=0),
    ),
    "purge-idempotent-requests": (
        "tenants.for_each_tenant",
        "booking.purge_idempotent_requests",
        crontab(hour=4, minute=10),
    ),
    "delete-expired-notice-files": (
        "tenants.for_each_tenant",
        "booking.delete_expired_notice_files",
        crontab(minute=20),
    ),
    "fail-lost-card-imports": (
        "tenants.for_each_tenant",
        "booking.fail_lost_card_imports",
        crontab(minute=25),
    ),
    "day-before-reminders": (
        "tenants.for_each_tenant",
        "booking.send_day_before_reminders",
        crontab(hour=10, minute=0),
    ),
    "daily-report": ("tenants.for_each_tenant", "booking.send_daily_report", crontab(hour=18, minute=0)),
    "monthly-report": (
        "tenants.for_each_tenant",
        "booking.send_monthly_report",
        crontab(hour=8, minute=0, day_of_month=1),
    ),
}


def test_the_registered_task_names_are_the_pinned_set() -> None:
    app.loader.import_default_modules()
    registered = {name for name in app.tasks if not name.startswith("celery.")}
    assert registered == TASK_NAMES


def test_the_beat_schedule_is_the_pinned_one() -> None:
    from django.conf import settings

    actual = {
        entry: (spec["task"], (spec.get("args") or [None])[0], spec["schedule"])
        for entry, spec in settings.CELERY_BEAT_SCHEDULE.items()
    }
    assert actual == BEAT
    for task, per_tenant, _ in BEAT.values():
        assert task in TASK_NAMES and (per_tenant is None or per_tenant in TASK_NAMES)


def test_services_never_import_a_tasks_module() -> None:
    """One way only: a tasks module imports the services it calls; services queue tasks by name
    (booking.jobs.enqueue). Only the Celery app (by name, from strings) and other tasks modules reach them."""
    graph = grimp.build_graph("booking", "tenants", "console", "madoguchi", "integrations")
    for module in sorted(m for m in graph.modules if m.rsplit(".", 1)[-1] == "tasks"):
        importers = graph.find_modules_that_directly_import(module)
        assert {i for i in importers if not i.endswith(".tasks")} == set(), module


def test_no_module_of_the_product_is_longer_than_600_lines() -> None:
    long = {}
    for folder in PRODUCT_FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long[str(path.relative_to(REPO))] = lines
    assert long == {}


def test_the_import_contracts_hold_and_ignore_nothing() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = config["contracts"]
    assert {c["id"] for c in contracts} >= {
        "booking-layers",
        "no-cycles",
        "control-plane-to-silo",
        "silo-to-control-plane",
        "integrations-outside-world",
    }
    assert all("ignore_imports" not in c for c in contracts)
    # A new sub-package of booking must be given its layer (and so its place in the silo contracts).
    layers = next(c for c in contracts if c["id"] == "booking-layers")
    assert layers["exhaustive"] is True
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
