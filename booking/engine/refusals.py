"""Why a booking request is refused: a stable code for programs (the API's `code`) and a message for people,
in the request's language. Raised by `booking.engine.services` (and read there as `services.BookingError`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from booking.engine.queries import booking_rules
from booking.engine.texts import callcenter_contact
from booking.rules.card_states import BOOKABLE_STATES


class BookingError(Exception):
    """A booking request that cannot be carried out; `code` is stable (API), `message` is for people."""

    MESSAGES = {
        "slot_full": _("選んだ時間は満員になりました。別の時間を選んでください。"),
        "already_booked": _(
            "この予約番号では既に予約があります。変更する場合は「日時・場所を変更する」から行ってください。"
        ),
        "invalid": _("選んだ場所・サービス・時間では予約できません。"),
        "outside_window": _("この日時は予約を受け付けていません（受付期間外または締切後）。"),
        "deadline_passed": _("変更・取消の締切を過ぎています。%(callcenter)sにお問い合わせください。"),
        "no_booking": _("予約はありません。"),
        "hold_expired": _("確保していた時間の期限が切れました。もう一度時間を選んでください。"),
        "hold_changed": _(
            "確保している時間が、この画面を開いた後に変わりました。内容を確かめて、もう一度確定してください。"
        ),
        "same_slot": _("現在のご予約と同じ日時・場所です。別の時間を選んでください。"),
        "changed_meanwhile": _(
            "この予約は、いま別の操作で変更されました。予約の内容を確かめてから、もう一度操作してください。"
        ),
        # a form sent from a page opened earlier for another booking or card (an operator's tab of the last
        # caller, a second sign-in in the same browser): refused whatever it would have done to this one
        "other_page": _(
            "この画面は、前に開いた別の予約（別の方）の手続きのものでした。何も変更していません。"
            "いまの予約の内容を確かめてください。"
        ),
        "web_not_offered": _("このサービスはウェブでは予約できません。%(callcenter)sにお電話ください。"),
        "probe_card": _("稼働監視用のカードでは予約できません。"),
        "card_not_bookable": _(
            "このカードは予約できません（交付通知書の送付前、交付済み、または廃止されています）。"
            "%(callcenter)sにお問い合わせください。"
        ),
    }

    # Where the wording for people names a button of the website, a program is told the call to make.
    API_MESSAGES = {
        "already_booked": _(
            "この予約番号では既に予約があります。"
            "変更は PATCH、取消は DELETE /api/v1/citizen/booking/ で行ってください。"
        ),
    }

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def message(self) -> str:
        text = str(self.MESSAGES.get(self.code, self.code))
        if "%(callcenter)s" in text:
            # "please phone us" says the number to phone, in the page's (or API caller's) language
            text = text % {"callcenter": callcenter_contact(booking_rules())}
        return text

    @property
    def api_message(self) -> str:
        return str(self.API_MESSAGES[self.code]) if self.code in self.API_MESSAGES else self.message


def card_refusal(state: str, probe: bool) -> BookingError | None:
    """Why a card in `state` cannot be booked now (None if it can): the one rule the booking (under the card's
    lock) and the residents' pages (before the steps) both apply. The external prober's card is refused by
    name, never booked (BK-08)."""
    if probe:
        return BookingError("probe_card")
    if state not in BOOKABLE_STATES:
        return BookingError("card_not_bookable")
    return None
