"""Reads of the card lifecycle (AD-03), grouped by the feature that uses them.

Functions only read; the writes are in `services.py` and the feature modules' `do_*` functions.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import translation

from booking.cards.credentials import RESERVATION_NUMBER_DIGITS
from booking.lib.japanese import typed_digits
from booking.models import Card, CardImportJob
from booking.rules.card_states import PRINTABLE_STATES, CardState
from integrations.card_fields import APPLICATION_ID_DIGITS
from tenants.db import tenant_connection
from tenants.queries import primary_domain

# --- notice letters (AD-03): which cards a print run takes ------------------------------------------------

MAX_PASTED_LINES = 10_000


def card_number(text: str) -> str | None:
    """The digits of an application ID (23) or reservation number (12) as scanned or typed, else None.

    Hand-held readers type the barcode's digits (often followed by Enter); people type with hyphens, spaces
    or full-width digits, so those are dropped first.
    """
    return typed_digits(text, APPLICATION_ID_DIGITS, RESERVATION_NUMBER_DIGITS)


def card_by_number(text: str) -> Card | None:
    """The card a scan or a typed number names."""
    digits = card_number(text)
    return _cards_by_number([digits]).get(digits) if digits else None


def set_up_cards() -> QuerySet[Card]:
    """All cards set up and never printed: the usual print run."""
    return Card.objects.filter(state=CardState.SET_UP)


def import_job_cards(job_id: int) -> QuerySet[Card]:
    """The set-up cards of one J-LIS import (its cards still "received" wait for their set-up)."""
    return Card.objects.filter(import_job_id=job_id, state=CardState.SET_UP)


def counts_by_state(cards: QuerySet[Card]) -> dict[str, int]:
    return dict(cards.order_by().values_list("state").annotate(n=Count("pk")))


def import_jobs_to_print(limit: int = 50) -> list[tuple[CardImportJob, int, int]]:
    """Recent imports with cards in them: (job, its set-up cards, its cards still waiting for set-up)."""
    jobs = list(CardImportJob.objects.order_by("-requested_at")[:limit])
    counts = (
        Card.objects.filter(import_job__in=jobs, state__in=[CardState.SET_UP, CardState.RECEIVED])
        .order_by()
        .values_list("import_job_id", "state")
        .annotate(n=Count("pk"))
    )
    by_job: dict[tuple[int, str], int] = {(job_id, state): n for job_id, state, n in counts}
    rows = [
        (job, by_job.get((job.pk, CardState.SET_UP), 0), by_job.get((job.pk, CardState.RECEIVED), 0))
        for job in jobs
    ]
    return [row for row in rows if row[1] or row[2]]


@dataclass(frozen=True)
class LineProblem:
    line: int
    text: str  # what the line said (cut short)
    ja: str
    en: str

    def __str__(self) -> str:
        return f"{self.line}行目「{self.text}」: {self.ja} / line {self.line} ({self.text}): {self.en}"

    @property
    def reason(self) -> str:
        """What is wrong, in the page's language."""
        from django.utils.translation import get_language

        return self.en if (get_language() or "ja").startswith("en") else self.ja


@dataclass
class PastedCards:
    card_ids: list[int] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)
    # Lines naming a card already named above, when repeats are no problem: each card is taken once.
    repeats: list[LineProblem] = field(default_factory=list)


def printable(card: Card) -> tuple[str, str] | None:
    """Why a notice letter cannot be printed for this card (Japanese, English), or None if it can."""
    if card.state in PRINTABLE_STATES:
        return None
    with translation.override("ja"):
        label = str(CardState(card.state).label)
    with translation.override("en"):  # the state as the English pages name it, not its code
        label_en = str(CardState(card.state).label)
    return (
        f"「{label}」のカードの通知書は印刷できません",
        f"a card that is “{label_en}” cannot get a notice letter",
    )


def cards_from_lines(
    text: str,
    refusal: Callable[[Card], tuple[str, str] | None] = printable,
    *,
    repeats_are_problems: bool = True,
) -> PastedCards:
    """The cards named one a line by application ID (23 digits, as a scanner types the letter's barcode) or
    reservation number (12 digits, hyphens and spaces allowed); full-width digits are fine.

    Every line is checked: unknown numbers, repeats and cards `refusal` turns away (by default those that
    cannot be printed) are reported with their line, so the person fixes the list, not guesses. With
    `repeats_are_problems` off, a card named again (a letter scanned twice: the reader beeps, the clerk is
    unsure, scans again) is only noted in `repeats` and taken once, so the clerk can go on.
    """
    result = PastedCards()
    wanted: list[tuple[int, str, str]] = []  # (line, shown, digits)
    for number, raw in enumerate(text.splitlines(), 1):
        shown = raw.strip()[:40]
        if not shown:
            continue
        if len(wanted) >= MAX_PASTED_LINES:
            result.problems.append(
                LineProblem(
                    number,
                    shown,
                    f"一度に指定できるのは{MAX_PASTED_LINES}行までです",
                    f"at most {MAX_PASTED_LINES} lines at a time",
                )
            )
            break
        digits = card_number(raw)
        if digits is None:
            result.problems.append(
                LineProblem(
                    number,
                    shown,
                    "申請書ID（23桁）または予約番号（12桁）ではありません",
                    "not an application ID (23 digits) or a reservation number (12 digits)",
                )
            )
            continue
        wanted.append((number, shown, digits))
    found = _cards_by_number([digits for _, _, digits in wanted])
    first_line: dict[int, int] = {}
    for number, shown, digits in wanted:
        card = found.get(digits)
        refused = refusal(card) if card is not None else None
        if card is None:
            result.problems.append(LineProblem(number, shown, "該当するカードがありません", "no such card"))
        elif card.pk in first_line:
            (result.problems if repeats_are_problems else result.repeats).append(
                LineProblem(
                    number,
                    shown,
                    f"{first_line[card.pk]}行目と同じカードです",
                    f"the same card as line {first_line[card.pk]}",
                )
            )
        elif refused is not None:
            result.problems.append(LineProblem(number, shown, *refused))
        else:
            first_line[card.pk] = number
            result.card_ids.append(card.pk)
            result.states[card.state] += 1
    result.problems.sort(key=lambda problem: problem.line)
    return result


def _cards_by_number(numbers: list[str]) -> dict[str, Card]:
    found: dict[str, Card] = {}
    ids = [n for n in numbers if len(n) == APPLICATION_ID_DIGITS]
    reservations = [n for n in numbers if len(n) == RESERVATION_NUMBER_DIGITS]
    fields = ("pk", "application_id", "reservation_number", "state", "name_kana")
    for start in range(0, len(ids), 5000):
        for card in Card.objects.filter(application_id__in=ids[start : start + 5000]).only(*fields):
            found[card.application_id] = card
    for start in range(0, len(reservations), 5000):
        chunk = reservations[start : start + 5000]
        for card in Card.objects.filter(reservation_number__in=chunk).only(*fields):
            found[card.reservation_number] = card
    return found


def citizen_site_url() -> str:
    """The tenant's booking site as printed on letters: its primary domain, "https://<domain>/".

    No request is at hand (letters are made by a worker), so the host comes from the tenant's primary
    Domain row. On a developer's machine (DEBUG) the site is plain HTTP on `make run`'s port.
    """
    schema = tenant_connection().schema_name
    host = primary_domain(schema)
    if host is None:
        raise LookupError(f"tenant {schema} has no domain")
    if settings.DEBUG:
        port = os.environ.get("PORT", "8000").strip() or "8000"
        return f"http://{host}:{port}/"
    return f"https://{host}/"
