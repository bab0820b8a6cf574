"""What the pages of background jobs (a card import, a notice run) share: the progress bar's figures while
the job is under way, and the page reloading itself meanwhile."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from booking.models import JobStatus

UNDER_WAY = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


def progress(status: str, done: int, total: int) -> dict[str, Any]:
    """The template's `running` (queued or running), `done`, `total` and `percent`."""
    return {
        "running": status in UNDER_WAY,
        "done": done,
        "total": total,
        "percent": done * 100 // total if total else 0,
    }


def reload_every(response: HttpResponse, seconds: int) -> HttpResponse:
    """The standard Refresh header: the page reloads itself while the job runs, no JavaScript needed (the
    same as <meta http-equiv="refresh">, which would belong in the shared page head)."""
    response["Refresh"] = str(seconds)
    return response
