"""Checks across the rows of the old system's files (SO-20): no key twice, and card states and booking
outcomes that tell the same story. A row that fails is rejected naming its line (and the line it clashes
with); the rules are in docs/formats/legacy-import.md. Pure: no database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from booking.cards import credentials
from booking.migration.records import CONFIRMED, VISITED, BookingRow, CardRow
from booking.rules.card_states import CardState
from integrations.legacy_import import BOOKINGS, CARDS, Problem, Table


class _Lined(Protocol):
    @property
    def line(self) -> int: ...


R = TypeVar("R", bound=_Lined)


def unique(
    rows: list[R], name: str, column: str, key: Callable[[R], str], problems: list[Problem]
) -> list[R]:
    """Rows whose key was seen on an earlier line are rejected, naming that line."""
    first: dict[str, int] = {}
    kept = []
    for row in rows:
        value, line = key(row), row.line
        if value in first:
            problems.append(
                Problem(
                    name, line, column, f"{first[value]}行目と重複しています", f"same as line {first[value]}"
                )
            )
        else:
            first[value] = line
            kept.append(row)
    return kept


def consistent(
    cards: list[CardRow], bookings: list[BookingRow], rejections: list[Problem], card_table: Table | None
) -> tuple[list[CardRow], list[BookingRow]]:
    """Card states and booking outcomes must tell the same story; a card that does not is rejected with its
    bookings, and every booking needs its card in cards.csv."""
    known_lines = _card_lines_in_file(card_table)
    by_number = {card.reservation_number: card for card in cards}
    kept_bookings: list[BookingRow] = []
    per_card: dict[str, list[BookingRow]] = {}
    for booking in bookings:
        if not booking.reservation_number:
            kept_bookings.append(booking)
        elif booking.reservation_number in by_number:
            per_card.setdefault(booking.reservation_number, []).append(booking)
        elif booking.reservation_number in known_lines:
            line = known_lines[booking.reservation_number]
            rejections.append(_card_rejected(booking, line))
        else:
            rejections.append(
                Problem(
                    BOOKINGS,
                    booking.line,
                    "reservation_number",
                    "この予約番号のカードが cards.csv にありません",
                    "no card with this reservation number in cards.csv",
                )
            )
    kept_cards: list[CardRow] = []
    for card in cards:
        own = per_card.get(card.reservation_number, [])
        own, problems = _second_bookings(own)
        rejections.extend(problems)
        reason = _state_conflict(card, own)
        if reason is None:
            kept_cards.append(card)
            kept_bookings.extend(own)
            continue
        rejections.append(Problem(CARDS, card.line, "state", *reason))
        rejections.extend(_card_rejected(booking, card.line) for booking in own)
    kept_bookings.sort(key=lambda booking: booking.line)
    return kept_cards, kept_bookings


def _card_lines_in_file(table: Table | None) -> dict[str, int]:
    """Reservation number → line for every card row of the file, readable or not (to name the card's line)."""
    if table is None or "reservation_number" not in table.columns:
        return {}
    position = table.columns.index("reservation_number")
    lines: dict[str, int] = {}
    for line, cells in table.records:
        number = credentials.normalise_reservation_number(cells[position]) if position < len(cells) else ""
        if number:
            lines.setdefault(number, line)
    return lines


def _card_rejected(booking: BookingRow, card_line: int) -> Problem:
    return Problem(
        BOOKINGS,
        booking.line,
        "reservation_number",
        f"カード（cards.csv {card_line}行目）を取り込めないため、この予約も取り込めません",
        f"its card (cards.csv line {card_line}) is rejected, so this booking is too",
    )


def _second_bookings(bookings: list[BookingRow]) -> tuple[list[BookingRow], list[Problem]]:
    """A card has at most one confirmed booking and is handed over at most once: later lines are rejected."""
    kept: list[BookingRow] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for booking in bookings:
        if booking.status in {CONFIRMED, VISITED} and booking.status in first:
            earlier = first[booking.status]
            ja, en = (
                (
                    f"このカードには{earlier}行目にも予約中の予約があります",
                    f"the card has a confirmed booking on line {earlier} too",
                )
                if booking.status == CONFIRMED
                else (
                    f"このカードは{earlier}行目でも交付済みです",
                    f"the card was handed over on line {earlier} too",
                )
            )
            problems.append(Problem(BOOKINGS, booking.line, "status", ja, en))
            continue
        first.setdefault(booking.status, booking.line)
        kept.append(booking)
    return kept, problems


def _state_conflict(card: CardRow, bookings: list[BookingRow]) -> tuple[str, str] | None:
    """Why the card's state contradicts its bookings, or None (the rules are in the format document)."""
    state = CardState(card.state)
    label, code = state.label, state.value
    confirmed = next((b for b in bookings if b.status == CONFIRMED), None)
    visited = next((b for b in bookings if b.status == VISITED), None)
    if confirmed and state not in {CardState.BOOKED, CardState.MOVED}:
        where = f"bookings.csv {confirmed.line}行目", f"bookings.csv line {confirmed.line}"
        return (
            f"状態が「{label}」ですが、予約中の予約があります（{where[0]}）。予約中なら booked か moved です",
            f"state is {code} but the card has a confirmed booking ({where[1]}); then it is booked or moved",
        )
    if visited and state != CardState.HANDED_OVER:
        where = f"bookings.csv {visited.line}行目", f"bookings.csv line {visited.line}"
        return (
            f"状態が「{label}」ですが、来庁（交付済み）の予約があります（{where[0]}）。"
            "交付済みなら handed_over です",
            f"state is {code} but the card was handed over at a visit ({where[1]}); then it is handed_over",
        )
    if state in {CardState.BOOKED, CardState.MOVED} and confirmed is None:
        return (
            f"状態が「{label}」ですが、予約中の予約が bookings.csv にありません",
            f"state is {code} but bookings.csv has no confirmed booking for the card",
        )
    if state in {CardState.RECEIVED, CardState.SET_UP} and bookings:
        where = f"bookings.csv {bookings[0].line}行目", f"bookings.csv line {bookings[0].line}"
        return (
            f"状態が「{label}」（通知書の送付前）ですが、予約があります（{where[0]}）",
            f"state is {code} (before the notice) but the card has bookings ({where[1]})",
        )
    return None
