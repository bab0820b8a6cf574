"""The card's states and the legal moves between them: the one home of that table.

Migration 0013 writes the same pairs into the database trigger that refuses any other move, so a bug or a
hand-written UPDATE cannot skip a step; `tests/lifecycle/test_card_lifecycle.py` checks that the two agree.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CardState(models.TextChoices):
    RECEIVED = "received", _("受領（J-LIS）")
    SET_UP = "set_up", _("交付前設定済み")
    NOTICE_SENT = "notice_sent", _("通知書送付済み")
    BOOKED = "booked", _("予約済み")
    MOVED = "moved", _("窓口へ移送済み")
    HANDED_OVER = "handed_over", _("交付済み")
    RETURNED = "returned", _("通知書返戻")
    EXPIRED = "expired", _("保管期限切れ")
    CANCELLED = "cancelled", _("廃止・取消")


S = CardState
LEGAL_MOVES: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.SET_UP, S.CANCELLED, S.EXPIRED}),
    S.SET_UP: frozenset({S.NOTICE_SENT, S.CANCELLED, S.EXPIRED}),
    S.NOTICE_SENT: frozenset({S.BOOKED, S.RETURNED, S.CANCELLED, S.EXPIRED}),
    S.RETURNED: frozenset({S.NOTICE_SENT, S.BOOKED, S.CANCELLED, S.EXPIRED}),
    # Back to "notice sent" when the booking is cancelled or missed; handed over at the back office (center
    # issuance) without a move.
    S.BOOKED: frozenset({S.NOTICE_SENT, S.MOVED, S.HANDED_OVER, S.CANCELLED, S.EXPIRED}),
    # Brought back to the back office (booking moved elsewhere: booked; cancelled: notice sent).
    S.MOVED: frozenset({S.HANDED_OVER, S.BOOKED, S.NOTICE_SENT, S.CANCELLED, S.EXPIRED}),
    S.HANDED_OVER: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL_STATES = frozenset(state for state, moves in LEGAL_MOVES.items() if not moves)
# A citizen may book (or keep booking) a card only once its notice is out and until it is handed over.
BOOKABLE_STATES = frozenset({S.NOTICE_SENT, S.RETURNED, S.BOOKED, S.MOVED})
# States a notice letter may be printed (or printed again) in.
PRINTABLE_STATES = frozenset({S.SET_UP, S.NOTICE_SENT, S.RETURNED})


def is_legal(from_state: str, to_state: str) -> bool:
    return to_state in LEGAL_MOVES.get(from_state, frozenset())


def legal_pairs() -> list[tuple[str, str]]:
    return sorted((str(a), str(b)) for a, moves in LEGAL_MOVES.items() for b in moves)
