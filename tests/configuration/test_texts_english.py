"""The texts page edits the English versions beside the Japanese texts (issue 15): the same checks
(placeholders, length), logged like every settings change, previewed as a person who booked in English gets
them; an empty English text means the Japanese one is used."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from booking.configuration.texts import MAX_TEXT
from booking.engine.queries import booking_rules
from booking.models import OperationLogEntry
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db
FIELDS = (
    "text_top",
    "text_top_en",
    "text_bring",
    "text_bring_en",
    "text_done",
    "text_done_en",
    "confirmation_mail_text",
    "confirmation_mail_text_en",
    "reminder_mail_text",
    "reminder_mail_text_en",
    "callcenter_script",
    "report_emails",
)


@pytest.fixture
def admin(kyoto: None) -> Client:
    make_staff("admin1", "administrator")
    return sign_in("admin1")


def texts_form(**changes: Any) -> dict[str, Any]:
    rules = booking_rules()
    return {**{name: getattr(rules, name) for name in FIELDS}, **changes}


def test_the_english_texts_are_edited_beside_the_japanese_ones_and_logged(admin: Client) -> None:
    page = admin.get("/staff/settings/texts/").content.decode()
    assert page.index('name="text_top"') < page.index('name="text_top_en"') < page.index('name="text_bring"')
    response = admin.post(
        "/staff/settings/texts/",
        texts_form(text_top_en="Welcome.", confirmation_mail_text_en="Booked for {date} {time} at {place}."),
    )
    assert response.status_code == 302
    rules = booking_rules()
    assert (rules.text_top_en, rules.confirmation_mail_text_en) == (
        "Welcome.",
        "Booked for {date} {time} at {place}.",
    )
    entry = OperationLogEntry.objects.filter(action="settings.texts").order_by("-seq").first()
    assert entry is not None
    assert entry.detail["changes"]["text_top_en"] == {"old": "", "new": "Welcome."}


def test_an_empty_english_text_is_allowed(admin: Client) -> None:
    response = admin.post("/staff/settings/texts/", texts_form(text_bring_en="", reminder_mail_text_en=""))
    assert response.status_code == 302
    assert (booking_rules().text_bring_en, booking_rules().reminder_mail_text_en) == ("", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("confirmation_mail_text_en", "See you on {day}.", "使えない差し込み項目 {day} があります。"),
        ("reminder_mail_text_en", "Tomorrow {date", "波かっこ { } の対応が正しくありません。"),
        ("reminder_mail_text_en", "At {time:>5}", "差し込み項目 {time} に書式は指定できません。"),
        ("text_done_en", "x" * (MAX_TEXT + 1), str(MAX_TEXT)),  # the form field's own limit
    ],
)
def test_a_bad_english_text_is_refused_with_its_reason_and_nothing_changes(
    admin: Client, field: str, value: str, message: str
) -> None:
    before = {name: getattr(booking_rules(), name) for name in FIELDS}
    response = admin.post("/staff/settings/texts/", texts_form(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert {name: getattr(booking_rules(), name) for name in FIELDS} == before


def test_the_preview_shows_the_english_mails_or_says_the_japanese_one_is_sent(admin: Client) -> None:
    preview = admin.post(
        "/staff/settings/texts/",
        texts_form(
            action="preview",
            confirmation_mail_text_en="Booked: {date} {time}, bring {bring}.",
            text_bring_en="the postcard",
            reminder_mail_text_en="",
        ),
    ).content.decode()
    assert 'lang="en">Booked: ' in preview and ", bring the postcard." in preview
    assert "–" in preview.split('lang="en">Booked: ')[1].split("</p>")[0]  # English times: 10:00–10:15
    assert "英語の本文がないため、日本語の本文を送ります。" in preview  # the reminder has no English text
    assert booking_rules().confirmation_mail_text_en != "Booked: {date} {time}, bring {bring}."  # not saved


def test_the_preview_booking_could_be_made_now(kyoto: None) -> None:
    """Its deadline is still ahead (the first bookable day's had passed where residents may book the same day
    but change only two days ahead: the preview told of a deadline gone), and its slot is as long as the first
    place's own."""
    import datetime as dt

    from django.utils import timezone

    from booking.configuration.texts import sample_values
    from booking.models import Place

    rules = booking_rules()
    rules.first_days_ahead, rules.deadline_days_before = 0, 2
    now = timezone.now()
    values = sample_values(rules, "", now=now)
    first = Place.objects.order_by("display_order", "code").first()
    assert first is not None
    minutes = first.opening_patterns.order_by("pk").first().slot_minutes  # type: ignore[union-attr]
    start, end = (dt.datetime.strptime(t, "%H:%M") for t in values["time"].split("〜"))
    assert (end - start) == dt.timedelta(minutes=minutes)
    day = dt.datetime.strptime(values["date"].split("（")[0], "%Y年%m月%d日").date()
    assert day >= timezone.localdate(now) + dt.timedelta(days=2)
