"""Idempotent booking writes (issue 11): a retried request never books twice and gets the original answer.

The API takes an `Idempotency-Key` header; web forms carry a one-time token made when the page is rendered
(`form_token`). `do_once` inserts the key's row *before* the write, in the write's own transaction: a
concurrent duplicate's insert waits on the unique (scope, key) until the first commits (then it replays the
answer) or rolls back (then it does the write itself). A refused write rolls its row back with it, so only
answers of committed writes are kept, and a retry of a refused request is simply tried again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from booking.engine.retry import retry_on_lost_connection
from booking.models import IdempotentRequest

KEEP = dt.timedelta(hours=24)  # a key's answer is kept a day; a form token is honoured as long
# How long a duplicate waits for the first request with its key before it is told to retry: a booking
# transaction takes milliseconds, so this is only reached when something holds the first one up.
WAIT = "10s"
RETRY_AFTER_SECONDS = 2
FORM_TOKEN_FIELD = "form_token"  # noqa: S105 (a field name, no secret)
_FORM_SALT = "booking.idempotency.form"
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Answer:
    """What the first request answered: an HTTP status with a JSON body (API), or where a form went."""

    status: int
    body: Any = None
    redirect_to: str = ""


class KeyReused(Exception):
    """The key was used before for another request (another body, path or method)."""


class KeyInProgress(Exception):
    """The first request with this key is still running."""

    retry_after = RETRY_AFTER_SECONDS


def valid_key(raw: str | None) -> bool:
    """1–255 visible ASCII characters (the Idempotency-Key header)."""
    return raw is not None and 1 <= len(raw) <= 255 and all("!" <= ch <= "~" for ch in raw)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was used for: method, path and the body (JSON compared by value, not spelling)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:  # not JSON (or empty): the bytes as sent
        canonical = body
    digest = hashlib.sha256(canonical).hexdigest()
    return hashlib.sha256(f"{method.upper()} {path} {digest}".encode()).hexdigest()


def form_fingerprint(method: str, path: str, fields: Mapping[str, list[str]]) -> str:
    """A web form's request: its fields without the CSRF token (masked anew on every render) or the form
    token itself (it is the key)."""
    kept = {
        name: values
        for name, values in fields.items()
        if name not in {"csrfmiddlewaretoken", FORM_TOKEN_FIELD}
    }
    return fingerprint(method, path, json.dumps(kept, sort_keys=True).encode())


def form_token(purpose: str) -> str:
    """A one-time token for a form that writes (hidden field `form_token`), made when the page is rendered."""
    return signing.dumps({"p": purpose, "n": secrets.token_urlsafe(18)}, salt=_FORM_SALT, compress=False)


def form_key(raw: str | None, purpose: str) -> str | None:
    """The key a posted form token stands for; None for no token, a forged or foreign one or an old one (the
    form then works as it did before tokens: its own checks keep it from writing twice)."""
    if not raw or len(raw) > 200:
        return None
    try:
        data = signing.loads(raw, salt=_FORM_SALT, max_age=KEEP)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or data.get("p") != purpose or not isinstance(data.get("n"), str):
        return None
    return f"{purpose}:{data['n']}"


def do_once(
    scope: str, key: str | None, print_: str, write: Callable[[], Answer], *, raises_refusals: bool = False
) -> tuple[Answer, bool]:
    """Do `write` once for (scope, key): (its answer, False) the first time, (the same answer, True) for a
    repeat. No key: the write, as without idempotency. Raises KeyReused, KeyInProgress, or what `write`
    raises (then nothing is kept and nothing written).

    `raises_refusals`: `write` answers every refusal by raising it (the API), never by catching one and
    answering on: the services it calls then need no savepoint of their own (`savepoint_needed`)."""
    if key is None:
        return write(), False
    # The whole keyed transaction runs again if its connection is lost (issue 11; the services' own retry
    # cannot act inside it). A lost COMMIT answer needs nothing more: the retry finds the kept answer.
    return retry_on_lost_connection(lambda: _once(scope, key, print_, write, raises_refusals))


def savepoint_needed() -> bool:
    """Whether a service's atomic block inside the current transaction needs a savepoint: not inside a
    keyed write that raises its refusals, where any refusal rolls back the key's whole transaction (its
    row with it) anyway. Two round trips fewer per booking."""
    return not (_RAISES_REFUSALS.get() and connection.in_atomic_block)


# Set while do_once runs a `raises_refusals` write in the key's transaction.
_RAISES_REFUSALS: ContextVar[bool] = ContextVar("idempotent_write_raises_refusals", default=False)


def _once(
    scope: str, key: str, print_: str, write: Callable[[], Answer], raises_refusals: bool
) -> tuple[Answer, bool]:
    with transaction.atomic():
        claimed = _claim(scope, key, print_)
        if isinstance(claimed, IdempotentRequest):
            if claimed.fingerprint != print_:
                raise KeyReused
            return Answer(claimed.status_code, claimed.body, claimed.redirect_to), True
        marked = _RAISES_REFUSALS.set(raises_refusals)
        try:
            answer = write()
        finally:
            _RAISES_REFUSALS.reset(marked)
        IdempotentRequest.objects.filter(pk=claimed).update(
            status_code=answer.status, body=answer.body, redirect_to=answer.redirect_to
        )
    return answer, False


def form_once(
    request: HttpRequest, scope: str, purpose: str, write: Callable[[], Answer]
) -> tuple[Answer, bool]:
    """`do_once` for a posted web form carrying the token `form_token(purpose)` made: a double click, a
    resubmit after Back or a retry after a lost response gets the first answer (where it went)."""
    key = form_key(request.POST.get(FORM_TOKEN_FIELD), purpose)
    print_ = form_fingerprint(request.method or "POST", request.get_full_path(), dict(request.POST.lists()))
    return do_once(scope, key, print_, write)


def _claim(scope: str, key: str, print_: str) -> int | IdempotentRequest:
    """Insert the key's row (its id: this request does the write), or the row another request committed.
    The insert waits while another transaction holds an uncommitted row with the key, up to WAIT.

    One `INSERT … ON CONFLICT DO NOTHING`: a duplicate costs no error, so no savepoint around it either; a
    conflicting row that commits meanwhile is read by the next statement (READ COMMITTED)."""
    waits = _lock_timeout_differs()
    try:
        with connection.cursor() as cursor:
            if waits:
                cursor.execute(  # the setting read before it is set (OFFSET 0: the subquery runs first)
                    "SELECT before, set_config('lock_timeout', %s, true)"
                    " FROM (SELECT current_setting('lock_timeout') AS before OFFSET 0) AS setting",
                    [WAIT],
                )
                (before, _set) = cursor.fetchone()
            cursor.execute(
                f"INSERT INTO {IdempotentRequest._meta.db_table}"  # noqa: S608 (the model's own table name)
                " (scope, key, fingerprint, status_code, body, redirect_to, created_at)"
                " VALUES (%s, %s, %s, 0, NULL, '', %s) ON CONFLICT (scope, key) DO NOTHING RETURNING id",
                [scope, key, print_, timezone.now()],
            )
            inserted = cursor.fetchone()
            if waits:  # the booking's own locks wait as they always did
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except OperationalError as error:
        if is_lock_wait_over(error):
            raise KeyInProgress from error
        raise
    if inserted is not None:
        return int(inserted[0])
    return IdempotentRequest.objects.get(scope=scope, key=key)


def claim_waits_as_configured() -> bool:
    """Whether a claim made in SQL elsewhere (booking.engine.one_call) waits as `_claim` does, with no
    setting changed: this connection's lock_timeout is WAIT."""
    return not _lock_timeout_differs()


def is_lock_wait_over(error: BaseException) -> bool:
    """Whether `error` is a lock wait ended by lock_timeout (`_claim` answers KeyInProgress to it)."""
    return getattr(error.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE


def _lock_timeout_differs() -> bool:
    """Whether the connection's lock_timeout is not WAIT already. Every connection is opened with
    `-c lock_timeout=…` (madoguchi.database; 10s by default, as WAIT), so the usual answer costs no round
    trip; a connection configured otherwise (or none) sets WAIT for the claim and puts its own back."""
    options = str(connection.settings_dict.get("OPTIONS", {}).get("options", ""))
    configured = [part.split("=", 1)[1] for part in options.split() if part.startswith("lock_timeout=")]
    return configured[-1:] != [WAIT]


def do_purge_expired(now: dt.datetime | None = None) -> int:
    """Forget answers older than a day (the daily sweep); a key may then be used again."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
