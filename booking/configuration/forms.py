"""Forms of the administrator's settings screens (AD-04). They parse what was typed; the rules themselves
live in `booking.configuration` (`*_problems`), which the forms show and the services enforce."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Self, TypeAlias

from django import forms
from django.core import signing
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

from booking.configuration import closed_days, patterns, places, rule_settings, texts
from booking.configuration.changes import NON_FIELD, Seen, comparable
from booking.lib.phone import format_phone
from booking.lib.typed_fields import TypedDateField, TypedTimeField
from booking.models import SLOT_MINUTES_CHOICES, FieldRequirement, Place, Service, Weekday

Text: TypeAlias = "str | _StrPromise"


def add_problems(form: forms.Form, problems: Mapping[str, str]) -> None:
    for name, message in problems.items():
        form.add_error(None if name == NON_FIELD or name not in form.fields else name, message)


def _date(label: Text, help_text: Text = "") -> TypedDateField:
    return TypedDateField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _time(label: Text) -> TypedTimeField:
    return TypedTimeField(label=label, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))


def _number(
    label: Text, low: int, high: int, help_text: Text = "", required: bool = True
) -> forms.IntegerField:
    """Range checked by the service (its messages), hinted to the browser by min/max."""
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        required=required,
        widget=forms.NumberInput(attrs={"min": low, "max": high, "inputmode": "numeric"}),
    )


class _Checked(forms.Form):
    """A form whose whole-input rules come from a `*_problems` function of the service.

    Its fields are those of `input_class`, the service's input dataclass, one for one.
    """

    input_class: Any

    def problems(self, data: Any) -> Mapping[str, str]:
        raise NotImplementedError

    def to_input(self) -> Any:
        return self.input_class(**{f.name: self.cleaned_data[f.name] for f in fields(self.input_class)})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:  # rules across fields only once every field could be read
            add_problems(self, self.problems(self.to_input()))
        return data


_SEEN_SALT = "booking.settings.seen"


class SeenForm(forms.Form):
    """A settings form that carries what the page showed (`seen`, signed): saved over a change made since
    (another tab, another administrator), it is refused instead of silently putting back what that change
    replaced (every field of the page is saved, the ones left alone too: a new user's walk lost a change so).
    """

    seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def show(self, current: Mapping[str, Any]) -> Self:
        """Record `current` (the saved values) as what this page shows; returns the form."""
        # a new dict: `initial` is often `current` itself, which the caller goes on using
        self.initial = {**self.initial, "seen": signing.dumps(comparable(current), salt=_SEEN_SALT)}
        return self

    def seen_values(self) -> Seen | None:
        """What the page showed, for the service to compare under its lock (`changes.check_unchanged`):
        None for a form sent without the mark (a hand-made request, as before the mark), nothing for a mark
        that is no mark (then every field counts as changed)."""
        if "seen" not in self.data:
            return None
        try:
            seen = signing.loads(self.data.get("seen", ""), salt=_SEEN_SALT)
        except signing.BadSignature:
            return {}
        return seen if isinstance(seen, dict) else {}

    def typed_over(self, current: Mapping[str, Any]) -> QueryDict:
        """What was typed, marked as showing `current`: a page of long texts refused over a change made
        since is shown again as typed (not emptied of it), and saved again it replaces that change."""
        data = QueryDict(mutable=True)
        data.update(self.data)  # request.POST: each field with all its values
        data["seen"] = signing.dumps(comparable(current), salt=_SEEN_SALT)
        return data

    def labels(self, names: Sequence[str]) -> list[str]:
        return [str(self.fields[name].label if name in self.fields else name) for name in names]


class WindowForm(SeenForm, _Checked):
    input_class = rule_settings.WindowInput

    first_days_ahead = _number(
        _("何日後から予約可能か"), 0, 365, _("1なら明日から、0なら当日から予約できます。")
    )
    bookable_until = _date(_("予約受付可能日（この日まで）"), _("空欄なら期限なし"))
    deadline_days_before = _number(
        _("締切: 利用日の何日前か"), 0, 60, _("予約・変更・取消は、利用日のこの日数前の締切時刻までです。")
    )
    deadline_time = _time(_("締切: 時刻"))
    hold_minutes = _number(
        _("選んだ時間の確保（分）"),
        1,
        60,
        _("市民が時間を選んでから確定するまで、その枠を確保する時間（1〜60分）"),
    )
    booking_horizon_days = _number(
        _("何日先まで予約可能か"),
        1,
        rule_settings.MAX_HORIZON_DAYS,
        _(
            "今日からこの日数先までの日を予約できます（1〜366日）。予約受付可能日を決めた場合は、早いほうまでです。"
        ),
    )

    def problems(self, data: rule_settings.WindowInput) -> Mapping[str, str]:
        return rule_settings.window_problems(data, timezone.localdate())


class CardRulesForm(SeenForm, _Checked):
    input_class = rule_settings.CardRulesInput

    transfer_cutoff_days_before = _number(
        _("移送リストの締め: 来庁日の何日前か"),
        0,
        14,
        _("この日の締め時刻に、来庁日ごとの移送リストを確定します。0なら当日です。"),
    )
    transfer_cutoff_time = _time(_("移送リストの締め: 時刻"))
    card_waiting_days = _number(
        _("滞留とみなす日数"),
        1,
        365,
        _("予約前の段階にこの日数を超えてとどまるカードを「滞留しているカード」に表示します。"),
    )

    def problems(self, data: rule_settings.CardRulesInput) -> Mapping[str, str]:
        return rule_settings.card_rules_problems(data)


class ContactForm(SeenForm, _Checked):
    input_class = rule_settings.ContactInput

    callcenter_phone = forms.CharField(
        label=_("コールセンターの電話番号"),
        required=False,
        max_length=30,
        help_text=_("例: 075-123-4567。市民向けの画面・メール・交付通知書の「お問い合わせ」に表示します。"),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    callcenter_hours = forms.CharField(
        label=_("コールセンターの受付時間"),
        required=False,
        max_length=200,
        help_text=_("例: 平日 9:00〜17:00"),
        widget=forms.TextInput(attrs={"lang": "ja"}),  # Japanese on the English console too
    )
    callcenter_hours_en = forms.CharField(
        label=_("コールセンターの受付時間（英語）"),
        required=False,
        max_length=200,
        help_text=_("例: weekdays 9:00–17:00。空欄なら日本語の受付時間を表示します。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the stored digits shown as people write them
        if "callcenter_phone" in self.initial:
            # a new dict: the caller's (the saved values) is what the page's mark must hold, unformatted
            self.initial = {
                **self.initial,
                "callcenter_phone": format_phone(self.initial["callcenter_phone"]),
            }

    def problems(self, data: rule_settings.ContactInput) -> Mapping[str, str]:
        return rule_settings.contact_problems(data)


class BringTextsForm(SeenForm):
    """Each service's own "what to bring", in Japanese and English: two fields per service."""

    def __init__(self, services: list[Service], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services
        for service in services:
            self.fields[f"{service.code}__bring_text"] = forms.CharField(
                label=_("%(service)s: 持ち物") % {"service": service.label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 3, "lang": "ja"}),  # Japanese on the English console too
                help_text=_("空欄なら「画面とメールの文章」の持ち物を使います。"),
                initial=service.bring_text,
            )
            self.fields[f"{service.code}__bring_text_en"] = forms.CharField(
                label=_("%(service)s: 持ち物（英語）") % {"service": service.label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                initial=service.bring_text_en,
            )

    def to_input(self) -> list[texts.BringInput]:
        return [
            texts.BringInput(
                code=service.code,
                bring_text=self.cleaned_data[f"{service.code}__bring_text"],
                bring_text_en=self.cleaned_data[f"{service.code}__bring_text_en"],
            )
            for service in self.services
        ]


class FieldsForm(SeenForm, _Checked):
    input_class = rule_settings.FieldsInput

    phone_requirement = forms.ChoiceField(label=_("電話番号"), choices=FieldRequirement.choices)
    email_requirement = forms.ChoiceField(
        label=_("メールアドレス"),
        choices=FieldRequirement.choices,
        help_text=_("「表示しない」にすると予約確認メール・前日のリマインドメールは送られません。"),
    )

    def problems(self, data: rule_settings.FieldsInput) -> Mapping[str, str]:
        return rule_settings.fields_problems(data)


def _text(
    label: Text, required: bool, help_text: Text = "", rows: int = 4, lang: str = ""
) -> forms.CharField:
    # lang="ja" on a Japanese text's box: on the English console its content is still Japanese (issue 15).
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        max_length=texts.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": rows, **({"lang": lang} if lang else {})}),
    )


_ENGLISH_PAGE_HELP = _("英語のページに表示します。空欄なら英語のページにも日本語の文章を表示します。")
_ENGLISH_MAIL_HELP = _(
    "英語で予約した方に送ります。空欄なら日本語の本文を送ります。差し込み項目は日本語の本文と同じです。"
)


class TextsForm(SeenForm, _Checked):
    input_class = texts.TextsInput

    # Each English version right after its Japanese text (issue 15); empty: the Japanese one is used.
    text_top = _text(_("トップページの説明"), False, _("トップページの案内文の下に表示します。"), lang="ja")
    text_top_en = _text(_("トップページの説明（英語）"), False, _ENGLISH_PAGE_HELP)
    text_bring = _text(
        _("持ち物"), True, _("予約完了画面・マイページ・メールの {bring} に使います。"), lang="ja"
    )
    text_bring_en = _text(_("持ち物（英語）"), False, _ENGLISH_PAGE_HELP)
    text_done = _text(_("予約完了画面の案内"), False, lang="ja")
    text_done_en = _text(_("予約完了画面の案内（英語）"), False, _ENGLISH_PAGE_HELP)
    confirmation_mail_text = _text(_("予約確認メールの本文"), True, rows=8, lang="ja")
    confirmation_mail_text_en = _text(_("予約確認メールの本文（英語）"), False, _ENGLISH_MAIL_HELP, rows=8)
    reminder_mail_text = _text(_("前日リマインドメールの本文"), True, rows=8, lang="ja")
    reminder_mail_text_en = _text(_("前日リマインドメールの本文（英語）"), False, _ENGLISH_MAIL_HELP, rows=8)
    callcenter_script = _text(
        _("コールセンターの読み上げ項目（1行に1項目）"),
        True,
        _("予約の後にオペレーターが読み上げ、項目ごとにチェックします。差し込み項目はメールと同じです。"),
        rows=6,
        lang="ja",
    )
    report_emails = _text(_("日報・月報の送付先（1行に1件）"), False, rows=3)

    def problems(self, data: texts.TextsInput) -> Mapping[str, str]:
        return texts.texts_problems(data)


class PlaceForm(SeenForm, _Checked):
    input_class = places.PlaceInput

    code = forms.CharField(
        label=_("コード"), max_length=40, help_text=_("英数字・ハイフン・アンダースコア（例: ward-sakyo）")
    )
    # The Japanese name and address are typed in Japanese whatever the console's language: lang="ja" says so.
    name = forms.CharField(label=_("名称"), max_length=100, widget=forms.TextInput(attrs={"lang": "ja"}))
    name_en = forms.CharField(label=_("名称（英語）"), max_length=150, required=False)
    kind = forms.ChoiceField(label=_("種別"), choices=Place.Kind.choices)
    address = forms.CharField(label=_("所在地"), max_length=200, widget=forms.TextInput(attrs={"lang": "ja"}))
    starts_on = _date(_("実施開始日"), _("空欄なら開始日の制限なし"))
    ends_on = _date(_("実施終了日"), _("受付を終える場合に設定します。空欄なら終了日なし"))
    bookable_from = _date(_("予約受付開始日（この場所だけ遅らせる場合）"), _("空欄なら予約設定のとおり"))
    bookable_until = _date(_("予約受付可能日（この場所だけ変える場合）"), _("空欄なら予約設定の日付"))
    display_order = _number(_("表示順"), 0, 32767, _("小さい順に表示します。"))

    def __init__(self, *args: Any, place: Place | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.place = place

    def problems(self, data: places.PlaceInput) -> Mapping[str, str]:
        return places.place_problems(data, self.place)


class WeekdayCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes whose group points at its first box, so the error summary's link lands on the group."""

    def id_for_label(self, id_: str, index: str | None = None) -> str:
        return super().id_for_label(id_, "0" if index is None else index)


class PatternForm(SeenForm, _Checked):
    service = forms.ModelChoiceField(label=_("サービス"), queryset=Service.objects.all(), empty_label=None)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("曜日"), choices=Weekday.choices, coerce=int, required=False, widget=WeekdayCheckboxes
    )
    opens_at = _time(_("開始時刻"))
    closes_at = _time(_("終了時刻"))
    last_reception_at = _time(_("最終受付"))
    slot_minutes = forms.IntegerField(
        label=_("1枠の長さ（分）"), widget=forms.Select(choices=[("", "---------"), *SLOT_MINUTES_CHOICES])
    )
    capacity = _number(_("1枠の予約可能人数"), 1, patterns.MAX_CAPACITY)

    def problems(self, data: patterns.PatternInput) -> Mapping[str, str]:
        return patterns.pattern_problems(data)

    def to_input(self) -> patterns.PatternInput:
        d = self.cleaned_data
        return patterns.PatternInput(
            service=d["service"],
            weekdays=tuple(d["weekdays"]),
            opens_at=d["opens_at"],
            closes_at=d["closes_at"],
            last_reception_at=d["last_reception_at"],
            slot_minutes=d["slot_minutes"],
            capacity=d["capacity"],
        )


class ClosedDayForm(_Checked):
    date = TypedDateField(label=_("日付"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    place = forms.ModelChoiceField(
        label=_("交付場所"),
        queryset=Place.objects.all(),
        required=False,
        empty_label=_("全ての交付場所"),
        help_text=_("空欄（全ての交付場所）なら、その日は全ての場所で受付を行いません。"),
    )
    reason = forms.CharField(label=_("理由"), max_length=200, required=False, help_text=_("例: システム保守"))
    despite_bookings = forms.BooleanField(
        label=_("予約があっても休止日にする（予約は別途連絡・変更）"), required=False
    )

    def problems(self, data: closed_days.ClosedDayInput) -> Mapping[str, str]:
        return closed_days.closed_day_problems(data, timezone.localdate())

    def to_input(self) -> closed_days.ClosedDayInput:
        d = self.cleaned_data
        return closed_days.ClosedDayInput(date=d["date"], place=d["place"], reason=d["reason"])


def initial_of(obj: Any, names: list[str]) -> dict[str, Any]:
    """A form's initial values from a model instance (a foreign key as its id)."""
    values = {name: getattr(obj, name) for name in names}
    if isinstance(values.get("service"), Service):
        values["service"] = values["service"].pk
    return values
