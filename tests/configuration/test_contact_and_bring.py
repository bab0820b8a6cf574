"""The call center's number and hours, the rolling booking horizon, and what to bring per service (issue 14
§5): edited on the settings pages, refused with a specific message, logged old → new, kept per tenant."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from booking.engine.queries import booking_rules
from booking.models import Service
from tests.configuration.test_staff_settings import (
    entries,
    last_entry,
    shows_error,
    signed_in,
    text,
    window_form,
)
from tests.conftest import MIHON_HOST, Tenants

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(kyoto: None) -> Client:
    return signed_in("contact-admin", "administrator")


def test_the_call_center_number_is_stored_as_digits_shown_with_hyphens_and_logged(admin: Client) -> None:
    response = admin.post(
        "/staff/settings/contact/",
        {
            "callcenter_phone": "０７５（１２３）４５６７",
            "callcenter_hours": "平日 9:00〜17:00",
            "callcenter_hours_en": "",
        },
    )
    assert response.status_code == 302
    rules = booking_rules()
    assert (rules.callcenter_phone, rules.callcenter_hours) == ("0751234567", "平日 9:00〜17:00")
    assert last_entry("settings.contact").detail["changes"]["callcenter_phone"] == {
        "old": "",
        "new": "0751234567",
    }
    assert 'value="075-123-4567"' in text(admin.get("/staff/settings/contact/"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"callcenter_phone": "123"}, "電話番号の形式が正しくありません"),
        ({"callcenter_phone": "", "callcenter_hours": "平日 9:00〜17:00"}, "電話番号も入力してください"),
        ({"callcenter_phone": "0751234567", "callcenter_hours": "長" * 101}, "100文字以内で入力してください"),
    ],
)
def test_bad_contact_input_is_refused_and_changes_nothing(
    admin: Client, data: dict[str, str], message: str
) -> None:
    before = entries("settings.contact")
    response = admin.post(
        "/staff/settings/contact/", {"callcenter_hours": "", "callcenter_hours_en": "", **data}
    )
    assert response.status_code == 400 and shows_error(text(response), message)
    assert booking_rules().callcenter_phone == "" and entries("settings.contact") == before


def test_the_horizon_is_saved_and_checked(admin: Client) -> None:
    assert booking_rules().booking_horizon_days == 90  # the preset default
    assert admin.post("/staff/settings/window/", window_form(booking_horizon_days=30)).status_code == 302
    assert booking_rules().booking_horizon_days == 30
    assert last_entry("settings.window").detail["changes"]["booking_horizon_days"] == {"old": 90, "new": 30}
    for days, message in ((0, "1〜366日の間で入力してください"), (367, "1〜366日の間で入力してください")):
        response = admin.post("/staff/settings/window/", window_form(booking_horizon_days=days))
        assert response.status_code == 400 and shows_error(text(response), message)
    response = admin.post("/staff/settings/window/", window_form(first_days_ahead=10, booking_horizon_days=5))
    assert response.status_code == 400 and "この設定では予約できる日がありません" in text(response)
    assert booking_rules().booking_horizon_days == 30


def test_each_service_has_its_own_bring_text_blank_meaning_the_general_one(admin: Client) -> None:
    ecert = Service.objects.get(code="ecert_renewal")
    assert ecert.bring_text.startswith("マイナンバーカード")  # the preset's
    assert Service.objects.get(code="card_issuance").bring_text == ""
    page = text(admin.get("/staff/settings/services/"))
    assert 'name="ecert_renewal__bring_text"' in page
    data = {
        f"{s.code}__{f}": getattr(s, f)
        for s in Service.objects.all()
        for f in ("bring_text", "bring_text_en")
    }
    data["pin_reset__bring_text"] = "マイナンバーカード"
    assert admin.post("/staff/settings/services/", data).status_code == 302
    assert Service.objects.get(code="pin_reset").bring_text == "マイナンバーカード"
    assert set(last_entry("settings.bring").detail["changes"]) == {"pin_reset.bring_text"}
    before = entries("settings.bring")
    response = admin.post("/staff/settings/services/", {**data, "pin_reset__bring_text": "x" * 5001})
    assert response.status_code == 400 and shows_error(text(response), "5000文字以内で入力してください")
    assert entries("settings.bring") == before


def test_the_settings_are_the_tenants_own(tenants: Tenants, admin: Client) -> None:
    admin.post(
        "/staff/settings/contact/",
        {"callcenter_phone": "075-123-4567", "callcenter_hours": "平日", "callcenter_hours_en": ""},
    )
    assert booking_rules().callcenter_phone == "0751234567"
    with schema_context("mihon"):
        assert booking_rules().callcenter_phone == ""
    mihon = Client(HTTP_HOST=MIHON_HOST)
    assert "075-123-4567" not in text(mihon.get("/"))
