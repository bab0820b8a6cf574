"""Real server processes for tests: a Celery worker on a queue of its own, on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The test database, as a subprocess must reach it (pytest-django renamed it for this run)."""
    db = settings.DATABASES["default"]
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass(frozen=True)
class Worker:
    queue: str
    process: subprocess.Popen[str]

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process.poll() is None, self.process.stdout.read() if self.process.stdout else ""
            assert time.monotonic() < deadline, f"the worker did not {what} within {seconds:.0f} s"
            time.sleep(0.2)


@contextmanager
def celery_worker() -> Iterator[Worker]:
    """A worker on a queue of its own, so that a developer's running worker cannot take the test's tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "madoguchi",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Worker(queue, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
