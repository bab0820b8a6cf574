"""A look at a connection's socket that never waits (issue 12): used to skip a round trip when a kept
connection has nothing new (the database health check, the watched numbers' subscription)."""

from __future__ import annotations

import select
from typing import Any


def has_something_to_read(sock: Any) -> bool:
    """Whether `sock` (a socket or a file descriptor) has something to read now: data, end of file, an error
    or a hang-up, which the read then tells apart. poll, not select: a worker holding many connections may
    give a socket a number past select's 1024. Raises OSError or ValueError for a socket already closed."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
