"""Issue 15: the transfer lists of all counters of a day at once: the overview, one PDF (a counter's sheet
from a new page, numbered on its own) and one CSV (with the counter's column); confirming stays per counter;
another tenant's host sees nothing of it."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from booking.lifecycle import transfers
from tests import factories
from tests.conftest import MIHON_HOST
from tests.lifecycle.test_transfers import (
    book,
    card,
    center,
    excel_text,
    fix_clock,
    late,
    number,
    open_day,
    read_csv,
    set_cut,
    staff,
)
from tests.staff_helpers import make_staff, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(kyoto: None) -> dt.date:
    """A day both counters open, with test_transfers' cut (3 days before, noon)."""
    set_cut()
    return open_day(timezone.localdate() + dt.timedelta(days=21))


def every(day: dt.date, **extra: Any) -> dict[str, Any]:
    return {"place": "all", "day": day.isoformat(), **extra}


def test_all_counters_of_a_day_on_one_page(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    book(day, 0)
    book(day, 1)
    book(day, 0, code="kita")
    fix_clock(monkeypatch, late(day))
    assert 'value="all"' in clerk.get("/staff/transfers/").content.decode()
    page = clerk.get("/staff/transfers/", every(day)).content.decode()
    assert "すべての窓口" in page and center().name in page and factories.place("kita").name in page
    assert f"?place={center().pk}&amp;day={day.isoformat()}" in page
    assert "移送済みにする" not in page  # confirming is one counter at a time


def test_one_csv_with_the_counter_column(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    here, there = book(day, 0), book(day, 0, code="kita")
    fix_clock(monkeypatch, late(day))
    response = clerk.get("/staff/transfers/export.csv", every(day, encoding="utf-8-sig"))
    assert response.status_code == 200 and "%E5%85%A8%E7%AA%93%E5%8F%A3" in response["Content-Disposition"]
    rows = read_csv(response, "utf-8-sig")
    assert rows[0] == transfers.ALL_CSV_HEADER
    by_number = {excel_text(row[3]): row for row in rows[1:]}
    assert set(by_number) == {number(here), number(there)}
    assert by_number[number(here)][:2] == ["center-3f", center().name]
    assert by_number[number(there)][0] == "kita"


def test_one_pdf_a_counter_a_section(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    here, there = book(day, 0), book(day, 0, code="kita")
    fix_clock(monkeypatch, late(day))
    response = clerk.get("/staff/transfers/list.pdf", every(day))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]
    assert len(pages) == 2  # a page break between the counters
    first = next(text for text in pages if number(here) in text)
    second = next(text for text in pages if number(there) in text)
    assert first != second and center().name in first and factories.place("kita").name in second
    assert "1 / 1" in first and "1 / 1" in second  # each counter's sheet is numbered on its own
    assert "受領者" in first and "受領者" in second


def test_a_day_without_cards_makes_no_empty_pdf(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("counter")
    fix_clock(monkeypatch, late(day))
    response = clerk.get("/staff/transfers/list.pdf", every(day), follow=True)
    assert response.status_code == 200 and "移送するカードのある窓口はありません" in response.content.decode()


def test_all_counters_is_never_a_confirmation(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = staff("administrator")
    booking = book(day, 0)
    fix_clock(monkeypatch, late(day))
    assert clerk.post("/staff/transfers/confirm/", every(day, expected=1)).status_code == 400
    assert clerk.post("/staff/transfers/return/", every(day, card=booking.card_id)).status_code == 400
    assert card(booking).state == "booked"


def test_exports_of_all_counters_need_the_export_right(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    fix_clock(monkeypatch, late(day))
    viewer = staff("viewer")
    assert viewer.get("/staff/transfers/", every(day)).status_code == 200
    assert viewer.get("/staff/transfers/export.csv", every(day)).status_code == 403
    assert viewer.get("/staff/transfers/list.pdf", every(day)).status_code == 403


def test_another_tenant_sees_nothing_of_all_counters(day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    booking = book(day, 0)
    fix_clock(monkeypatch, late(day))
    with schema_context("mihon"):
        make_staff("mihon1", "administrator")
    mihon = sign_in("mihon1", host=MIHON_HOST)
    page = mihon.get("/staff/transfers/", every(day))
    assert page.status_code == 200 and number(booking) not in page.content.decode()
    assert "移送するカードのある窓口はありません" in page.content.decode()
    rows = read_csv(mihon.get("/staff/transfers/export.csv", every(day, encoding="utf-8-sig")), "utf-8-sig")
    assert rows == [transfers.ALL_CSV_HEADER]
    assert mihon.get("/staff/transfers/list.pdf", every(day)).status_code == 302  # nothing to print there
