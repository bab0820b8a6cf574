"""Two saves of one settings page, or of one name, at the same instant (two tabs, two administrators), over
real connections.

The page's mark of what it showed (`SeenForm`) is compared by the service under the row's lock, so the second
save reads the first one's values and is refused; compared before the lock, both passed and the last won.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from functools import partial
from importlib import import_module
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.test import Client

from booking.access.accounts import StaffAccountError, do_create_staff
from booking.audit import oplog
from booking.configuration.changes import SettingsChangedMeanwhile, SettingsInvalid, comparable
from booking.configuration.places import PlaceInput, do_delete_place, do_save_place
from booking.configuration.rule_settings import WindowInput, do_update_window
from booking.engine.queries import booking_rules
from booking.models import OpeningPattern, Place, Service
from tests import factories
from tests.concurrency import race
from tests.configuration.test_staff_settings import (  # noqa: F401 (admin: a fixture)
    _seen,
    admin,
    center_pattern,
    pattern_form,
    place_form,
    texts_form,
)

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]
Committed = Callable[[Callable[[], Any]], Any]
ADMIN = oplog.Actor(None, "admin", "127.0.0.1")


def _at_once(
    saves: Sequence[Callable[[], object]], refusal: type[Exception] = SettingsChangedMeanwhile
) -> list[str]:
    """Run the saves at once; each outcome is "saved", or what it was refused over (the fields of a
    `SettingsChangedMeanwhile`, the message of another refusal)."""
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(save: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                save()
                outcome = "saved"
            except refusal as refused:
                fields = getattr(refused, "fields", None)
                outcome = ",".join(fields) if fields is not None else str(refused)
            with lock:
                outcomes.append(outcome)

        return run

    assert race([attempt(save) for save in saves]) == {"ok": len(saves)}
    return sorted(outcomes, key=lambda outcome: (outcome != "saved", outcome))  # "saved" first


def test_two_saves_of_one_window_page_at_once_save_one(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        rules = booking_rules()
        names = [f.name for f in dataclasses.fields(WindowInput)]
        seen = comparable({name: getattr(rules, name) for name in names})
        base = WindowInput(**{name: getattr(rules, name) for name in names})
        first = dataclasses.replace(base, hold_minutes=base.hold_minutes + 5)
        second = dataclasses.replace(base, first_days_ahead=base.first_days_ahead + 1)

        outcomes = _at_once([partial(do_update_window, ADMIN, d, seen=seen) for d in (first, second)])

        assert outcomes[0] == "saved"
        assert outcomes[1] in ("hold_minutes", "first_days_ahead")  # the loser names the winner's field
        after = booking_rules()
        changed = [after.hold_minutes != base.hold_minutes, after.first_days_ahead != base.first_days_ahead]
        assert sum(changed) == 1, "one save stands whole, the other wrote nothing"

    committed_kyoto(scenario)


def test_two_saves_of_one_place_page_at_once_save_one(committed_kyoto: Committed) -> None:
    def scenario() -> None:
        place, _ = do_save_place(ADMIN, None, _place_input(code="at-once", address="京都市テスト区1-1"))
        try:
            names = [f.name for f in dataclasses.fields(PlaceInput)]
            seen = comparable({name: getattr(place, name) for name in names})
            base = _place_input(code="at-once", address="京都市テスト区1-1")
            one = dataclasses.replace(base, address="京都市テスト区2-2")
            other = dataclasses.replace(base, name_en="Another name")

            outcomes = _at_once([partial(do_save_place, ADMIN, place, d, seen=seen) for d in (one, other)])

            assert outcomes[0] == "saved" and outcomes[1] in ("address", "name_en")
            place.refresh_from_db()
            assert (place.address == "京都市テスト区2-2") != (place.name_en == "Another name")
        finally:
            do_delete_place(ADMIN, place)

    committed_kyoto(scenario)


def test_a_save_without_the_mark_is_taken_as_it_is(kyoto: None) -> None:
    rules = booking_rules()
    names = [f.name for f in dataclasses.fields(WindowInput)]
    data = WindowInput(**{name: getattr(rules, name) for name in names})
    longer = dataclasses.replace(data, hold_minutes=rules.hold_minutes + 1)
    changes = do_update_window(ADMIN, longer, seen=None)
    assert set(changes) == {"hold_minutes"}
    with pytest.raises(SettingsChangedMeanwhile) as refused:  # a mark that is no mark: every field changed
        do_update_window(ADMIN, data, seen={})
    assert refused.value.fields == names


def test_a_place_deleted_since_its_page_was_shown_is_said_so(admin: Client) -> None:  # noqa: F811
    place = factories.place("kita")
    sent = place_form(place, address="京都市北区 別の住所")
    Place.objects.filter(pk=place.pk).delete()
    answer = admin.post(f"/staff/settings/places/{place.pk}/", sent, follow=True)
    assert answer.redirect_chain == [("/staff/settings/places/", 302)]
    assert "画面を開いた後に削除されました" in answer.content.decode()


def _place_input(**values: Any) -> PlaceInput:
    """The settings tests' place form, as the service takes it (a blank day is None)."""
    sent = {**place_form(), **values}
    data: dict[str, Any] = {
        f.name: sent[f.name] if sent[f.name] != "" else None for f in dataclasses.fields(PlaceInput)
    }
    return PlaceInput(**data)


def test_a_place_deleted_twice_is_said_so(admin: Client) -> None:  # noqa: F811
    place = factories.place("kita")
    Place.objects.filter(pk=place.pk).delete()
    answer = admin.post(f"/staff/settings/places/{place.pk}/delete/", follow=True)
    assert answer.redirect_chain == [("/staff/settings/places/", 302)]
    assert "この交付場所はすでに削除されています。" in answer.content.decode()


# --- names unique in any case, kept by the database (migration 0027) ------------------------------------


def _make_user(name: str) -> object:
    return do_create_staff(ADMIN, name, "viewer", "Correct-horse-7-battery")


def _make_place(code: str) -> object:
    return do_save_place(ADMIN, None, _place_input(code=code))


@pytest.mark.parametrize(
    ("make", "refusal", "told", "rows"),
    [
        (
            _make_user,
            StaffAccountError,
            "は既にあります",
            lambda: User.objects.filter(username__iexact="twin-one"),
        ),
        (
            _make_place,
            SettingsInvalid,
            "このコードは他の交付場所で使われています",
            lambda: Place.objects.filter(code__iexact="twin-one"),
        ),
    ],
    ids=["user ID", "place code"],
)
def test_one_name_made_twice_at_once_in_two_cases_makes_one(
    committed_kyoto: Committed,
    make: Callable[[str], object],
    refusal: type[Exception],
    told: str,
    rows: Callable[[], Any],
) -> None:
    def scenario() -> None:
        try:
            outcomes = _at_once([partial(make, name) for name in ("twin-one", "TWIN-ONE")], refusal)
            assert outcomes[0] == "saved" and told in outcomes[1]
            assert rows().count() == 1
        finally:
            rows().delete()

    committed_kyoto(scenario)


def test_a_schema_holding_twins_is_not_migrated_silently(kyoto: None) -> None:
    twins = import_module("booking.migrations.0027_names_unique_in_any_case")
    with connection.cursor() as cursor:  # as a schema made before the index could hold them
        cursor.execute("DROP INDEX place_code_unique_in_any_case")
    factories.place("kita")
    Place.objects.create(code="KITA", name="北区役所（重複）", address="京都市北区")
    with pytest.raises(RuntimeError) as stopped:
        twins.refuse_existing_twins(None, connection.schema_editor())
    named = str(stopped.value).split("booking_place.code: ", 1)[1].split(";")[0]
    assert set(named.split(" / ")) == {"KITA", "kita"}  # in whichever order the collation sorts them


def test_the_database_refuses_twins_whoever_writes_them(kyoto: None) -> None:
    """The services' look before writing can be passed by two writes at once (above); the index cannot."""
    factories.place("kita")
    User.objects.create(username="desk-a")
    for twin in (
        lambda: Place.objects.create(code="Kita", name="北", address="京都市"),
        lambda: User.objects.create(username="DESK-A"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            twin()


# --- opening patterns ---------------------------------------------------------------------------------


def test_a_pattern_page_opened_before_another_change_does_not_undo_it(admin: Client) -> None:  # noqa: F811
    pattern = center_pattern()
    url = f"/staff/settings/patterns/{pattern.pk}/"
    seen_a, seen_b = _seen(admin.get(url)), _seen(admin.get(url))
    assert (
        admin.post(url, pattern_form(pattern, capacity=pattern.capacity + 1, seen=seen_b)).status_code == 302
    )
    stale = pattern_form(pattern, opens_at="08:00", seen=seen_a)  # tab A still shows the old capacity
    refused = admin.post(url, stale)
    assert refused.status_code == 409 and "1枠の予約可能人数" in refused.content.decode()
    after = OpeningPattern.objects.get(pk=pattern.pk)
    assert (after.capacity, after.opens_at) == (pattern.capacity + 1, pattern.opens_at)
    # the page shown again holds what is saved now, and saves
    fresh = pattern_form(after, opens_at="08:00", seen=_seen(refused))
    assert admin.post(url, fresh).status_code == 302


def test_a_pattern_deleted_since_its_page_was_shown_is_said_so(admin: Client) -> None:  # noqa: F811
    pattern = center_pattern()
    sent = pattern_form(
        pattern,
        capacity=pattern.capacity + 1,
        seen=_seen(admin.get(f"/staff/settings/patterns/{pattern.pk}/")),
    )
    OpeningPattern.objects.filter(pk=pattern.pk).delete()
    answer = admin.post(f"/staff/settings/patterns/{pattern.pk}/", sent, follow=True)
    assert answer.redirect_chain == [("/staff/settings/places/", 302)]
    assert "この受付パターンは、画面を開いた後に削除されました" in answer.content.decode()


# --- long texts: refused over a later change, shown again as typed --------------------------------------


def test_a_texts_page_opened_before_another_change_keeps_what_was_typed(admin: Client) -> None:  # noqa: F811
    url = "/staff/settings/texts/"
    seen_a, seen_b = _seen(admin.get(url)), _seen(admin.get(url))
    assert admin.post(url, texts_form(text_top="Bの案内", seen=seen_b)).status_code == 302
    typed = texts_form(text_done="Aが長く書いた完了画面の文章", seen=seen_a)
    typed["text_top"] = ""  # what tab A showed
    refused = admin.post(url, typed)
    page = refused.content.decode()
    assert refused.status_code == 409 and "トップページの説明" in page and "入力欄は入力したままです" in page
    assert "Aが長く書いた完了画面の文章" in page
    assert (booking_rules().text_top, booking_rules().text_done) != ("", "Aが長く書いた完了画面の文章")
    assert booking_rules().text_top == "Bの案内"
    # saved again from the page shown: A's text replaces B's change, knowingly
    assert admin.post(url, {**typed, "seen": _seen(refused)}).status_code == 302
    assert (booking_rules().text_top, booking_rules().text_done) == ("", "Aが長く書いた完了画面の文章")


def test_a_bring_page_opened_before_another_change_keeps_what_was_typed(admin: Client) -> None:  # noqa: F811
    url = "/staff/settings/services/"
    seen_a, seen_b = _seen(admin.get(url)), _seen(admin.get(url))
    shown = {
        f"{s.code}__{f}": getattr(s, f)
        for s in Service.objects.all()
        for f in ("bring_text", "bring_text_en")
    }
    assert admin.post(url, {**shown, "pin_reset__bring_text": "Bの持ち物", "seen": seen_b}).status_code == 302
    refused = admin.post(url, {**shown, "card_issuance__bring_text": "Aの持ち物", "seen": seen_a})
    assert refused.status_code == 409 and "Aの持ち物" in refused.content.decode()
    assert Service.objects.get(code="pin_reset").bring_text == "Bの持ち物"
    assert Service.objects.get(code="card_issuance").bring_text == ""


# --- every page with the mark, as a browser sends it back --------------------------------------------------


def _as_sent(page: Any) -> dict[str, Any]:
    """What the page's form sends unchanged: each field's shown value (a list for checkboxes)."""
    form = page.context["form"]
    sent: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, list | tuple):
            sent[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                sent[name] = "on"
        elif value is not None:
            sent[name] = str(value)
    return sent


@pytest.mark.parametrize(
    "page",
    ["window/", "fields/", "contact/", "cards/", "texts/", "services/", "place", "pattern"],
)
def test_a_page_saved_unchanged_from_the_browser_is_not_refused(admin: Client, page: str) -> None:  # noqa: F811
    """GET the page, send its form back as shown: saved (302), never "changed meanwhile" (the contact page's
    number, shown with hyphens, was marked as shown and every save of it was refused)."""
    from booking.configuration.rule_settings import ContactInput, do_update_contact

    do_update_contact(ADMIN, ContactInput("0751234567", "平日 9:00〜17:00", "Weekdays 9:00–17:00"))
    if page == "place":
        url = f"/staff/settings/places/{factories.place().pk}/"
    elif page == "pattern":
        url = f"/staff/settings/patterns/{center_pattern().pk}/"
    else:
        url = f"/staff/settings/{page}"
    shown = admin.get(url)
    assert shown.status_code == 200
    saved = admin.post(url, _as_sent(shown))
    assert saved.status_code == 302, saved.content.decode()[:3000]


def test_two_administrators_demoting_each_other_at_once_leave_one(committed_kyoto: Committed) -> None:
    """Each demotion looks for another administrator; made at the same instant, both looked before either
    wrote and none was left. Every administrator's row is locked first, in one order."""
    from booking.access.accounts import do_set_role
    from booking.models import StaffProfile

    def scenario() -> None:
        names = ("admin-east", "admin-west")
        others = list(StaffProfile.objects.filter(role="administrator").values_list("pk", flat=True))
        try:
            for name in names:
                _make_user(name)
            StaffProfile.objects.filter(pk__in=others).update(role="viewer")  # only these two, for now
            StaffProfile.objects.filter(user__username__in=names).update(role="administrator")
            east, west = (StaffProfile.objects.get(user__username=name) for name in names)
            outcomes = _at_once(
                [partial(do_set_role, ADMIN, west, "viewer"), partial(do_set_role, ADMIN, east, "viewer")],
                StaffAccountError,
            )
            assert outcomes[0] == "saved" and "最後の管理者" in outcomes[1]
            assert StaffProfile.objects.filter(role="administrator").count() == 1
        finally:
            User.objects.filter(username__in=names).delete()
            StaffProfile.objects.filter(pk__in=others).update(role="administrator")

    committed_kyoto(scenario)
