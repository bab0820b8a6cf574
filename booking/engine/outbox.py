"""The mail outbox (issue 11): no resident's mail is lost when Redis or the mail server is down.

**Writing.** A service writes the mail as an `OutboxMail` row inside the transaction of the change it
tells about (`queue_booking_mail`), so a booking and its confirmation are committed together or not at
all. After the commit it kicks the relay through Celery, best effort: with the broker down the kick fails,
is logged, and the booking stands; beat's relay every minute (`tenants.for_each_tenant` →
`booking.relay_mail_outbox` in each tenant's schema) sends the mail then.

**Relaying** (`do_relay_outbox`, in the current tenant's schema only):

1. *Claim* due rows in one short transaction: `SELECT … FOR UPDATE SKIP LOCKED`, then `status = sending`,
   `attempts + 1` and `next_attempt_at` pushed to the end of a lease. Two relays at once never claim the
   same row (the second skips the first's locked rows, and after the commit the row is no longer due).
2. *Send* outside any transaction (an SMTP wait holds no lock and no open transaction).
3. *Finish* with one conditional `UPDATE` (the row is still `sending` with this claim's attempt number):
   `sent` with its time, or, on an error, `pending` again after an exponential backoff (30 s, 1 min,
   2 min, … at most an hour), or `failed` after `MAX_ATTEMPTS` tries, logged and written to the
   operation log (as the worker) in the same transaction.

**At least once, duplicates only in one window.** A mail marked `sent` is never sent again. A worker
that dies after the mail server accepted a mail but before step 3 leaves the row `sending`; when the
lease runs out another relay claims it and sends it a second time. That crash window is the only way a
resident gets a mail twice; SMTP offers no way to ask the server whether it already took one. A slow relay
cannot make one: each mail's lease is renewed (a conditional `UPDATE`) just before it is sent, a mail whose
lease another relay took meanwhile is skipped, and a relay stops claiming after half a lease.

The mail is written from the booking when it is sent (`notifications.compose_booking_mail`): the tenant's
current wording, and nothing if the booking no longer is what the mail says (a booking cancelled before
its confirmation went out gets only the cancellation). `last_error` keeps the error's kind and SMTP code,
never its message, which may name the address.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import DatabaseError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from booking.audit import oplog
from booking.engine import notifications
from booking.engine.retry import is_lost_connection
from booking.jobs.enqueue import queue_on_commit
from booking.models import Booking, OutboxMail

logger = logging.getLogger(__name__)

RELAY_TASK = "booking.relay_mail_outbox"
# How long a claimed row is a relay's own; longer than any SMTP exchange (a worker that has not finished
# by then is taken for dead). A shorter lease narrows nothing: only a crash makes a duplicate.
LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8  # 30 s + 1 + 2 + 4 + 8 + 16 + 32 min: about an hour of outage before a mail fails
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
BATCH = 50
MAX_BATCHES = 20  # per run; what is left is due for the next minute's run

_OPEN = (OutboxMail.Status.PENDING, OutboxMail.Status.SENDING)
# Marks a lost connection's error met before the mail was handed to the mail server (which needs no
# database): that mail is given back with the rest, not left to its lease.
_UNSENT = "madoguchi_outbox_unsent"


def queue_booking_mail(booking: Booking, kind: str) -> OutboxMail | None:
    """Write the mail about `booking` (`kind`) in the caller's transaction and kick the relay after the
    commit. A booking without an address gets no row."""
    if not booking.contact_email:
        return None
    row = OutboxMail.objects.create(booking=booking, kind=kind, language=booking.language)
    kick_relay()
    return row


def kick_relay() -> None:
    """Ask a worker to relay the outbox once the transaction commits; a broker outage only delays the mail
    (beat's relay sends it), so the failure is logged and never reaches the resident."""

    def kick_failed(exc: Exception) -> None:
        logger.warning("mail relay not kicked (broker unreachable); beat's relay will send: %r", exc)

    queue_on_commit(RELAY_TASK, on_failure=kick_failed)


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed try: 30 s, doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def do_relay_outbox(now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Send the current tenant's due mails; the number sent. Safe to run in several workers at once."""
    now = now or timezone.now()
    started = timezone.now()
    sent = 0
    for _round in range(MAX_BATCHES):
        if timezone.now() - started > LEASE / 2:
            break  # a slow mail server: leave the rest to the next relay rather than outrun our leases
        claimed = _claim(now, batch)
        for index, row in enumerate(claimed):
            try:
                sent += _deliver(row, now)
            except DatabaseError as error:
                if is_lost_connection(error):
                    _give_back(claimed[index if getattr(error, _UNSENT, False) else index + 1 :])
                raise
        if len(claimed) < batch:
            break
    return sent


def _give_back(rows: list[OutboxMail]) -> None:
    """A relay that lost its database connection (a failover) gives the mails it had not sent back, on a
    new connection (which waits for the new primary), so they go out with the next relay instead of after
    the lease. A mail lost after its send stays leased: it may have gone out (the lease guards a copy)."""
    if not rows:
        return
    connection.close()
    try:
        for row in rows:
            _ours(row).update(
                status=OutboxMail.Status.PENDING, attempts=F("attempts") - 1, next_attempt_at=timezone.now()
            )
    except DatabaseError:
        logger.warning("outbox: %s claimed mails left to their lease (no database)", len(rows))


def _claim(now: dt.datetime, batch: int) -> list[OutboxMail]:
    """Lease a batch of due mails to this relay. The rows are read in the claim's own transaction: a relay
    whose connection is lost (a failover) after the claim committed would otherwise leave its mails leased,
    unsent, for the whole LEASE (ten minutes) before another relay may take them."""
    rows: list[OutboxMail] = []
    try:
        with transaction.atomic():
            rows = list(
                OutboxMail.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("booking__slot__place")
                .filter(status__in=_OPEN, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk")[:batch]
            )
            if not rows:
                return []
            lease_until = max(now, timezone.now()) + LEASE
            OutboxMail.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=OutboxMail.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=lease_until
            )
    except DatabaseError as error:
        if rows and is_lost_connection(error):
            # Its COMMIT may have been lost with the connection, carried out or not: whatever it leased is
            # given back (nothing was sent), else those mails would wait out the lease.
            for row in rows:
                row.status, row.attempts = OutboxMail.Status.SENDING, row.attempts + 1
            _give_back(rows)
        raise
    for row in rows:  # as the UPDATE left them (the rows were locked: nobody else changed them)
        row.status, row.next_attempt_at = OutboxMail.Status.SENDING, lease_until
        row.attempts += 1
    return sorted(rows, key=lambda row: row.pk)


def _deliver(row: OutboxMail, now: dt.datetime) -> int:
    if row.attempts > MAX_ATTEMPTS:  # claimed again and again by workers that died: give up
        _fail(row, "WorkerLost", now)
        return 0
    # The lease runs from this mail's own start, not the batch's: taken over meanwhile (a relay slower than
    # the lease), it is the other relay's to send, never both.
    try:
        renewed = _ours(row).update(next_attempt_at=max(now, timezone.now()) + LEASE)
    except DatabaseError as error:
        _unsent_if_lost(error)
        raise
    if not renewed:
        return 0
    try:
        mail = (
            notifications.compose_booking_mail(row.booking, row.kind, row.language) if row.booking else None
        )
        if mail is None:
            _finish(row, OutboxMail.Status.SKIPPED)
            return 0
        notifications.send_mail(mail)
    except Exception as exc:  # SMTP errors are OSErrors; anything else is retried alike, then fails
        if isinstance(exc, DatabaseError) and _unsent_if_lost(exc):
            # composing it (the mail's texts): the HA rehearsal's leader crash left such a mail leased, and
            # unsent, for ten minutes (and its failure could not be recorded on the lost connection either)
            raise
        _attempt_failed(row, exc, now)
        return 0
    _finish(row, OutboxMail.Status.SENT, sent_at=timezone.now())
    return 1


def _unsent_if_lost(error: DatabaseError) -> bool:
    if not is_lost_connection(error):
        return False
    setattr(error, _UNSENT, True)
    return True


def _ours(row: OutboxMail) -> QuerySet[OutboxMail]:
    """This claim's row: still `sending` with the attempt number the claim gave it."""
    return OutboxMail.objects.filter(pk=row.pk, status=OutboxMail.Status.SENDING, attempts=row.attempts)


def _finish(row: OutboxMail, status: str, sent_at: dt.datetime | None = None) -> None:
    done = _ours(row).update(status=status, sent_at=sent_at, last_error="")
    if not done:
        logger.warning("outbox mail %s was claimed again before this relay finished", row.pk)


def _describe(exc: Exception) -> str:
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


def _attempt_failed(row: OutboxMail, exc: Exception, now: dt.datetime) -> None:
    error = _describe(exc)
    if row.attempts >= MAX_ATTEMPTS:
        logger.error("outbox mail %s failed for good after %s tries", row.pk, row.attempts, exc_info=exc)
        _fail(row, error, now)
        return
    wait = retry_delay(row.attempts)
    logger.warning("outbox mail %s not sent (%s); retry in %s", row.pk, error, wait)
    _ours(row).update(status=OutboxMail.Status.PENDING, next_attempt_at=now + wait, last_error=error)


def _fail(row: OutboxMail, error: str, now: dt.datetime) -> None:
    with transaction.atomic():
        if _ours(row).update(status=OutboxMail.Status.FAILED, last_error=error):
            detail = {"kind": row.kind, "booking": row.booking_id, "attempts": row.attempts, "error": error}
            oplog.record(oplog.WORKER, "mail.failed", f"outbox {row.pk}", detail, now=now)


def do_queue_day_before_reminders(now: dt.datetime | None = None) -> int:
    """Queue the reminder of everyone booked for tomorrow who gave an address, once each: the booking's
    `reminder_sent_at` and its outbox row in one transaction. The number queued; the relay sends them."""
    now = now or timezone.now()
    queued = 0
    for booking in notifications.reminders_due(now):
        with transaction.atomic():
            marked = Booking.objects.filter(pk=booking.pk, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            )
            if marked:
                OutboxMail.objects.create(
                    booking=booking, kind=OutboxMail.Kind.REMINDER, language=booking.language
                )
                queued += 1
    return queued
