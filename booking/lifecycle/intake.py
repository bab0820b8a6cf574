"""Card applications from a file (CARDS.csv or the J-LIS interchange format) into cards, all or nothing.

`integrations.jlis` reads the file's layout and `integrations.card_fields` checks what each field may contain
(for every layout alike); this module is the home of the import itself (`do_import_cards`: a bulk insert, one
transaction). Around it: `intake_job` (the background import staff start from the console) and
`intake_letters` (LETTERS.csv and the command's report). Formats: docs/formats/cards-csv.md and
docs/formats/jlis-import.md. Every message is Japanese first, then English, separated by " / ".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from booking.cards import credentials
from booking.cards.moves import do_move_cards, do_record_event
from booking.engine.services import IssuedCard, do_reissue_credentials
from booking.lib.dates import COMPACT_DATE, ISO_DATE
from booking.models import Card, CardEvent, CardImportJob
from booking.rules.card_states import FINAL_STATES, CardState
from integrations import card_fields, jlis
from integrations.card_fields import InvalidField
from integrations.jlis import CardImportError, Layout, Problem, RawRecord
from integrations.notice_letters import Letter

COLUMNS = jlis.FIELDS
INSERT_CHUNK = 5000
MAX_PROBLEMS_KEPT = 200  # a failed job keeps (and shows) this many problems, and how many more there were
_LOCK_KEY = "madoguchi.booking.card_import"

# The staff's CARDS.csv keeps its documented YYYY-MM-DD; J-LIS CSV takes both; fixed width has 8 bytes.
DATE_FORMATS: dict[Layout, tuple[str, ...]] = {
    Layout.CARDS_CSV: (ISO_DATE,),
    Layout.JLIS_CSV: (COMPACT_DATE, ISO_DATE),
    Layout.JLIS_FIXED: (COMPACT_DATE,),
}
LAYOUT_NAMES = {Layout.CARDS_CSV: "CARDS.csv", Layout.JLIS_CSV: "J-LIS", Layout.JLIS_FIXED: "J-LIS"}

# --- reading a file ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardRow:
    """One application from the file, checked and normalised."""

    line: int
    application_id: str
    name: str
    name_kana: str
    birth_date: dt.date
    postal_code: str
    address: str


@dataclass(frozen=True)
class CardFile:
    layout: Layout
    encoding: str
    rows: list[CardRow]


def read_file(path: Path) -> bytes:
    """The file's bytes, or CardImportError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CardImportError(
            Problem(f"ファイルが見つかりません: {path}", f"file not found: {path}")
        ) from exc
    except OSError as exc:
        raise CardImportError(
            Problem(f"ファイルを読めません: {path}（{exc.strerror}）", f"cannot read {path}: {exc.strerror}")
        ) from exc


def parse_card_file(
    data: bytes, *, today: dt.date, layout: Layout | None = None, encoding: str | None = None
) -> CardFile:
    """Every record checked; CardImportError with every problem found (layout and fields) if any."""
    raw = jlis.read(data, layout=layout, encoding=encoding)
    rows, problems = check_records(raw.records, today=today, date_formats=DATE_FORMATS[raw.layout])
    problems.extend(raw.problems)
    if problems:
        raise CardImportError(sorted(problems, key=lambda problem: problem.sort_key))
    return CardFile(raw.layout, raw.encoding, rows)


def check_records(
    records: Iterable[RawRecord], *, today: dt.date, date_formats: tuple[str, ...] = (ISO_DATE,)
) -> tuple[list[CardRow], list[Problem]]:
    """The records that are right, and the problems of the others (also an application ID twice)."""
    rows: list[CardRow] = []
    problems: list[Problem] = []
    ids: list[tuple[int, str]] = []
    for record in records:
        values: dict[str, Any] = {}
        found = []
        for column in COLUMNS:
            try:
                values[column] = card_fields.clean(column, record.values[column], today, date_formats)
            except InvalidField as invalid:
                found.append(Problem(invalid.ja, invalid.en, line=record.line, field=column))
        if "application_id" in values:
            ids.append((record.line, values["application_id"]))
        if found:
            problems.extend(found)
        else:
            rows.append(CardRow(line=record.line, **values))
    problems.extend(_duplicates(ids))
    return rows, problems


def _duplicates(ids: Iterable[tuple[int, str]]) -> list[Problem]:
    first_line: dict[str, int] = {}
    problems = []
    for line, application_id in ids:
        if application_id in first_line:
            first = first_line[application_id]
            problems.append(
                Problem(
                    f"{first}行目と同じ申請書IDです",
                    f"same application_id as line {first}",
                    line=line,
                    field="application_id",
                )
            )
        else:
            first_line[application_id] = line
    return problems


# --- the import ----------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    new: int = 0
    reissued: int = 0
    unchanged: int = 0
    # Known applications whose data in the file differs from the database: reported, never changed.
    differing: list[Problem] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.reissued)


Progress = Callable[[int, int], None]  # (rows done, rows in all)


_UPDATABLE = ("name", "name_kana", "birth_date", "postal_code", "address")
_FIELD_LABELS = {"name": "氏名", "name_kana": "氏名カナ", "birth_date": "生年月日", "postal_code": "郵便番号"}


def do_import_cards(
    rows: Sequence[CardRow],
    *,
    actor: str,
    note: str,
    letters: bool = False,
    reissue: bool = False,
    job: CardImportJob | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ImportResult:
    """A card for each new application, all or nothing, in the current tenant's schema.

    New cards arrive "received" with no password: the notice-printing run makes it. With `letters` they get
    their password now instead, for LETTERS.csv (`result.letters`), and are recorded as moved on to
    "notice_sent", since their letters are printed from that file. Known applications are left as they are
    (`unchanged`; the ones whose data differs are listed in `differing`) unless `reissue` (needs `letters`):
    then their data is updated from the file and they get a new password (their reservation number stays).
    Each new card gets its history (CardEvent) with `actor` and `note`, and `job` when one is given.

    Bulk SQL rather than one `do_issue_card` per row: 100,000 rows in seconds, not minutes.
    """
    if reissue and not letters:
        raise ValueError("reissue makes new passwords: they must go into letters")
    now = now or timezone.now()
    result = ImportResult()
    try:
        with transaction.atomic():
            _lock_imports()
            existing = _existing_cards([row.application_id for row in rows])
            fresh = [row for row in rows if row.application_id not in existing]
            known = [row for row in rows if row.application_id in existing]
            if reissue:
                _reissue(known, actor, result)
            else:
                result.unchanged = len(known)
                result.differing = [
                    problem for row in known if (problem := _differs(row, existing[row.application_id]))
                ]
            done_before = len(known)

            def advanced(done: int, _total: int) -> None:
                if progress is not None:
                    progress(done_before + done, len(rows))

            issued = _insert_new(
                fresh, actor=actor, note=note, letters=letters, job=job, progress=advanced, now=now
            )
            result.new = len(fresh)
    except IntegrityError as exc:
        raise _concurrent() from exc
    by_id = {letter.application_id: letter for letter in [*result.letters, *issued]}
    result.letters = [by_id[row.application_id] for row in rows if row.application_id in by_id]
    return result


def _concurrent() -> CardImportError:
    return CardImportError(
        Problem(
            "同時に別の処理がカードを登録したため中止しました。何も取り込んでいません。もう一度実行してください",
            "another process registered cards at the same time; nothing was imported, run it again",
        )
    )


def _lock_imports() -> None:
    """One import per tenant at a time: a second one waits, then sees the first one's cards as existing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s || current_schema()))", [_LOCK_KEY])


def _existing_cards(application_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """application_id → its registered data (in the order of _UPDATABLE), for the ones already there.

    One statement with an array parameter, whatever the number of rows (an IN list has a parameter limit).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT application_id, {', '.join(_UPDATABLE)} FROM {Card._meta.db_table}"  # noqa: S608
            " WHERE application_id = ANY(%s::text[])",
            [application_ids],
        )
        return {found[0]: tuple(found[1:]) for found in cursor.fetchall()}


def _differs(row: CardRow, registered: tuple[Any, ...]) -> Problem | None:
    fields = [name for name, value in zip(_UPDATABLE, registered, strict=True) if getattr(row, name) != value]
    if not fields:
        return None
    ja = "・".join(_FIELD_LABELS.get(name, "住所") for name in fields)
    en = ", ".join(fields)
    return Problem(
        f"登録済みの申請と内容が異なります（{ja}）。登録内容は変更していません",
        f"already registered with different data ({en}); the registered card was not changed",
        line=row.line,
        field="application_id",
    )


def _reissue(rows: list[CardRow], actor: str, result: ImportResult) -> None:
    """New passwords and the file's data for known applications; a card that is finished is refused."""
    cards = {
        card.application_id: card
        for card in Card.objects.select_for_update().filter(
            application_id__in=[row.application_id for row in rows]
        )
    }
    finished = [
        Problem(
            f"このカードは「{CardState(cards[row.application_id].state).label}」のため再発行できません",
            f"the card is {cards[row.application_id].state}: no new password can be issued",
            line=row.line,
            field="application_id",
        )
        for row in rows
        if cards[row.application_id].state in FINAL_STATES
    ]
    if finished:
        raise CardImportError(finished)
    for row in rows:
        card = cards[row.application_id]
        for name in _UPDATABLE:
            setattr(card, name, getattr(row, name))
        card.save(update_fields=list(_UPDATABLE))
        result.letters.append(_letter(do_reissue_credentials(card)))
        if card.state == CardState.RECEIVED:
            for step in (CardState.SET_UP, CardState.NOTICE_SENT):
                do_move_cards([card.pk], step, actor=actor, note="通知書データ出力（import_cards --reissue）")
        else:
            do_record_event(card, actor=actor, note="パスワード再発行・通知書再送（import_cards --reissue）")
        result.reissued += 1


def _letter(issued: IssuedCard) -> Letter:
    """A reissued card's row of LETTERS.csv, with the only clear copy of its new password."""
    card = issued.card
    return Letter(
        application_id=card.application_id,
        reservation_number=card.reservation_number,
        password=issued.password,
        name=card.name,
        postal_code=card.postal_code,
        address=card.address,
    )


# The history of a card imported with its letter: made, set up for the letter, letter sent.
_WITH_LETTER = (
    ("", CardState.RECEIVED),
    (CardState.RECEIVED, CardState.SET_UP),
    (CardState.SET_UP, CardState.NOTICE_SENT),
)
_WITHOUT_LETTER = (("", CardState.RECEIVED),)


def _insert_new(
    rows: list[CardRow],
    *,
    actor: str,
    note: str,
    letters: bool,
    job: CardImportJob | None,
    progress: Progress | None,
    now: dt.datetime,
) -> list[Letter]:
    """Insert the cards in chunks, with their history rows; their letters when `letters`.

    A card made with its letter is inserted in its final state with the three history rows of the moves it
    made (the state trigger guards UPDATEs; a new row has no previous state to check).
    """
    made: list[Letter] = []
    steps = _WITH_LETTER if letters else _WITHOUT_LETTER
    state = steps[-1][1]
    notice_sent_on = timezone.localdate(now) if letters else None
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        passwords = [credentials.new_password() for _ in chunk] if letters else None
        digests = [credentials.password_digest(p) for p in passwords] if passwords else [""] * len(chunk)
        inserted = _insert_cards(chunk, digests, state, notice_sent_on, job, now)
        ids = [inserted[row.application_id][0] for row in chunk]
        for from_state, to_state in steps:
            _insert_events(ids, from_state, to_state, actor, note, now)
        if passwords:
            made.extend(
                Letter(
                    row.application_id,
                    inserted[row.application_id][1],
                    password,
                    row.name,
                    row.postal_code,
                    row.address,
                )
                for row, password in zip(chunk, passwords, strict=True)
            )
        if progress is not None:
            progress(start + len(chunk), len(rows))
    return made


_INSERT_CARDS = """
INSERT INTO {table} (application_id, reservation_number, password_digest, name, name_kana,
                     birth_date, postal_code, address, imported_at, state, state_changed_at, notice_sent_on,
                     import_job_id)
SELECT t.application_id, t.number, t.digest, t.name, t.name_kana, t.birth_date, t.postal_code, t.address,
       %s, %s, %s, %s, %s
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::date[], %s::text[], %s::text[])
       AS t(application_id, number, digest, name, name_kana, birth_date, postal_code, address)
    ON CONFLICT DO NOTHING
RETURNING application_id, id, reservation_number
"""


def _insert_cards(
    rows: list[CardRow],
    digests: list[str],
    state: str,
    notice_sent_on: dt.date | None,
    job: CardImportJob | None,
    now: dt.datetime,
) -> dict[str, tuple[int, str]]:
    """application_id → (card id, reservation number). A drawn number that is taken (one in 10^12 per card
    already there) leaves its row out of the INSERT; those rows are tried again with new numbers."""
    inserted: dict[str, tuple[int, str]] = {}
    pending = list(zip(rows, digests, strict=True))
    sql = _INSERT_CARDS.format(table=Card._meta.db_table)
    for _attempt in range(20):
        numbers = _fresh_numbers(len(pending))
        columns: list[list[Any]] = [
            [row.application_id for row, _ in pending],
            numbers,
            [digest for _, digest in pending],
            *([getattr(row, name) for row, _ in pending] for name in _UPDATABLE),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, state, now, notice_sent_on, job.pk if job else None, *columns])
            inserted.update((found[0], (found[1], found[2])) for found in cursor.fetchall())
        pending = [(row, digest) for row, digest in pending if row.application_id not in inserted]
        if not pending:
            return inserted
        if _existing_cards([row.application_id for row, _ in pending]):
            raise _concurrent()  # inserted by something that does not take the import lock
    raise RuntimeError("could not draw unique reservation numbers")


def _fresh_numbers(count: int) -> list[str]:
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(credentials.new_reservation_number())
    return list(numbers)


_INSERT_EVENTS = """
INSERT INTO {table} (card_id, at, from_state, to_state, actor, note, place_id)
SELECT t.id, %s, %s, %s, %s, %s, NULL FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n
"""


def _insert_events(
    ids: list[int], from_state: str, to_state: str, actor: str, note: str, now: dt.datetime
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EVENTS.format(table=CardEvent._meta.db_table),
            [now, from_state, to_state, actor[:150], note[:200], ids],
        )
