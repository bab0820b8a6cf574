"""A request's first run that `madoguchi.lost_connection` answers again (its connection was lost in a
failover) is no error of the service: its 500 is kept out of `django.request`'s log and out of Sentry.

A module of its own, importing nothing of Django's database layer: settings.LOGGING makes its filter while
the apps are not loaded yet."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Protocol


class FirstRun(Protocol):
    request: Any

    def answered_again(self, status: int) -> bool: ...

    def answered_again_after(self, error: BaseException) -> bool: ...


# The request whose first run is under way in this thread, set by LostConnectionRetryMiddleware.
first_run: ContextVar[FirstRun | None] = ContextVar("madoguchi_first_run", default=None)


class WithoutFirstRunsAnsweredAgain(logging.Filter):
    """`django.request` without the error record of a first run that is answered again."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = first_run.get()
        return not (
            run is not None
            and getattr(record, "request", None) is run.request
            and run.answered_again(int(getattr(record, "status_code", 0) or 0))
        )


def report_kept(hint: dict[str, Any]) -> bool:
    """Whether an error report is sent (integrations.sentry): not for a first run's lost connection that is
    answered again (the report is made while the exception is handled, before the answer is). Any other
    error of that run (logged by code that carried on, say) is reported."""
    run = first_run.get()
    exc_info = hint.get("exc_info") or (None, None, None)
    error = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
    return not (run is not None and isinstance(error, BaseException) and run.answered_again_after(error))
