"""How services queue background work: by the task's registered name, once the transaction commits.

One way only (HackSoft's rule): a task module imports the services it calls; a service never imports a task
module. It names the task instead, and Celery's registry (filled from each product's `tasks.py`) finds it.
Queued after commit, a worker never looks for a row that is not there yet, and a rolled-back change queues
nothing. `.delay` on the registered task keeps the tenant's schema with the message (tenant-schemas-celery)
and honours eager mode in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task, current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def queue_on_commit(
    task_name: str, *args: object, on_failure: Callable[[Exception], None] | None = None
) -> None:
    """Queue `task_name(*args)` after the current transaction commits (at once outside one).

    `on_failure` decides what a broker outage means: without it the error propagates (the caller's request
    fails after its commit, as before); with it, the caller's data stands and the callback logs or records.
    """

    def send() -> None:
        try:
            registered_task(task_name).delay(*args)
        except Exception as exc:
            if on_failure is None:
                raise
            on_failure(exc)

    transaction.on_commit(send)


def registered_task(task_name: str) -> Task:
    """The task registered under `task_name`. A web process has not imported the products' tasks modules
    (the worker does at start-up): the first look-up runs Celery's autodiscovery, which imports them."""
    if task_name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[task_name]
