"""The administrator's settings screens (AD-04, AD-07, BK-12): the booking window and deadline, the citizen's
contact fields, texts and mails, places, their opening patterns, and closed days.

Server-rendered and usable without JavaScript: every form posts back to its page, which saves and
redirects, or shows the page again (status 400) with an error summary and, when existing bookings are in
the way, the list of them. Every write goes through a `do_*` of `booking.configuration`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from booking.access.gate import actor_of, staff_view
from booking.access.permissions import Can
from booking.audit import oplog
from booking.configuration.changes import Seen, SettingsChangedMeanwhile, SettingsInvalid, SettingsRefused
from booking.configuration.closed_days import do_add_closed_day, do_delete_closed_day
from booking.configuration.forms import (
    BringTextsForm,
    CardRulesForm,
    ClosedDayForm,
    ContactForm,
    FieldsForm,
    PatternForm,
    PlaceForm,
    SeenForm,
    Text,
    TextsForm,
    WindowForm,
    add_problems,
    initial_of,
)
from booking.configuration.patterns import (
    PatternInput,
    do_delete_pattern,
    do_save_pattern,
    patterns_by_service,
)
from booking.configuration.places import PlaceInput, do_delete_place, do_save_place
from booking.configuration.rule_settings import (
    WindowInput,
    describe_deadline,
    do_update_card_rules,
    do_update_contact,
    do_update_fields,
    do_update_window,
    earliest_bookable_day,
)
from booking.configuration.texts import (
    PLACEHOLDER_HELP,
    TextsInput,
    bring_values,
    do_update_bring_texts,
    do_update_texts,
    mail_previews,
)
from booking.engine.queries import booking_rules
from booking.engine.texts import LocalText
from booking.models import ClosedDay, FieldRequirement, OpeningPattern, Place, Service

T = "booking/staff/settings/"
# What each settings form edits: the fields of the service's input, in one place.
WINDOW_FIELDS = [f.name for f in fields(WindowInput)]
TEXT_FIELDS = [f.name for f in fields(TextsInput)]
PLACE_FIELDS = [f.name for f in fields(PlaceInput)]
PATTERN_FIELDS = [f.name for f in fields(PatternInput)]


def _saved(request: HttpRequest, changes: dict[str, Any], what: str) -> None:
    if changes:
        messages.success(request, _("%(what)sを保存しました。") % {"what": what})
    else:
        messages.info(request, _("変更はありませんでした。"))


def _tell_saved_over(
    request: HttpRequest, form: SeenForm, changed: SettingsChangedMeanwhile, *, typed_kept: bool = False
) -> None:
    """The settings were changed since the page was shown: nothing was saved; the person is told which
    fields. The page is shown again with what is saved now, or (`typed_kept`: a page of long texts, which
    emptying would lose) as typed, to replace the other change when saved again."""
    if typed_kept:
        text = _(
            "この設定は、画面を開いた後に別の画面で変更されました（%(fields)s）。入力した内容はまだ保存して"
            "いません（入力欄は入力したままです）。もう一度保存すると、入力した内容で上書きします。"
        )
    else:
        text = _(
            "この設定は、画面を開いた後に別の画面で変更されました（%(fields)s）。入力した内容は保存して"
            "いません。いまの設定を確かめて、もう一度入力してください。"
        )
    messages.warning(request, text % {"fields": _("、").join(form.labels(changed.fields))})


# A place or pattern deleted since its page was shown, or deleted twice
PLACE_GONE = gettext_lazy("この交付場所は、画面を開いた後に削除されました。何も保存していません。")
PATTERN_GONE = gettext_lazy("この受付パターンは、画面を開いた後に削除されました。何も保存していません。")
PLACE_DELETED = gettext_lazy("この交付場所はすでに削除されています。")
PATTERN_DELETED = gettext_lazy("この受付パターンはすでに削除されています。")


def _gone(request: HttpRequest, message: Text) -> HttpResponseBase:
    """A place or pattern deleted since its page was shown (another tab, a second click): said so, not a
    404 page, back to the places."""
    messages.warning(request, message)
    return redirect("staff:settings_places")


def _refusal(refused: SettingsRefused) -> dict[str, Any]:
    return {
        "problem": refused.message,
        "affected_slots": refused.slots,
        "affected_bookings": refused.bookings,
    }


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
def overview(request: HttpRequest) -> HttpResponse:
    rules = booking_rules()
    today = timezone.localdate()
    return render(
        request,
        T + "index.html",
        {
            "rules": rules,
            "first_day": earliest_bookable_day(rules),
            "deadline": describe_deadline(rules),
            "requirements": dict(FieldRequirement.choices),
            "places": Place.objects.count(),
            "patterns": OpeningPattern.objects.count(),
            "closed_days": ClosedDay.objects.filter(date__gte=today).count(),
        },
    )


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def window(request: HttpRequest) -> HttpResponseBase:
    rules = booking_rules()
    current = initial_of(rules, WINDOW_FIELDS)
    status = 200
    if request.method == "POST":
        form = WindowForm(request.POST)
        if form.is_valid():
            try:
                changes = do_update_window(actor_of(request), form.to_input(), seen=form.seen_values())
            except SettingsInvalid as exc:
                add_problems(form, exc.errors)
            except SettingsChangedMeanwhile as changed:
                _tell_saved_over(request, form, changed)
                rules = booking_rules()
                current = initial_of(rules, WINDOW_FIELDS)
                form, status = WindowForm(initial=current).show(current), 409
            else:
                _saved(request, changes, _("受付期間と締切"))
                return redirect("staff:settings_window")
    else:
        form = WindowForm(initial=current).show(current)
    return render(
        request,
        T + "window.html",
        {
            "form": form,
            "first_day": earliest_bookable_day(rules),
            "deadline": describe_deadline(rules),
        },
        status=400 if form.errors else status,
    )


def _rules_page(
    request: HttpRequest,
    form_class: type[CardRulesForm] | type[FieldsForm] | type[ContactForm],
    update: Callable[[oplog.Actor, Any, Seen | None], dict[str, dict[str, Any]]],
    page: str,
    title: str,
    intro: str,
) -> HttpResponseBase:
    """A settings page of the booking rules that is one form: show it, save it through `update`."""
    names = [f.name for f in fields(form_class.input_class)]
    current = initial_of(booking_rules(), names)
    status = 200
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                changes = update(actor_of(request), form.to_input(), form.seen_values())
            except SettingsInvalid as exc:
                add_problems(form, exc.errors)
            except SettingsChangedMeanwhile as changed:
                _tell_saved_over(request, form, changed)
                current = initial_of(booking_rules(), names)
                form, status = form_class(initial=current).show(current), 409
            else:
                _saved(request, changes, title)
                return redirect(f"staff:settings_{page}")
    else:
        form = form_class(initial=current).show(current)
    context = {"form": form, "current": page, "title": title, "intro": intro}
    return render(request, T + "rules_form.html", context, status=400 if form.errors else status)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def card_rules(request: HttpRequest) -> HttpResponseBase:
    intro = _(
        "移送リストは、来庁日ごとに、ここで決めた日時に締めます。締めた後の予約・変更・取消は、"
        "移送リストに「締め後の変更」として表示されます。"
    )
    return _rules_page(request, CardRulesForm, do_update_card_rules, "cards", _("カードの移送と滞留"), intro)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def contact_fields(request: HttpRequest) -> HttpResponseBase:
    intro = _("予約の確定前に市民が入力する連絡先です。予約に必要な連絡先のほかは求めません。")
    return _rules_page(request, FieldsForm, do_update_fields, "fields", _("入力項目"), intro)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def callcenter_contact(request: HttpRequest) -> HttpResponseBase:
    intro = _(
        "市民向けの画面で「コールセンターにお問い合わせください」と案内するところ、トップページ、メール、"
        "交付通知書に、この電話番号と受付時間を表示します。"
    )
    return _rules_page(request, ContactForm, do_update_contact, "contact", _("コールセンターの連絡先"), intro)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def bring_texts(request: HttpRequest) -> HttpResponseBase:
    """Each service's "what to bring": shown to residents, in mails ({bring}) and to operators."""
    services = list(Service.objects.order_by("display_order", "code"))
    form = BringTextsForm(services, request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            changes = do_update_bring_texts(actor_of(request), form.to_input(), form.seen_values())
        except SettingsInvalid as exc:
            add_problems(form, exc.errors)
        except SettingsChangedMeanwhile as changed:
            _tell_saved_over(request, form, changed, typed_kept=True)
            services = list(Service.objects.order_by("display_order", "code"))
            form, status = BringTextsForm(services, form.typed_over(bring_values(services))), 409
        else:
            _saved(request, changes, _("サービスごとの持ち物"))
            return redirect("staff:settings_services")
    elif request.method != "POST":
        form.show(bring_values(services))
    intro = _(
        "サービスごとの持ち物です。予約完了画面、メールの {bring}、コールセンターの読み上げに使います。"
        "空欄のサービスには「画面とメールの文章」の持ち物を使います。"
    )
    context = {"form": form, "current": "services", "title": _("サービスごとの持ち物"), "intro": intro}
    return render(request, T + "rules_form.html", context, status=400 if form.errors else status)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def texts(request: HttpRequest) -> HttpResponseBase:
    """Texts and mails; "プレビュー" shows the mails as typed without saving."""
    rules = booking_rules()
    previews: dict[str, LocalText] | None = None
    status = 200
    if request.method == "POST":
        form = TextsForm(request.POST)
        if form.is_valid():
            if request.POST.get("action") == "preview":
                previews = mail_previews(rules, form.to_input())
            else:
                try:
                    changes = do_update_texts(actor_of(request), form.to_input(), form.seen_values())
                except SettingsInvalid as exc:
                    add_problems(form, exc.errors)
                except SettingsChangedMeanwhile as changed:
                    _tell_saved_over(request, form, changed, typed_kept=True)
                    form = TextsForm(form.typed_over(initial_of(booking_rules(), TEXT_FIELDS)))
                    status = 409
                else:
                    _saved(request, changes, _("文章"))
                    return redirect("staff:settings_texts")
    else:
        current = initial_of(rules, TEXT_FIELDS)
        form = TextsForm(initial=current).show(current)
        previews = mail_previews(rules, TextsInput(**current))
    return render(
        request,
        T + "texts.html",
        {
            "form": form,
            "previews": previews,
            "placeholders": PLACEHOLDER_HELP.items(),
            "preview_of_typed": request.method == "POST",
        },
        status=400 if form.errors else status,
    )


# --- places --------------------------------------------------------------------------------------------


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
def places(request: HttpRequest) -> HttpResponse:
    rows = Place.objects.order_by("display_order", "code").prefetch_related("opening_patterns__service")
    return render(request, T + "places.html", {"places": rows, "today": timezone.localdate()})


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def place_new(request: HttpRequest) -> HttpResponseBase:
    form = PlaceForm(request.POST or None, initial={"kind": Place.Kind.WARD_OFFICE, "display_order": 0})
    context: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        try:
            created, _changes = do_save_place(actor_of(request), None, form.to_input())
        except SettingsInvalid as exc:
            add_problems(form, exc.errors)
        except SettingsRefused as refused:
            context = _refusal(refused)
        else:
            messages.success(
                request,
                _("交付場所「%(name)s」を追加しました。続けて受付パターンを追加してください。")
                % {"name": created.name},
            )
            return redirect("staff:settings_place", pk=created.pk)
    failed = request.method == "POST"
    return render(
        request, T + "place.html", {"form": form, "place": None, **context}, status=400 if failed else 200
    )


def _place_page(
    request: HttpRequest, place: Place, form: PlaceForm, status: int = 200, **extra: Any
) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        T + "place.html",
        {
            "form": form,
            "place": place,
            "patterns": patterns_by_service(place),
            "closed_days": place.closed_days.filter(date__gte=today),
            **extra,
        },
        status=status,
    )


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def place_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    place = Place.objects.filter(pk=pk).first()
    if place is None and request.method == "POST":
        return _gone(request, PLACE_GONE)
    if place is None:
        raise Http404
    current = initial_of(place, PLACE_FIELDS)
    if request.method != "POST":
        return _place_page(request, place, PlaceForm(initial=current, place=place).show(current))
    form = PlaceForm(request.POST, place=place)
    context: dict[str, Any] = {}
    if form.is_valid():
        try:
            _saved_place, changes = do_save_place(
                actor_of(request), place, form.to_input(), seen=form.seen_values()
            )
        except SettingsInvalid as exc:
            add_problems(form, exc.errors)
        except Place.DoesNotExist:  # deleted in another tab since this page was shown
            return _gone(request, PLACE_GONE)
        except SettingsChangedMeanwhile as changed:
            _tell_saved_over(request, form, changed)
            place.refresh_from_db()
            current = initial_of(place, PLACE_FIELDS)
            return _place_page(request, place, PlaceForm(initial=current, place=place).show(current), 409)
        except SettingsRefused as refused:
            context = _refusal(refused)
        else:
            _saved(request, changes, _("交付場所"))
            return redirect("staff:settings_place", pk=place.pk)
    return _place_page(request, place, form, 400, **context)


@staff_view(Can.EDIT_SETTINGS)
@require_POST
def place_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    place = Place.objects.filter(pk=pk).first()
    if place is None:
        return _gone(request, PLACE_DELETED)
    try:
        do_delete_place(actor_of(request), place)
    except Place.DoesNotExist:  # two deletes crossed: the other one did it
        return _gone(request, PLACE_DELETED)
    except SettingsRefused as refused:
        current = initial_of(place, PLACE_FIELDS)
        form = PlaceForm(initial=current, place=place).show(current)
        return _place_page(request, place, form, 400, **_refusal(refused))
    messages.success(request, _("交付場所「%(name)s」を削除しました。") % {"name": place.name})
    return redirect("staff:settings_places")


# --- opening patterns ----------------------------------------------------------------------------------


def _pattern_page(
    request: HttpRequest,
    place: Place,
    pattern: OpeningPattern | None,
    form: PatternForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    return render(
        request,
        T + "pattern.html",
        {"form": form, "place": place, "pattern": pattern, **extra},
        status=status,
    )


def _save_pattern(request: HttpRequest, place: Place, pattern: OpeningPattern | None) -> HttpResponseBase:
    form = PatternForm(request.POST)
    context: dict[str, Any] = {}
    if form.is_valid():
        try:
            _saved_pattern, changes, updated = do_save_pattern(
                actor_of(request), place, pattern, form.to_input(), seen=form.seen_values()
            )
        except SettingsInvalid as exc:
            add_problems(form, exc.errors)
        except OpeningPattern.DoesNotExist:  # deleted in another tab since this page was shown
            return _gone(request, PATTERN_GONE)
        except SettingsChangedMeanwhile as changed:
            _tell_saved_over(request, form, changed)
            assert pattern is not None  # a new pattern is compared with nothing
            pattern.refresh_from_db()
            current = initial_of(pattern, PATTERN_FIELDS)
            return _pattern_page(request, place, pattern, PatternForm(initial=current).show(current), 409)
        except SettingsRefused as refused:
            context = _refusal(refused)
        else:
            _saved(request, changes, _("受付パターン"))
            if updated:
                messages.info(
                    request,
                    _("予約済みの枠 %(n)d 件の定員・終了時刻を新しい設定に合わせました。") % {"n": updated},
                )
            return redirect("staff:settings_place", pk=place.pk)
    return _pattern_page(request, place, pattern, form, 400, **context)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def pattern_new(request: HttpRequest, pk: int) -> HttpResponseBase:
    place = get_object_or_404(Place, pk=pk)
    if request.method == "POST":
        return _save_pattern(request, place, None)
    form = PatternForm(initial={"weekdays": [0, 1, 2, 3, 4], "slot_minutes": 15, "capacity": 1})
    return _pattern_page(request, place, None, form)


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def pattern_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    pattern = OpeningPattern.objects.select_related("place", "service").filter(pk=pk).first()
    if pattern is None and request.method == "POST":
        return _gone(request, PATTERN_GONE)
    if pattern is None:
        raise Http404
    if request.method == "POST":
        return _save_pattern(request, pattern.place, pattern)
    current = initial_of(pattern, PATTERN_FIELDS)
    return _pattern_page(request, pattern.place, pattern, PatternForm(initial=current).show(current))


@staff_view(Can.EDIT_SETTINGS)
@require_POST
def pattern_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    pattern = OpeningPattern.objects.select_related("place", "service").filter(pk=pk).first()
    if pattern is None:
        return _gone(request, PATTERN_DELETED)
    try:
        do_delete_pattern(actor_of(request), pattern)
    except OpeningPattern.DoesNotExist:  # two deletes crossed: the other one did it
        return _gone(request, PATTERN_DELETED)
    except SettingsRefused as refused:
        current = initial_of(pattern, PATTERN_FIELDS)
        form = PatternForm(initial=current).show(current)  # with its mark, so that it saves
        return _pattern_page(request, pattern.place, pattern, form, 400, **_refusal(refused))
    messages.success(request, _("受付パターンを削除しました。"))
    return redirect("staff:settings_place", pk=pattern.place.pk)


# --- closed days ---------------------------------------------------------------------------------------


@staff_view(Can.EDIT_SETTINGS, log_reads="settings.view")
@require_http_methods(["GET", "POST"])
def closed_days(request: HttpRequest) -> HttpResponseBase:
    form = ClosedDayForm(request.POST or None)
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                closed, affected = do_add_closed_day(
                    actor_of(request), form.to_input(), despite_bookings=form.cleaned_data["despite_bookings"]
                )
            except SettingsInvalid as exc:
                add_problems(form, exc.errors)
            except SettingsRefused as refused:
                context = {**_refusal(refused), "offer_override": True}
            else:
                if not affected:
                    messages.success(request, _("休止日を登録しました。"))
                    return redirect("staff:settings_closed_days")
                # Saved despite bookings: stay on the page and list them so staff can contact each person.
                status = 200
                form = ClosedDayForm()
                context = {"registered": closed, "to_contact": affected}
    return render(
        request,
        T + "closed_days.html",
        {
            "form": form,
            "closed_days": ClosedDay.objects.filter(date__gte=timezone.localdate()).select_related("place"),
            **context,
        },
        status=status,
    )


@staff_view(Can.EDIT_SETTINGS)
@require_POST
def closed_day_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    closed = ClosedDay.objects.select_related("place").filter(pk=pk).first()
    if closed is None:  # deleted meanwhile (a second click, another tab): said so, not a 404 page
        messages.info(request, _("この休止日はすでに削除されています。"))
        return redirect("staff:settings_closed_days")
    do_delete_closed_day(actor_of(request), closed)
    messages.success(request, _("休止日を削除しました。"))
    return redirect("staff:settings_closed_days")
