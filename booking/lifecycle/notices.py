"""Printing notice letters (交付通知書, AD-03): new passwords, the move to "notice sent", the files.

Passwords are stored only as HMAC digests, so a letter's password is made when the letter is printed:
printing gives every card in the run a new password (the old one stops working and the card's API
sessions end). That is also how a letter is reprinted or reissued.

`do_print_notices` is all or nothing: the cards are locked, checked, given passwords, moved and their
letters written to the export storage inside one transaction; if anything fails the transaction rolls back
and the files already written are deleted, so no letter carries a password the database does not know.
The files (PDF and the print vendor's CSV, docs/formats/notice-letters.md) expire after DOWNLOAD_DAYS.

Large runs go to a Celery worker (`do_request_notice_run` → `run_notice_job`). A run is a kind of
`booking.jobs` job (`NOTICE_RUNS`): the runner moves it, publishes its progress to the cache (Redis), which
other connections see while the transaction is still open, deletes the files of expired runs, and closes a run
whose worker died.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from django.db import connection, transaction
from django.utils import timezone, translation

from booking.audit import oplog
from booking.cards import credentials, notes
from booking.cards.moves import do_move_cards, do_record_event
from booking.engine.queries import booking_rules
from booking.engine.texts import bring_for
from booking.jobs import runner
from booking.jobs.enqueue import queue_on_commit
from booking.jobs.kinds import Failure, JobFailed, JobKind, Reason
from booking.lib.phone import format_phone
from booking.lifecycle.queries import citizen_site_url
from booking.models import BookingSettings, Card, CardEvent, CitizenToken, JobStatus, NoticeRun, Service
from booking.rules.card_states import PRINTABLE_STATES, CardState
from integrations import notice_letters, storage
from tenants.db import tenant_connection
from tenants.queries import current_tenant_name

DOWNLOAD_DAYS = 7
PRINT_NOTE = notes.PRINT
REPRINT_NOTE = notes.REPRINT
_CHUNK = 5000
_FETCH_CHUNK = 2000
_SHOWN = 20

NOTICE_RUNS: JobKind[NoticeRun] = JobKind(
    name="notice-run",
    model=NoticeRun,
    target="notice run",
    file_fields=("pdf_key", "csv_key"),
    # The files hold the cards' only clear passwords: downloadable for a week, then deleted.
    files_live=dt.timedelta(days=DOWNLOAD_DAYS),
    # A queued or running run older than this was lost (worker killed): its files, if any, are deleted.
    lost_after=dt.timedelta(hours=12),
    unexpected="予期しないエラーで印刷できませんでした",
    interrupted=Reason(
        "処理が中断されました。もう一度印刷してください", "the run was interrupted; print again"
    ),
    failed_action="notices.failed",
    lost_action="notices.interrupted",
    log=partial(oplog.record, oplog.WORKER),
)
STALE_AFTER = NOTICE_RUNS.lost_after


class NoticePrintError(Exception):
    """The run cannot be made; nothing was changed. `cards` names the cards concerned."""

    def __init__(self, ja: str, en: str, cards: Sequence[str] = ()) -> None:
        self.ja, self.en, self.cards = ja, en, list(cards)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        shown = self.cards[:_SHOWN]
        more = len(self.cards) - len(shown)
        tail = [f"ほか{more}枚 / and {more} more"] if more > 0 else []
        return "\n".join([f"{self.ja} / {self.en}", *shown, *tail])

    @property
    def shown(self) -> str:
        """The message in the page's language only (`message` keeps both, for a worker's stored error)."""
        from django.utils.translation import get_language, gettext

        english = (get_language() or "ja").startswith("en")
        more = len(self.cards) - len(self.cards[:_SHOWN])
        tail = [gettext("ほか%(count)d枚") % {"count": more}] if more > 0 else []
        return "\n".join([self.en if english else self.ja, *self.cards[:_SHOWN], *tail])


@dataclass(frozen=True)
class PrintResult:
    run: NoticeRun
    letters: int
    new: int  # set up or returned → notice sent
    reprinted: int  # already notice sent: a new letter and password
    outside_font: int  # letters showing 〓 for a character the PDF font lacks (the CSV has it right)


# --- progress ------------------------------------------------------------------------------------------


def _publish(run_id: int, done: int) -> None:
    runner.publish(NOTICE_RUNS, run_id, done)


def run_progress(run: NoticeRun) -> int:
    """Letters made so far: the published figure while the run is open, the run's own after."""
    published = runner.published(NOTICE_RUNS, run.pk, run.status)
    if published is not None:
        return min(int(published), run.letters)
    return run.letters_done


# --- the run -------------------------------------------------------------------------------------------


def storage_keys(run: NoticeRun, volume_size: int = notice_letters.VOLUME_SIZE) -> tuple[str, str]:
    """(PDF or ZIP of volumes, vendor CSV): under the tenant's own folder, named by the run."""
    base = f"{tenant_connection().schema_name}/notices/{run.requested_at:%Y%m%dT%H%M%S}-{run.pk}"
    return f"{base}.{notice_letters.pdf_extension(run.letters, volume_size)}", f"{base}-vendor.csv"


def do_request_notice_run(
    card_ids: Iterable[int],
    *,
    actor: oplog.Actor,
    now: dt.datetime | None = None,
    reprints: int | None = None,
) -> NoticeRun:
    """Queue a print run for the worker, after checking the cards now (the run checks them again).
    `reprints`: how many of the cards the confirmed page said were reprints; another number now (a run made
    since, by this page sent again or by another person) is refused, as a reprint voids the letter sent."""
    now = now or timezone.now()
    ids = _ids(card_ids)
    states = _states(ids, lock=False)
    _check(states, ids)
    found = sum(1 for state, _application_id, _postal in states.values() if state == CardState.NOTICE_SENT)
    if reprints is not None and found != reprints:
        raise NoticePrintError(
            f"確認のあとで、再印刷になるカードが{reprints}枚から{found}枚に変わりました（別の印刷が先に"
            "行われたなど）。何も変更していません。件数をもう一度確認してください",
            f"Since the counts were confirmed, the cards that would be reprinted went from {reprints} to "
            f"{found} (another run was made first, for instance); nothing was changed. "
            "Check the counts again",
        )
    with transaction.atomic():
        run = NoticeRun.objects.create(requested_by=actor.username, requested_at=now, letters=len(ids))
        oplog.record(actor, "notices.request", f"notice run {run.pk}", {"letters": len(ids)}, now=now)
        who = [actor.user_id, actor.username, actor.address]
        queue_on_commit("booking.run_notice_print", run.pk, ids, who)
    return run


def run_notice_job(run_id: int, card_ids: list[int], actor: oplog.Actor) -> NoticeRun:
    """The worker's part: print the queued run; the run row says how it went."""
    # The keys are written with the claim, before the files, so that a worker killed mid-run leaves files the
    # lost-run sweep finds.
    return runner.run(
        NOTICE_RUNS,
        run_id,
        partial(_print_run, card_ids=card_ids, actor=actor),
        claim=lambda run: dict(zip(NOTICE_RUNS.file_fields, storage_keys(run), strict=True)),
    )


def _print_run(run: NoticeRun, *, card_ids: list[int], actor: oplog.Actor) -> None:
    _publish(run.pk, 0)
    try:
        do_print_notices(card_ids, actor=actor, run=run, unchanged_since=run.requested_at)
    except NoticePrintError as exc:
        raise JobFailed(Failure(exc.message)) from exc


def do_print_notices(
    card_ids: Iterable[int],
    *,
    actor: oplog.Actor,
    now: dt.datetime | None = None,
    run: NoticeRun | None = None,
    unchanged_since: dt.datetime | None = None,
    volume_size: int = notice_letters.VOLUME_SIZE,
) -> PrintResult:
    """New passwords and letters for the cards, all or nothing (NoticePrintError naming the cards).

    Cards set up or returned move to "notice sent"; cards already "notice sent" stay there and get a
    reprint event. `unchanged_since`: refuse cards with any history after that time (another run printed
    them, or they were booked, since the run was asked for), so that a double submission cannot silently
    invalidate the letters of the first run. `run`: the queued run to fill (else one is made).
    """
    now = now or timezone.now()
    ids = _ids(card_ids)
    target = storage.export_storage()
    keys: list[str] = []
    try:
        with transaction.atomic():
            cards = _states(ids, lock=True)
            _check(cards, ids)
            if unchanged_since is not None:
                _check_unchanged(ids, unchanged_since)
            if run is None:
                run = NoticeRun.objects.create(
                    requested_by=actor.username, requested_at=now, status=JobStatus.RUNNING, letters=len(ids)
                )
            keys = list(storage_keys(run, volume_size))
            passwords = _new_passwords(ids)
            fresh = [pk for pk, (state, *_rest) in cards.items() if state != CardState.NOTICE_SENT]
            again = [pk for pk, (state, *_rest) in cards.items() if state == CardState.NOTICE_SENT]
            for chunk in _chunks(fresh):
                do_move_cards(chunk, CardState.NOTICE_SENT, actor=actor.username, note=PRINT_NOTE, now=now)
            _record_reprints(again, actor.username, now)
            order = sorted(ids, key=lambda pk: (cards[pk][2], cards[pk][1]))  # postal code, application ID
            written = notice_letters.write_files(
                target,
                pdf_key=keys[0],
                csv_key=keys[1],
                letters=_letters(order, passwords),
                count=len(ids),
                issuer=_issuer(now),
                volume_size=volume_size,
                progress=lambda done: _publish(run.pk, done),
            )
            runner.finish(
                NOTICE_RUNS, run, letters=len(ids), letters_done=len(ids), pdf_key=keys[0], csv_key=keys[1]
            )
            detail = {
                "letters": len(ids),
                "new": len(fresh),
                "reprinted": len(again),
                "volumes": written.volumes,
                "outside_font": written.outside_font,
            }
            oplog.record(actor, "notices.print", f"notice run {run.pk}", detail)
    except BaseException:
        notice_letters.delete_files(target, keys)
        raise
    run.refresh_from_db()
    return PrintResult(run, len(ids), len(fresh), len(again), written.outside_font)


def _ids(card_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(pk) for pk in card_ids})
    if not ids:
        raise NoticePrintError("印刷するカードがありません", "no cards to print")
    return ids


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


_CardRow = tuple[str, str, str]  # state, application ID, postal code


def _states(ids: list[int], *, lock: bool) -> dict[int, _CardRow]:
    """What the run needs of each card, without loading whole rows (a run may hold 100,000 cards)."""
    found: dict[int, _CardRow] = {}
    for chunk in _chunks(ids):
        cards = Card.objects.filter(pk__in=chunk).order_by("pk")
        if lock:
            cards = cards.select_for_update()
        for pk, state, application_id, postal_code in cards.values_list(
            "pk", "state", "application_id", "postal_code"
        ):
            found[pk] = (state, application_id, postal_code)
    return found


def _check(cards: dict[int, _CardRow], ids: list[int]) -> None:
    missing = [str(pk) for pk in ids if pk not in cards]
    if missing:
        raise NoticePrintError(
            f"{len(missing)}枚のカードが見つかりません（削除されました）。何も変更していません",
            f"{len(missing)} card(s) no longer exist; nothing was changed",
            [f"id {pk}" for pk in missing],
        )
    refused = [
        f"{application_id}: 「{CardState(state).label}」"
        for state, application_id, _ in (cards[pk] for pk in ids)
        if state not in PRINTABLE_STATES
    ]
    if refused:
        allowed = "・".join(str(CardState(state).label) for state in sorted(PRINTABLE_STATES))
        with translation.override("en"):  # the English line names the states as the English pages do
            allowed_en = ", ".join(str(CardState(state).label) for state in sorted(PRINTABLE_STATES))
        raise NoticePrintError(
            f"{len(refused)}枚のカードは通知書を印刷できる状態（{allowed}）ではありません。何も変更していません",
            f"{len(refused)} card(s) are not in a state a notice letter can be printed in "
            f"({allowed_en}); nothing was changed",
            refused,
        )


def _check_unchanged(ids: list[int], since: dt.datetime) -> None:
    changed: list[str] = []
    for chunk in _chunks(ids):
        events = CardEvent.objects.filter(card_id__in=chunk, at__gt=since)
        changed.extend(events.order_by("card_id").values_list("card__application_id", flat=True).distinct())
    if changed:
        raise NoticePrintError(
            f"印刷の依頼のあとで{len(changed)}枚のカードに変更がありました（別の印刷・予約など）。"
            "何も変更していません。カードを選び直してください",
            f"{len(changed)} card(s) changed after this run was asked for (another print run, a booking…); "
            "nothing was changed, select the cards again",
            changed,
        )


def _new_passwords(ids: list[int]) -> dict[int, str]:
    """A new password per card; the database gets only its digest, and the card's API sessions end.

    One UPDATE per chunk from arrays, not `bulk_update`: that builds a CASE with a branch per card, which
    Django assembles at about 0.25 ms a card (25 s for 100,000; bench/notice_letters_bench.py).
    """
    passwords = {pk: credentials.new_password() for pk in ids}
    table = connection.ops.quote_name(Card._meta.db_table)
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            digests = [credentials.password_digest(passwords[pk]) for pk in chunk]
            cursor.execute(
                f"UPDATE {table} AS card SET password_digest = new.digest "  # noqa: S608 - our own table name
                "FROM unnest(%s::bigint[], %s::text[]) AS new(id, digest) WHERE card.id = new.id",
                [chunk, digests],
            )
    for chunk in _chunks(ids):
        CitizenToken.objects.filter(card_id__in=chunk).delete()
    return passwords


def _record_reprints(ids: list[int], actor: str, now: dt.datetime) -> None:
    for pk in ids:
        do_record_event(Card(pk=pk, state=CardState.NOTICE_SENT), actor=actor, note=REPRINT_NOTE, now=now)
    today = timezone.localdate(now)
    for chunk in _chunks(ids):
        Card.objects.filter(pk__in=chunk).update(notice_sent_on=today)


def _letters(order: list[int], passwords: dict[int, str]) -> Iterator[notice_letters.Letter]:
    """The letters in print order, read a chunk at a time (names and addresses are not all kept)."""
    fields = ("pk", "application_id", "reservation_number", "name", "postal_code", "address")
    for start in range(0, len(order), _FETCH_CHUNK):
        chunk = order[start : start + _FETCH_CHUNK]
        rows = {row[0]: row for row in Card.objects.filter(pk__in=chunk).values_list(*fields)}
        for pk in chunk:
            _, application_id, number, name, postal_code, address = rows[pk]
            yield notice_letters.Letter(application_id, number, passwords[pk], name, postal_code, address)


CARD_ISSUANCE = "card_issuance"  # the service a notice letter invites the resident to book


def _issuer(now: dt.datetime) -> notice_letters.Issuer:
    rules = booking_rules()
    # The letter is for collecting the card: what to bring for card issuance (its own text, else the general)
    issuance = Service.objects.filter(code=CARD_ISSUANCE).first()
    return notice_letters.Issuer(
        municipality=current_tenant_name(),
        booking_url=citizen_site_url(),
        bring=bring_for(rules, issuance, "ja").text,
        issued_on=timezone.localdate(now),
        inquiry=letter_inquiry(rules),
    )


def letter_inquiry(rules: BookingSettings) -> str:
    """The call center on the letter, after the municipality's name: "コールセンター 075-123-4567（平日
    9:00〜17:00）"; empty while no number is set (the letter then names the municipality only)."""
    if not rules.callcenter_phone:
        return ""
    hours = rules.callcenter_hours.strip()
    return f"コールセンター {format_phone(rules.callcenter_phone)}" + (f"（{hours}）" if hours else "")


# --- the files -----------------------------------------------------------------------------------------


def do_delete_notice_files(run: NoticeRun, *, actor: oplog.Actor) -> bool:
    """Staff delete a run's files once the letters are printed (they hold the passwords); False (nothing
    logged) when they were deleted already (a second click, another tab, the expiry sweep)."""
    with transaction.atomic():
        # Deleted before the commit: should the commit fail, the row still names files that are gone, and the
        # download answers 410, which is better than files with passwords that nothing points to any more.
        if not runner.discard_files(NOTICE_RUNS, run.pk, expires_at=timezone.now()):
            return False
        oplog.record(actor, "notices.delete_files", f"notice run {run.pk}")
    return True


def do_delete_expired_notice_files(now: dt.datetime | None = None) -> int:
    """Delete the files of expired runs, and of runs lost in the middle (worker killed); the count."""
    return runner.sweep(NOTICE_RUNS, now)
