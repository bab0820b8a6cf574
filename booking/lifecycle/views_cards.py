"""The cards' screens (AD-03, AD-08): progress per state and place, cards waiting too long, one card's
history and manual moves, moves of many cards at once, and the scan field's jump to a card."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can, allows
from booking.cards import search as card_search
from booking.cards.moves import CardMoveError, LifecycleError, do_staff_move_cards
from booking.cards.notes import shown_note
from booking.lifecycle import progress, queries
from booking.lifecycle.transfer_services import do_return_to_back_office
from booking.models import Booking, Card
from booking.rules.card_states import CardState, is_legal

PAGE_SIZE = 50
# The notes the system writes on a card's events (booking.lifecycle.counter, transfer_services, the engine,
# the import command), translated where the card page shows them; a note staff typed is shown as typed.
SYSTEM_NOTES = (
    gettext_noop("交付"),
    gettext_noop("来庁なし"),
    gettext_noop("予約"),
    gettext_noop("予約取消"),
    gettext_noop("移送"),
    gettext_noop("通知書データ出力（import_cards --reissue）"),
    gettext_noop("パスワード再発行・通知書再送（import_cards --reissue）"),
)
# Moves staff make by hand; the others follow from bookings, transfers, the counter and print runs.
MANUAL_MOVES = (
    CardState.SET_UP,
    CardState.RETURNED,
    CardState.NOTICE_SENT,
    CardState.CANCELLED,
    CardState.EXPIRED,
)
MOVE_HINTS = {
    CardState.SET_UP: gettext_lazy("交付前設定を終えた"),
    CardState.RETURNED: gettext_lazy("交付通知書が返戻された（宛先不明など）"),
    CardState.NOTICE_SENT: gettext_lazy("返戻された通知書を再送付した"),
    CardState.CANCELLED: gettext_lazy("申請の取下げ・廃止"),
    CardState.EXPIRED: gettext_lazy("保管期限を過ぎた"),
}


class MoveForm(forms.Form):
    to_state = forms.ChoiceField(
        label=gettext_lazy("変更後の状態"), choices=[(s.value, s.label) for s in MANUAL_MOVES]
    )
    note = forms.CharField(label=gettext_lazy("備考"), max_length=200, required=False)


class BulkMoveForm(MoveForm):
    numbers = forms.CharField(
        label=gettext_lazy("申請書IDまたは予約番号（1行に1件。バーコードリーダーで続けて読み取れます）"),
        widget=forms.Textarea(attrs={"rows": 10, "autocomplete": "off", "spellcheck": "false"}),
        max_length=queries.MAX_PASTED_LINES * 30,
    )


def _manual_moves(card: Card) -> list[CardState]:
    # "Notice sent" by hand is only the re-sending of a returned letter; a card at a counter goes back to the
    # back office with its own action (it may still be booked).
    return [
        state
        for state in MANUAL_MOVES
        if is_legal(card.state, state)
        and (state != CardState.NOTICE_SENT or card.state == CardState.RETURNED)
    ]


def _state_field(form: MoveForm) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields["to_state"])


@staff_view(Can.VIEW_BOOKINGS)
def cards(request: HttpRequest) -> HttpResponse:
    waiting, waiting_total = progress.waiting_cards(limit=100)
    return render(
        request,
        "booking/staff/cards/progress.html",
        {
            "states": progress.state_counts(),
            "state_values": CardState.values,
            "state_labels": CardState.labels,
            "places": progress.place_counts(),
            "waiting": waiting,
            "waiting_total": waiting_total,
        },
    )


# The longest search text the list reads (a name, or an application ID with separators).
MAX_QUERY_LENGTH = 100


@staff_view(Can.VIEW_BOOKINGS, log_reads="cards.list")
def card_list(request: HttpRequest) -> HttpResponse:
    """All cards, by state and by a search: a number, a name in kana or in kanji (card_search)."""
    state = request.GET.get("state", "")
    query = request.GET.get("q", "").strip()
    rows = Card.objects.order_by("state_changed_at", "pk").select_related("at_place")
    unknown_state = bool(state) and state not in CardState.values  # all cards shown instead: said so
    if state in CardState.values:
        rows = rows.filter(state=state)
    else:
        state = ""
    too_long = len(query) > MAX_QUERY_LENGTH
    if too_long or unknown_state:
        rows = Card.objects.none()
    elif query:
        rows = rows.filter(pk__in=card_search.cards_matching(card_search.read_query(query)).values("pk"))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "booking/staff/cards/list.html",
        {
            "page": page,
            "state": state,
            "states": CardState.choices,
            "q": query,
            "too_long": too_long,
            "unknown_state": unknown_state,
            "max_query_length": MAX_QUERY_LENGTH,
            "query": urlencode({"state": state, "q": query}),
        },
        status=400 if too_long or unknown_state else 200,
    )


@staff_view(Can.VIEW_BOOKINGS, log_reads="cards.waiting")
def waiting_list(request: HttpRequest) -> HttpResponse:
    waiting, total = progress.waiting_cards(limit=2000)
    return render(request, "booking/staff/cards/waiting.html", {"waiting": waiting, "waiting_total": total})


@staff_view(Can.VIEW_BOOKINGS, log_reads="card.view")
def card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.select_related("at_place", "import_job"), pk=pk)
    return _render_card(request, card, MoveForm())


def _render_card(request: HttpRequest, card: Card, form: MoveForm, status: int = 200) -> HttpResponse:
    can_edit = allows(request.staff.role, Can.EDIT_CARDS)  # type: ignore[attr-defined]
    moves = [(s.value, s.label, MOVE_HINTS[s]) for s in _manual_moves(card)]
    _state_field(form).choices = [(value, label) for value, label, _hint in moves]
    return render(
        request,
        "booking/staff/cards/card.html",
        {
            "card": card,
            "events": [
                (event, shown_note(event.note))
                for event in card.events.select_related("place").order_by("at", "pk")
            ],
            "bookings": Booking.objects.filter(card=card)
            .select_related("slot__place")
            .order_by("-created_at"),
            "moves": moves if can_edit else [],
            "can_return": can_edit and card.state == CardState.MOVED,
            "form": form,
        },
        status=status,
    )


def _stale_move_message(card: Card, posted: str) -> str:
    now, asked = CardState(card.state).label, CardState(posted).label
    if posted == card.state:
        already = _("このカードはすでに「%(state)s」です（別の画面で変更された後かもしれません）。")
        return already % {"state": now}
    return _(
        "このカードはいま「%(now)s」のため、「%(asked)s」には変更できません"
        "（別の画面で変更された後かもしれません）。"
    ) % {"now": now, "asked": asked}


@staff_view(Can.EDIT_CARDS)
@require_POST
def card_move(request: HttpRequest, pk: int) -> HttpResponse:
    card = get_object_or_404(Card, pk=pk)
    form = MoveForm(request.POST)
    _state_field(form).choices = [(s.value, s.label) for s in _manual_moves(card)]
    if not form.is_valid():
        posted = request.POST.get("to_state", "")
        if posted in CardState.values and "to_state" in form.errors:
            # a state that is no move from here: most often a page opened before another change of the card
            form.errors["to_state"] = form.error_class([_stale_move_message(card, posted)])
        return _render_card(request, card, form, status=400)
    to_state = form.cleaned_data["to_state"]
    try:
        do_staff_move_cards(actor_of(request), [card.pk], to_state, note=form.cleaned_data["note"])
    except CardMoveError as error:
        messages.error(request, error.message)
        return redirect("staff:card", pk=card.pk)
    messages.success(request, _("状態を「%(state)s」に変更しました。") % {"state": CardState(to_state).label})
    return redirect("staff:card", pk=card.pk)


@staff_view(Can.EDIT_CARDS)
@require_POST
def card_return(request: HttpRequest, pk: int) -> HttpResponse:
    """A card at a counter comes back to the back office (a no-show, a booking moved or cancelled)."""
    card = get_object_or_404(Card, pk=pk)
    try:
        state = do_return_to_back_office(card, actor=actor_of(request))
    except LifecycleError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("カードを事務室に戻しました（%(state)s）。") % {"state": CardState(state).label}
        )
    return redirect("staff:card", pk=card.pk)


@staff_view(Can.EDIT_CARDS)
def bulk_move(request: HttpRequest) -> HttpResponse:
    """Many cards at once (a batch set up, returned letters scanned one after another): preview, then move."""
    form = BulkMoveForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        to_state = form.cleaned_data["to_state"]
        preview = queries.cards_from_lines(
            form.cleaned_data["numbers"], refusal=_cannot_move_to(to_state), repeats_are_problems=False
        )
        if "confirm" in request.POST and preview.card_ids and not preview.problems:
            try:
                moved = do_staff_move_cards(
                    actor_of(request), preview.card_ids, to_state, note=form.cleaned_data["note"]
                )
            except CardMoveError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("%(count)d枚の状態を変更しました。") % {"count": moved})
                return redirect("staff:cards")
    return render(
        request,
        "booking/staff/cards/bulk.html",
        {
            "form": form,
            "preview": preview,
            "to_state": CardState(form.cleaned_data["to_state"]).label if preview else "",
        },
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )


def _cannot_move_to(to_state: str) -> Callable[[Card], tuple[str, str] | None]:
    def refusal(card: Card) -> tuple[str, str] | None:
        if card.state == to_state or is_legal(card.state, to_state):
            return None
        old, new = CardState(card.state).label, CardState(to_state).label
        return f"「{old}」から「{new}」には変更できません", f"cannot go from {card.state} to {to_state}"

    return refusal


@staff_view(Can.VIEW_BOOKINGS)
def scan(request: HttpRequest) -> HttpResponse:
    """The scan field in every staff page's header: a barcode (application ID) or a typed number."""
    scanned = request.GET.get("q", "")[:100]
    if not scanned.strip():
        messages.error(request, _("申請書ID（23桁）または予約番号（12桁）を読み取るか入力してください。"))
        return redirect("staff:cards")
    card = queries.card_by_number(scanned)
    if card is None:
        messages.error(
            request,
            _(
                "「%(q)s」に当たるカードはありません。申請書ID（23桁）または予約番号（12桁）を"
                "読み取るか入力してください。"
            )
            % {"q": scanned},
        )
        return redirect("staff:cards")
    return redirect("staff:card", pk=card.pk)
