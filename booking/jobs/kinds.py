"""What a sort of background job is (a card import, a notice print run, a full export), as the runner
(`booking.jobs.runner`) needs to know it. Each product declares its own kind beside its service.

Every kind's model has `requested_at`, `status` (queued → running → done or failed), `error`, `finished_at`
and the fields naming its stored files; a kind whose files are downloadable for a while also has
`expires_at`. The models stay as they are: the kind says which of their fields play which part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import models

J = TypeVar("J", bound=models.Model)

# (action, target, detail): one operation-log entry by the worker. The runner sits beside booking.audit and
# may not import it, so each kind hands the runner its writer (`functools.partial(oplog.record, worker)`).
OperationLog = Callable[[str, str, dict[str, Any]], object]


@dataclass(frozen=True)
class Reason:
    """Why a job failed, Japanese first: what staff read on the job's page."""

    ja: str
    en: str

    def __str__(self) -> str:
        return f"{self.ja} / {self.en}"


@dataclass(frozen=True)
class Failure:
    """A failed job as its row keeps it: `error`, any other `fields` of the kind (a card import's list of
    problems), and the `detail` of the operation-log entry."""

    error: str
    fields: Mapping[str, object] = field(default_factory=dict)
    detail: Mapping[str, object] = field(default_factory=dict)


def plain_failure(reason: Reason) -> Failure:
    return Failure(str(reason))


class JobFailed(Exception):
    """Raised by a job's work for a failure staff can act on (a wrong file, cards that changed): the runner
    records it and the task ends quietly. Any other exception is recorded as unexpected and raised again."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        super().__init__(failure.error)


@dataclass(frozen=True)
class JobKind(Generic[J]):
    """One sort of background job.

    `name` keys its progress in the cache ("card-import": keep it, running jobs publish under it).
    `files_live`: how long a finished job's files stay downloadable (its `expires_at`); None when the files
    are only the job's input, deleted as soon as it ends whatever happened. `lost_after`: a job still queued
    or running this long after it was asked for lost its worker; it is closed and its files deleted.
    """

    name: str
    model: type[J]
    target: str  # the operation log's target, before the job's id: "card import" → "card import 7"
    file_fields: tuple[str, ...]
    files_live: dt.timedelta | None
    lost_after: dt.timedelta
    unexpected: str  # Japanese, for an unexpected error: "予期しないエラーで取り込めませんでした"
    interrupted: Reason  # the error of a lost job
    failed_action: str  # the operation log's action when a job fails
    log: OperationLog
    lost_action: str = ""  # the action when a job is found lost; the failed action if empty
    failure: Callable[[Reason], Failure] = plain_failure  # how the row keeps a reason

    def rows(self) -> models.QuerySet[J]:
        """Every job of the kind."""
        return self.model._default_manager.all()

    def target_of(self, job_id: int) -> str:
        return f"{self.target} {job_id}"
