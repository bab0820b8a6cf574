"""The administrator's settings screens (AD-04, AD-07, BK-12): who may use them, each form's happy path with
its operation-log entry, validation, and the rule that changes never silently drop existing bookings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.access.accounts import do_create_staff
from booking.audit import oplog
from booking.engine.queries import booking_rules
from booking.engine.services import do_book, do_change
from booking.lib.dates import TOKYO
from booking.models import Booking, BookingSettings, ClosedDay, OpeningPattern, OperationLogEntry, Place, Slot
from tests import factories
from tests.conftest import KYOTO_HOST, MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db
PASSWORD = "Str0ng!Pass"
SETUP = oplog.Actor(None, "test", "127.0.0.1")


def signed_in(username: str, role: str, host: str = KYOTO_HOST) -> Client:
    """A staff user made in the current schema, signed in through the login form."""
    do_create_staff(SETUP, username, role, PASSWORD, must_change=False)
    client = Client(HTTP_HOST=host)
    response = client.post("/staff/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


@pytest.fixture
def admin(kyoto: None) -> Client:
    return signed_in("settings-admin", "administrator")


def text(response: Any) -> str:
    return response.content.decode()


def shows_error(page: str, expected: str) -> bool:
    """`expected` is a message, or "#field" for Django's own message on that field (the summary links it)."""
    assert 'class="error-summary"' in page
    if expected.startswith("#"):
        return f'href="#id_{expected[1:]}' in page
    return expected in page


def last_entry(action: str) -> OperationLogEntry:
    entry = OperationLogEntry.objects.filter(action=action).order_by("-seq").first()
    assert entry is not None, f"no {action} entry"
    return entry


def entries(action: str) -> int:
    return OperationLogEntry.objects.filter(action=action).count()


def book(starts_at: dt.datetime | None = None, place_code: str = "center-3f") -> Booking:
    starts_at = starts_at or factories.next_free_slot(place_code).starts_at
    return do_book(
        factories.issue_card().card, factories.place(place_code), factories.card_issuance(), starts_at
    )


def center_pattern() -> OpeningPattern:
    return OpeningPattern.objects.get(place__code="center-3f", service__code="card_issuance")


def pattern_form(pattern: OpeningPattern, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": pattern.service_id,
        "weekdays": list(pattern.weekdays),
        "opens_at": f"{pattern.opens_at:%H:%M}",
        "closes_at": f"{pattern.closes_at:%H:%M}",
        "last_reception_at": f"{pattern.last_reception_at:%H:%M}",
        "slot_minutes": pattern.slot_minutes,
        "capacity": pattern.capacity,
    }
    return {**data, **changes}


def place_form(place: Place | None = None, /, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "ward-test",
        "name": "テスト区役所",
        "name_en": "Test Ward Office",
        "kind": "ward_office",
        "address": "京都市テスト区1-1",
        "starts_on": "",
        "ends_on": "",
        "bookable_from": "",
        "bookable_until": "",
        "display_order": 99,
    }
    if place is not None:
        for name in data:
            value = getattr(place, name)
            data[name] = value.isoformat() if isinstance(value, dt.date) else ("" if value is None else value)
    return {**data, **changes}


def window_form(**changes: Any) -> dict[str, Any]:
    rules = booking_rules()
    data = {
        "first_days_ahead": rules.first_days_ahead,
        "bookable_until": rules.bookable_until.isoformat() if rules.bookable_until else "",
        "deadline_days_before": rules.deadline_days_before,
        "deadline_time": f"{rules.deadline_time:%H:%M}",
        "hold_minutes": rules.hold_minutes,
        "booking_horizon_days": rules.booking_horizon_days,
    }
    return {**data, **changes}


def texts_form(**changes: Any) -> dict[str, Any]:
    rules = booking_rules()
    data = {
        name: getattr(rules, name)
        for name in (
            "text_top",
            "text_bring",
            "text_done",
            "confirmation_mail_text",
            "reminder_mail_text",
            "callcenter_script",
            "report_emails",
        )
    }
    return {**data, **changes}


def local(when: dt.datetime) -> dt.datetime:
    return when.astimezone(TOKYO)


# --- who may use the screens -----------------------------------------------------------------------------


def settings_urls() -> tuple[list[str], list[str]]:
    """(pages, POST-only actions) of the settings screens, for existing Kyoto rows."""
    place = factories.place()
    pattern = center_pattern()
    closed = ClosedDay.objects.create(date=timezone.localdate() + dt.timedelta(days=200), reason="保守")
    pages = [
        "/staff/settings/",
        "/staff/settings/window/",
        "/staff/settings/fields/",
        "/staff/settings/texts/",
        "/staff/settings/places/",
        "/staff/settings/places/new/",
        f"/staff/settings/places/{place.pk}/",
        f"/staff/settings/places/{place.pk}/patterns/new/",
        f"/staff/settings/patterns/{pattern.pk}/",
        "/staff/settings/closed-days/",
    ]
    actions = [
        f"/staff/settings/places/{place.pk}/delete/",
        f"/staff/settings/patterns/{pattern.pk}/delete/",
        f"/staff/settings/closed-days/{closed.pk}/delete/",
    ]
    return pages, actions


@pytest.mark.parametrize("role", ["viewer", "counter", "operator"])
def test_other_roles_are_refused_every_settings_url(kyoto: None, role: str) -> None:
    client = signed_in(f"user-{role}", role)
    pages, actions = settings_urls()
    for url in pages:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {}).status_code == 403, url
    for url in actions:
        assert client.post(url).status_code == 403, url
    assert entries("refused") == 2 * len(pages) + len(actions)
    assert not OperationLogEntry.objects.filter(action__startswith="settings.").exists()
    assert ClosedDay.objects.count() == 1 and OpeningPattern.objects.filter(pk=center_pattern().pk).exists()


def test_the_administrator_opens_every_settings_page(admin: Client) -> None:
    pages, actions = settings_urls()
    for url in pages:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert 'href="/staff/settings/"' in text(response)  # the menu link and the section menu
    for url in actions:
        assert admin.get(url).status_code == 405, url
    assert entries("settings.view") == len(pages)


def test_signed_out_visitors_go_to_the_login(kyoto: None) -> None:
    response = Client(HTTP_HOST=KYOTO_HOST).get("/staff/settings/places/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")


def test_overview_shows_the_current_window(admin: Client) -> None:
    BookingSettings.objects.get_or_create(singleton=True)  # reading no longer makes it
    BookingSettings.objects.filter(singleton=True).update(
        bookable_until=dt.date(2099, 3, 31),
        deadline_days_before=2,
        deadline_time=dt.time(17, 0),
        hold_minutes=10,
    )
    page = text(admin.get("/staff/settings/"))
    assert "2099-03-31" in page
    assert "利用日の2日前の17:00まで" in page
    assert "10分" in page
    for section in ("window", "fields", "texts", "places", "closed-days"):
        assert f'href="/staff/settings/{section}/"' in page


# --- ② the window ----------------------------------------------------------------------------------------


def test_window_is_saved_and_logged_old_to_new(admin: Client) -> None:
    before = booking_rules()
    until = timezone.localdate() + dt.timedelta(days=90)
    response = admin.post(
        "/staff/settings/window/",
        window_form(
            first_days_ahead=3,
            bookable_until=until.isoformat(),
            deadline_days_before=1,
            deadline_time="12:30",
            hold_minutes=15,
        ),
    )
    assert response.status_code == 302
    rules = booking_rules()
    assert (rules.first_days_ahead, rules.bookable_until, rules.deadline_days_before) == (3, until, 1)
    assert (rules.deadline_time, rules.hold_minutes) == (dt.time(12, 30), 15)
    changes = last_entry("settings.window").detail["changes"]
    assert changes["first_days_ahead"] == {"old": before.first_days_ahead, "new": 3}
    assert changes["bookable_until"]["new"] == until.isoformat()
    assert changes["deadline_time"] == {"old": f"{before.deadline_time:%H:%M}", "new": "12:30"}
    assert changes["hold_minutes"] == {"old": before.hold_minutes, "new": 15}
    # blank means no end
    assert admin.post("/staff/settings/window/", window_form(bookable_until="")).status_code == 302
    assert booking_rules().bookable_until is None


def _seen(page: Any) -> str:
    found = re.search(r'name="seen" value="([^"]+)"', text(page))
    assert found, "the settings page carries what it showed"
    return found.group(1)


def test_a_page_opened_before_another_change_does_not_undo_it(admin: Client) -> None:
    """Two tabs (or two administrators): B saves the hold time, then A, opened before, saves the first
    bookable day. A's page held the old hold time in its form: it is refused and says which field changed,
    and B's change stands (a new user's walk saw it put back)."""
    tab_a = admin.get("/staff/settings/window/")
    seen_a = _seen(tab_a)
    old_hold = booking_rules().hold_minutes
    tab_b = _seen(admin.get("/staff/settings/window/"))
    saved = admin.post("/staff/settings/window/", window_form(hold_minutes=old_hold + 5, seen=tab_b))
    assert saved.status_code == 302
    stale = window_form(first_days_ahead=2, hold_minutes=old_hold, seen=seen_a)
    refused = admin.post("/staff/settings/window/", stale)
    page = text(refused)
    assert refused.status_code == 409
    assert "画面を開いた後に別の画面で変更されました" in page and "選んだ時間の確保（分）" in page
    rules = booking_rules()
    assert (rules.hold_minutes, rules.first_days_ahead) == (old_hold + 5, window_form()["first_days_ahead"])
    # the page shown again holds what is saved now, and saves
    assert (
        admin.post(
            "/staff/settings/window/", window_form(first_days_ahead=2, seen=_seen(refused))
        ).status_code
        == 302
    )
    assert (booking_rules().hold_minutes, booking_rules().first_days_ahead) == (old_hold + 5, 2)


def test_a_place_page_opened_before_another_change_does_not_undo_it(admin: Client) -> None:
    place = factories.place("kita")
    seen_a = _seen(admin.get(f"/staff/settings/places/{place.pk}/"))
    seen_b = _seen(admin.get(f"/staff/settings/places/{place.pk}/"))
    assert (
        admin.post(
            f"/staff/settings/places/{place.pk}/", place_form(place, name_en="Kita", seen=seen_b)
        ).status_code
        == 302
    )
    stale = place_form(place, address="京都市北区 別の住所", seen=seen_a)
    stale["name_en"] = "Kita Ward Office"  # what tab A showed
    refused = admin.post(f"/staff/settings/places/{place.pk}/", stale)
    assert refused.status_code == 409
    place.refresh_from_db()
    assert place.name_en == "Kita" and place.address != "京都市北区 別の住所"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bookable_until", "2001-01-01", "予約受付可能日が過去の日付です"),
        ("hold_minutes", 0, "1〜60分の間で入力してください"),
        ("hold_minutes", 61, "1〜60分の間で入力してください"),
        ("first_days_ahead", 400, "0〜365日の間で入力してください"),
        ("deadline_time", "25:00", "#deadline_time"),
    ],
)
def test_window_refuses_bad_values_and_changes_nothing(
    admin: Client, field: str, value: Any, message: str
) -> None:
    before = booking_rules()
    response = admin.post("/staff/settings/window/", window_form(**{field: value}))
    assert response.status_code == 400
    assert shows_error(text(response), message)
    after = booking_rules()
    assert (after.hold_minutes, after.bookable_until, after.first_days_ahead) == (
        before.hold_minutes,
        before.bookable_until,
        before.first_days_ahead,
    )
    assert entries("settings.window") == 0


def test_window_refuses_an_end_before_the_first_bookable_day(admin: Client) -> None:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = admin.post(
        "/staff/settings/window/", window_form(first_days_ahead=5, bookable_until=tomorrow.isoformat())
    )
    assert response.status_code == 400 and "この設定では予約できる日がありません" in text(response)


# --- ③ contact fields ------------------------------------------------------------------------------------


def test_contact_fields_are_saved_and_logged(admin: Client) -> None:
    before = booking_rules()
    response = admin.post(
        "/staff/settings/fields/", {"phone_requirement": "required", "email_requirement": "hidden"}
    )
    assert response.status_code == 302
    rules = booking_rules()
    assert (rules.phone_requirement, rules.email_requirement) == ("required", "hidden")
    changes = last_entry("settings.fields").detail["changes"]
    assert changes["phone_requirement"] == {"old": before.phone_requirement, "new": "required"}
    assert changes["email_requirement"] == {"old": before.email_requirement, "new": "hidden"}
    bad = admin.post(
        "/staff/settings/fields/", {"phone_requirement": "always", "email_requirement": "hidden"}
    )
    assert bad.status_code == 400 and booking_rules().phone_requirement == "required"


# --- ④ texts ---------------------------------------------------------------------------------------------


def test_texts_are_saved_logged_and_shown_escaped_to_citizens(admin: Client) -> None:
    hostile = '<script>alert("x")</script>ご来庁ください'
    response = admin.post(
        "/staff/settings/texts/",
        texts_form(text_top=hostile, confirmation_mail_text="{place}で{date} {time}。締切 {deadline}"),
    )
    assert response.status_code == 302
    assert booking_rules().text_top == hostile
    changes = last_entry("settings.texts").detail["changes"]
    assert changes["text_top"]["new"] == hostile
    assert changes["confirmation_mail_text"]["new"] == "{place}で{date} {time}。締切 {deadline}"
    top = text(Client(HTTP_HOST=KYOTO_HOST).get("/"))
    assert "<script>alert" not in top
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;ご来庁ください" in top


@pytest.mark.parametrize(
    ("mail", "message"),
    [
        ("{name}様 {date}", "使えない差し込み項目 {name}"),
        ("{date} {", "波かっこ { } の対応が正しくありません"),
        ("日時: date}", "波かっこ { } の対応が正しくありません"),
        ("{date!r}", "書式は指定できません"),
        ("{0}", "使えない差し込み項目 {0}"),
    ],
)
def test_mail_texts_with_unknown_placeholders_or_braces_are_refused(
    admin: Client, mail: str, message: str
) -> None:
    before = booking_rules().reminder_mail_text
    response = admin.post("/staff/settings/texts/", texts_form(reminder_mail_text=mail))
    assert response.status_code == 400
    assert message in text(response)
    assert booking_rules().reminder_mail_text == before
    assert entries("settings.texts") == 0


def test_escaped_braces_are_allowed(admin: Client) -> None:
    mail = "{{受付番号}}は不要です。{date} {time}"
    assert admin.post("/staff/settings/texts/", texts_form(reminder_mail_text=mail)).status_code == 302
    assert booking_rules().reminder_mail_text == mail


def test_texts_page_lists_placeholders_and_previews_without_saving(admin: Client) -> None:
    page = text(admin.get("/staff/settings/texts/"))
    for name in ("date", "time", "place", "address", "bring", "deadline"):
        assert "{" + name + "}" in page
    before = booking_rules().confirmation_mail_text
    response = admin.post(
        "/staff/settings/texts/",
        {
            **texts_form(confirmation_mail_text="予約: {place}（{address}）持ち物: {bring}"),
            "action": "preview",
        },
    )
    assert response.status_code == 200
    first = Place.objects.order_by("display_order", "code").first()
    assert first is not None
    assert f"予約: {first.name}（{first.address}）持ち物: {booking_rules().text_bring}" in text(response)
    assert booking_rules().confirmation_mail_text == before
    assert entries("settings.texts") == 0


# --- places (AD-07) --------------------------------------------------------------------------------------


def test_a_place_is_added_changed_and_logged(admin: Client) -> None:
    response = admin.post("/staff/settings/places/new/", place_form())
    assert response.status_code == 302
    place = Place.objects.get(code="ward-test")
    assert response["Location"] == f"/staff/settings/places/{place.pk}/"
    created = last_entry("settings.place.create")
    assert created.detail["changes"]["name"] == {"old": None, "new": "テスト区役所"}

    response = admin.post(
        f"/staff/settings/places/{place.pk}/",
        place_form(place, name="テスト区役所（新庁舎）", ends_on="2099-03-31"),
    )
    assert response.status_code == 302
    place.refresh_from_db()
    assert place.name == "テスト区役所（新庁舎）" and place.ends_on == dt.date(2099, 3, 31)
    changes = last_entry("settings.place.update").detail["changes"]
    assert changes == {
        "name": {"old": "テスト区役所", "new": "テスト区役所（新庁舎）"},
        "ends_on": {"old": None, "new": "2099-03-31"},
    }
    assert "テスト区役所（新庁舎）" in text(admin.get("/staff/settings/places/"))


def test_the_places_list_handles_more_than_thirty(admin: Client) -> None:
    for n in range(12):
        Place.objects.create(code=f"extra-{n}", name=f"追加の場所{n}", address="京都市")
    assert Place.objects.count() >= 30
    page = text(admin.get("/staff/settings/places/"))
    assert all(f"追加の場所{n}" in page for n in range(12))
    assert factories.place().name in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": "center-3f"}, "このコードは他の交付場所で使われています"),
        ({"code": "CENTER-3F"}, "このコードは他の交付場所で使われています"),  # any case
        ({"code": "区役所"}, "英数字・ハイフン・アンダースコア"),
        ({"starts_on": "2030-04-01", "ends_on": "2030-03-31"}, "実施終了日は実施開始日以降"),
        (
            {"bookable_from": "2030-04-01", "bookable_until": "2030-03-01"},
            "予約受付可能日は予約受付開始日以降",
        ),
        ({"name": ""}, "#name"),
    ],
)
def test_bad_places_are_refused(admin: Client, changes: dict[str, str], message: str) -> None:
    count = Place.objects.count()
    response = admin.post("/staff/settings/places/new/", place_form(**changes))
    assert response.status_code == 400
    assert shows_error(text(response), message)
    assert Place.objects.count() == count and entries("settings.place.create") == 0


def test_a_place_with_bookings_is_not_deleted(admin: Client) -> None:
    booking = book()
    place = factories.place()
    response = admin.post(f"/staff/settings/places/{place.pk}/delete/")
    assert response.status_code == 400
    assert "削除できません" in text(response) and "実施終了日" in text(response)
    assert Place.objects.filter(pk=place.pk).exists()
    assert Booking.objects.filter(pk=booking.pk).exists()
    assert entries("settings.place.delete") == 0


def test_a_place_without_bookings_is_deleted_with_its_patterns(admin: Client) -> None:
    admin.post("/staff/settings/places/new/", place_form())
    place = Place.objects.get(code="ward-test")
    admin.post(f"/staff/settings/places/{place.pk}/patterns/new/", pattern_form(center_pattern(), capacity=2))
    assert place.opening_patterns.count() == 1
    response = admin.post(f"/staff/settings/places/{place.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/staff/settings/places/"
    assert not Place.objects.filter(pk=place.pk).exists()
    assert last_entry("settings.place.delete").detail["patterns"] == 1


def test_a_place_a_booking_was_moved_away_from_is_not_deleted(admin: Client) -> None:
    admin.post("/staff/settings/places/new/", place_form())
    place = Place.objects.get(code="ward-test")
    admin.post(f"/staff/settings/places/{place.pk}/patterns/new/", pattern_form(center_pattern()))
    booking = book(place_code="ward-test")
    do_change(factories.card_of(booking), factories.place(), factories.next_free_slot().starts_at)
    assert not Booking.objects.filter(slot__place=place).exists()
    response = admin.post(f"/staff/settings/places/{place.pk}/delete/")
    assert response.status_code == 400 and "削除できません" in text(response)
    assert Place.objects.filter(pk=place.pk).exists()


def test_ending_a_place_before_its_bookings_is_refused(admin: Client) -> None:
    booking = book()
    place = factories.place()
    day_before = local(booking.slot.starts_at).date() - dt.timedelta(days=1)
    response = admin.post(
        f"/staff/settings/places/{place.pk}/", place_form(place, ends_on=day_before.isoformat())
    )
    assert response.status_code == 400
    assert factories.card_of(booking).reservation_number in text(response)
    place.refresh_from_db()
    assert place.ends_on is None and entries("settings.place.update") == 0


# --- opening patterns (AD-04 ①) ---------------------------------------------------------------------------


def test_a_pattern_is_added_changed_and_deleted_with_log_entries(admin: Client) -> None:
    admin.post("/staff/settings/places/new/", place_form())
    place = Place.objects.get(code="ward-test")
    response = admin.post(
        f"/staff/settings/places/{place.pk}/patterns/new/",
        pattern_form(
            center_pattern(),
            weekdays=[1, 3],
            opens_at="09:00",
            closes_at="12:00",
            last_reception_at="11:30",
            slot_minutes=30,
            capacity=2,
        ),
    )
    assert response.status_code == 302
    pattern = place.opening_patterns.get()
    assert (pattern.weekdays, pattern.slot_minutes, pattern.capacity) == ([1, 3], 30, 2)
    created = last_entry("settings.pattern.create").detail
    assert created["place"] == "ward-test" and created["changes"]["weekdays"] == {"old": None, "new": [1, 3]}
    page = text(admin.get(f"/staff/settings/places/{place.pk}/"))
    assert "火・木" in page and "09:00〜12:00" in page

    # a second pattern sharing a weekday and hours: refused, it could not be told which applies
    overlapping = pattern_form(
        pattern, weekdays=[3, 5], opens_at="11:00", closes_at="13:00", last_reception_at="12:30"
    )
    refused = admin.post(f"/staff/settings/places/{place.pk}/patterns/new/", overlapping)
    assert refused.status_code == 400 and "曜日と時間が重なっています" in text(refused)
    assert place.opening_patterns.count() == 1
    afternoon = pattern_form(pattern, opens_at="13:00", closes_at="16:00", last_reception_at="15:30")
    assert admin.post(f"/staff/settings/places/{place.pk}/patterns/new/", afternoon).status_code == 302
    OpeningPattern.objects.filter(place=place).exclude(pk=pattern.pk).delete()

    response = admin.post(
        f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, weekdays=[1, 3, 5])
    )
    assert response.status_code == 302
    pattern.refresh_from_db()
    assert pattern.weekdays == [1, 3, 5]
    assert last_entry("settings.pattern.update").detail["changes"] == {
        "weekdays": {"old": [1, 3], "new": [1, 3, 5]}
    }

    assert admin.post(f"/staff/settings/patterns/{pattern.pk}/delete/").status_code == 302
    assert not OpeningPattern.objects.filter(pk=pattern.pk).exists()
    assert last_entry("settings.pattern.delete").detail["deleted"]["capacity"] == 2
    # a second click (or a tab opened before): said so, not a 404 page (a new user's walk)
    again = admin.post(f"/staff/settings/patterns/{pattern.pk}/delete/", follow=True)
    assert again.status_code == 200 and "この受付パターンはすでに削除されています" in text(again)
    assert entries("settings.pattern.delete") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"opens_at": "17:00", "closes_at": "09:00", "last_reception_at": "09:00"},
            "終了時刻は開始時刻より後",
        ),
        ({"last_reception_at": "17:30"}, "最終受付は開始時刻以降、終了時刻より前"),
        ({"last_reception_at": "17:00"}, "最終受付は開始時刻以降、終了時刻より前"),
        ({"last_reception_at": "08:00"}, "最終受付は開始時刻以降、終了時刻より前"),
        ({"capacity": 0}, "1枠の予約可能人数は1〜999人"),
        ({"slot_minutes": 45}, "1枠の長さは60分・30分・20分・15分・10分から"),
        ({"weekdays": []}, "曜日を1つ以上選んでください"),
        ({"weekdays": [7]}, "#weekdays"),
        ({"opens_at": "9時"}, "#opens_at"),
    ],
)
def test_bad_patterns_are_refused_and_change_nothing(
    admin: Client, changes: dict[str, Any], message: str
) -> None:
    pattern = center_pattern()
    before = pattern_form(pattern)
    response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, **changes))
    assert response.status_code == 400
    assert shows_error(text(response), message)
    assert pattern_form(center_pattern()) == before
    assert entries("settings.pattern.update") == 0


def test_lowering_capacity_updates_the_future_slots(admin: Client) -> None:
    booking = book()
    pattern = center_pattern()
    assert booking.slot.capacity == pattern.capacity == 6
    response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, capacity=2))
    assert response.status_code == 302
    assert Slot.objects.get(pk=booking.slot_id).capacity == 2
    detail = last_entry("settings.pattern.update").detail
    assert detail["changes"] == {"capacity": {"old": 6, "new": 2}} and detail["slots_updated"] == 1
    # and back up again: the slot follows, so the freed places can be booked
    admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, capacity=8))
    assert Slot.objects.get(pk=booking.slot_id).capacity == 8


def test_a_longer_slot_keeps_bookings_at_times_still_offered_and_moves_their_end(admin: Client) -> None:
    booking = book()
    pattern = center_pattern()
    start = local(booking.slot.starts_at)
    assert start.time() == pattern.opens_at  # the first slot of its day: still offered with 20-minute slots
    response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, slot_minutes=20))
    assert response.status_code == 302
    slot = Slot.objects.get(pk=booking.slot_id)
    assert slot.ends_at - slot.starts_at == dt.timedelta(minutes=20)
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"


def test_capacity_below_a_slots_bookings_is_refused_and_lists_the_slot(admin: Client) -> None:
    first = book()
    book(first.slot.starts_at)
    pattern = center_pattern()
    response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, capacity=1))
    assert response.status_code == 400
    page = text(response)
    assert "予約可能人数より多くの予約" in page
    start = local(first.slot.starts_at)
    assert f"{start:%Y-%m-%d}" in page and f"{start:%H:%M}〜" in page
    assert "<td>2</td><td>1</td>" in page  # booked, new capacity
    assert center_pattern().capacity == 6
    assert Slot.objects.get(pk=first.slot_id).capacity == 6
    assert entries("settings.pattern.update") == 0


def test_a_change_that_would_orphan_a_booking_is_refused_and_lists_it(admin: Client) -> None:
    booking = book()
    pattern = center_pattern()
    start = local(booking.slot.starts_at)
    later = (
        dt.datetime.combine(start.date(), start.time()) + dt.timedelta(minutes=pattern.slot_minutes)
    ).time()
    assert later <= pattern.last_reception_at
    number = factories.card_of(booking).reservation_number
    refusals = [
        pattern_form(pattern, opens_at=f"{later:%H:%M}"),  # hours shortened
        pattern_form(pattern, weekdays=[d for d in pattern.weekdays if d != start.weekday()]),  # day removed
        pattern_form(pattern, slot_minutes=60, opens_at=f"{later:%H:%M}"),  # times moved
    ]
    for data in refusals:
        response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", data)
        assert response.status_code == 400
        page = text(response)
        assert "受付がなくなる時間に予約があります" in page
        assert number in page and f"{start:%Y-%m-%d %H:%M}" in page
        assert f'href="/staff/bookings/{booking.pk}/"' in page
    deleted = admin.post(f"/staff/settings/patterns/{pattern.pk}/delete/")
    assert deleted.status_code == 400 and number in text(deleted)
    assert pattern_form(center_pattern()) == pattern_form(pattern)
    assert entries("settings.pattern.update") == entries("settings.pattern.delete") == 0
    # a change that keeps the booked time is fine
    assert (
        admin.post(
            f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, last_reception_at="16:00")
        ).status_code
        == 302
    )


def test_a_cancelled_booking_does_not_block_a_pattern_change(admin: Client) -> None:
    booking = book()
    Booking.objects.filter(pk=booking.pk).update(status="cancelled", cancelled_at=timezone.now())
    pattern = center_pattern()
    response = admin.post(f"/staff/settings/patterns/{pattern.pk}/", pattern_form(pattern, opens_at="13:00"))
    assert response.status_code == 302


# --- closed days (BK-12) ---------------------------------------------------------------------------------


def test_a_closed_day_is_added_and_deleted_with_log_entries(admin: Client) -> None:
    day = timezone.localdate() + dt.timedelta(days=30)
    place = factories.place()
    response = admin.post(
        "/staff/settings/closed-days/", {"date": day.isoformat(), "place": place.pk, "reason": "システム保守"}
    )
    assert response.status_code == 302
    closed = ClosedDay.objects.get(date=day, place=place)
    assert last_entry("settings.closed_day.create").detail["reason"] == "システム保守"
    assert "システム保守" in text(admin.get("/staff/settings/closed-days/"))
    assert admin.post(f"/staff/settings/closed-days/{closed.pk}/delete/").status_code == 302
    assert not ClosedDay.objects.filter(pk=closed.pk).exists()
    assert last_entry("settings.closed_day.delete").detail["date"] == day.isoformat()


def test_closed_days_in_the_past_or_twice_are_refused(admin: Client) -> None:
    past = admin.post("/staff/settings/closed-days/", {"date": "2001-01-01", "reason": ""})
    assert past.status_code == 400 and "過去の日付は休止日にできません" in text(past)
    day = (timezone.localdate() + dt.timedelta(days=40)).isoformat()
    assert admin.post("/staff/settings/closed-days/", {"date": day}).status_code == 302
    again = admin.post("/staff/settings/closed-days/", {"date": day})
    assert again.status_code == 400 and "既に全ての交付場所の休止日" in text(again)
    assert ClosedDay.objects.count() == 1


def test_a_closed_day_on_a_booked_day_is_refused_unless_ticked(admin: Client) -> None:
    booking = book()
    day = local(booking.slot.starts_at).date()
    number = factories.card_of(booking).reservation_number
    for place in (factories.place().pk, ""):  # that place, and every place
        refused = admin.post("/staff/settings/closed-days/", {"date": day.isoformat(), "place": place})
        assert refused.status_code == 400
        assert number in text(refused) and "この日に予約があります" in text(refused)
    other = factories.place("center-1f")
    assert (
        admin.post("/staff/settings/closed-days/", {"date": day.isoformat(), "place": other.pk}).status_code
        == 302
    )  # another place that day is not affected
    assert not ClosedDay.objects.filter(place=factories.place()).exists()

    ticked = admin.post(
        "/staff/settings/closed-days/",
        {"date": day.isoformat(), "place": factories.place().pk, "despite_bookings": "on"},
    )
    assert ticked.status_code == 200
    assert "連絡が必要な予約" in text(ticked) and number in text(ticked)
    assert ClosedDay.objects.filter(date=day, place=factories.place()).exists()
    detail = last_entry("settings.closed_day.create").detail
    assert detail["despite_bookings"] is True and detail["affected_bookings"] == [booking.pk]
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"  # kept; staff contact the person


# --- tenants ---------------------------------------------------------------------------------------------


def test_a_kyoto_administrator_cannot_see_another_tenants_places(tenants: Tenants) -> None:
    with schema_context("mihon"):
        Place.objects.create(code="mihon-only", name="見本町役場", address="見本町1")
    with schema_context("kyoto"):
        client = signed_in("kyoto-settings-admin", "administrator")
        assert "見本町役場" not in text(client.get("/staff/settings/places/"))
    other = Client(HTTP_HOST=MIHON_HOST)
    other.cookies = client.cookies
    response = other.get("/staff/settings/places/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    assert "見本町役場" not in text(response)


def test_call_center_script_and_report_addresses_are_set_here(admin: Client) -> None:
    """CC-03 and CC-05: the items the operator reads out, and where the reports go."""
    refused = admin.post("/staff/settings/texts/", texts_form(report_emails="ok@example.jp\nnot an address"))
    assert refused.status_code == 400 and "not an address" in refused.content.decode()
    bad_script = admin.post("/staff/settings/texts/", texts_form(callcenter_script="日時: {when}"))
    assert bad_script.status_code == 400
    saved = admin.post(
        "/staff/settings/texts/",
        texts_form(
            callcenter_script="日時: {date} {time}\n場所: {place}", report_emails="kyoto-cc@example.jp"
        ),
    )
    assert saved.status_code == 302
    rules = booking_rules()
    assert rules.callcenter_script == "日時: {date} {time}\n場所: {place}"
    assert rules.report_emails == "kyoto-cc@example.jp"


def test_a_choice_shows_no_required_badge_next_to_its_value(admin: Client) -> None:
    """A select always holds a value: a 必須 badge beside a setting whose value is 任意 only confused."""
    page = admin.get("/staff/settings/fields/").content.decode()
    assert 'class="required"' not in page and 'class="optional"' not in page
