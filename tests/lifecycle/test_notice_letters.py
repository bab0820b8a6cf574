"""Notice letters (交付通知書, AD-03): the PDF and the vendor CSV, the print run's moves and passwords, the
staff screens and the command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader
from reportlab.graphics.barcode import code128

from booking.audit import oplog
from booking.cards.moves import do_move_cards
from booking.citizen.login import LoginRefused, do_citizen_login, do_create_citizen_token
from booking.engine.services import do_book
from booking.lifecycle import notices, queries
from booking.models import (
    Card,
    CardEvent,
    CardImportJob,
    CitizenToken,
    JobStatus,
    NoticeRun,
    OperationLogEntry,
)
from booking.rules.card_states import CardState
from integrations import notice_letters
from integrations.storage import LocalExportStorage
from tests import factories
from tests.conftest import MIHON_HOST, Tenants
from tests.staff_helpers import make_staff, sign_in

ACTOR = oplog.Actor(None, "admin1", "127.0.0.1")
ISSUER = notice_letters.Issuer(
    municipality="京都市",
    booking_url="https://yoyaku.city.kyoto.lg.jp/",
    bring="本人確認書類（運転免許証など）",
    issued_on=dt.date(2026, 11, 24),
    inquiry="コールセンター 075-000-0000",
)
BOM = "\ufeff"


def letter(n: int, **changes: str) -> notice_letters.Letter:
    values = {
        "application_id": f"{n:023d}",
        "reservation_number": f"{123400000000 + n:012d}",
        "password": "ABCDE23456",
        "name": f"京都 太郎{n}",
        "postal_code": "604-8571",
        "address": f"京都市中京区寺町通御池上る上本能寺前町{n}番地",
    }
    return notice_letters.Letter(**(values | changes))


def write(tmp_path: Path, letters: list[notice_letters.Letter], volume_size: int = 10) -> tuple[Path, Path]:
    target = LocalExportStorage(tmp_path)
    extension = notice_letters.pdf_extension(len(letters), volume_size)
    notice_letters.write_files(
        target,
        pdf_key=f"run/letters.{extension}",
        csv_key="run/vendor.csv",
        letters=iter(letters),
        count=len(letters),
        issuer=ISSUER,
        volume_size=volume_size,
    )
    return tmp_path / f"run/letters.{extension}", tmp_path / "run/vendor.csv"


def page_texts(data: bytes) -> list[str]:
    """Each page's text, with the whitespace the layout puts between boxed characters removed."""
    return ["".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def vendor_rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


# --- the files -----------------------------------------------------------------------------------------


def test_each_letter_is_a_page_with_the_numbers_the_password_and_the_addressee(tmp_path: Path) -> None:
    pdf, _ = write(tmp_path, [letter(1), letter(2, password="HJKMN78923", name="山田 花子")])
    pages = page_texts(pdf.read_bytes())
    assert len(pages) == 2
    first, second = pages
    assert "123400000001" in first and "ABCDE23456" in first and "京都太郎1様" in first
    assert "〒604-8571" in first and "京都市中京区寺町通御池上る上本能寺前町1番地" in first
    assert "123400000002" in second and "HJKMN78923" in second and "山田花子様" in second
    for page in pages:  # what every letter says alike
        assert "マイナンバーカード交付通知書" in page
        assert "https://yoyaku.city.kyoto.lg.jp/" in page
        assert "本人確認書類（運転免許証など）" in page
        assert "コールセンター075-000-0000" in page
    assert "申請書ID00000000000000000000001" in first
    assert "ABCDE23456" not in second


def test_the_qr_code_carries_the_booking_url_and_the_barcode_the_application_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No QR decoder is installed: the test checks what the widgets were built with.
    built: list[str] = []
    barcodes: list[str] = []
    real_qr, real_barcode = notice_letters.qr_widget, notice_letters.application_barcode

    def qr_spy(url: str) -> Any:
        built.append(url)
        return real_qr(url)

    def barcode_spy(value: str) -> Any:
        barcodes.append(value)
        return real_barcode(value)

    monkeypatch.setattr(notice_letters, "qr_widget", qr_spy)
    monkeypatch.setattr(notice_letters, "application_barcode", barcode_spy)
    write(tmp_path, [letter(1), letter(2)])
    assert built == ["https://yoyaku.city.kyoto.lg.jp/"]  # once: it is part of the shared page form
    assert barcodes == [f"{1:023d}", f"{2:023d}"]
    assert real_qr(ISSUER.booking_url).value == ISSUER.booking_url
    barcode = real_barcode("12345678901234567890123")
    assert barcode.width < 60 * 2.8346  # fits beside the address window with its quiet zones


def decode_code128(bars: str, module: float) -> str:
    """Read the PDF path of `barcode_bars` back as a scanner would: widths in modules → symbols → text."""
    numbers = [float(n) for n in bars.replace(" re", "").removesuffix(" f").split()]
    rects = [numbers[i : i + 4] for i in range(0, len(numbers), 4)]
    widths: list[int] = []
    for (x, _, w, _), following in zip(rects, [*rects[1:], None], strict=True):
        widths.append(round(w / module))
        if following is not None:
            widths.append(round((following[0] - x - w) / module))
    by_pattern = {pattern: value for value, pattern in code128._patterns.items()}
    symbols = []
    for start in range(0, len(widths) - 7, 6):
        group = widths[start : start + 6]
        symbols.append(by_pattern["".join(chr(ord("Aa"[i % 2]) + n - 1) for i, n in enumerate(group))])
    assert widths[-7:] == [2, 3, 3, 1, 1, 1, 2]  # the stop pattern
    *data, check = symbols
    assert (data[0] + sum(i * value for i, value in enumerate(data[1:], 1))) % 103 == check
    text, code_set = "", {103: "A", 104: "B", 105: "C"}[data[0]]
    for value in data[1:]:
        if value in (99, 100, 101):
            code_set = {99: "C", 100: "B", 101: "A"}[value]
        else:
            text += f"{value:02d}" if code_set == "C" else chr(value + 32)
    return text


def test_the_barcode_on_the_page_reads_back_as_the_application_id(tmp_path: Path) -> None:
    application_id = "20260000000000000012345"
    pdf, _ = write(tmp_path, [letter(1, application_id=application_id)])
    content = PdfReader(pdf).pages[0].get_contents()
    assert content is not None
    # The page's own rectangles are the barcode's bars (frames and boxes are in the shared form).
    drawn = re.findall(r"[-0-9.]+ [-0-9.]+ [-0-9.]+ [-0-9.]+ re", content.get_data().decode("latin-1"))
    assert len(drawn) > 30
    module = notice_letters.application_barcode(application_id).barWidth
    assert decode_code128(" ".join(drawn) + " f", module) == application_id


def test_the_vendor_csv_has_a_row_per_letter_in_page_order_and_is_spreadsheet_safe(tmp_path: Path) -> None:
    hostile = letter(2, name='=HYPERLINK("http://x")', address="+81 @evil", postal_code="604-8571")
    _, vendor = write(tmp_path, [letter(1), hostile, letter(3, name="𠮷田 一郎")])
    rows = vendor_rows(vendor.read_bytes())
    assert list(rows[0]) == list(notice_letters.CSV_COLUMNS)
    assert [row["seq"] for row in rows] == ["1", "2", "3"]
    assert rows[0] | {} == {
        "seq": "1",
        "volume": "1",
        "page": "1",
        "application_id": f"{1:023d}",
        "reservation_number": "123400000001",
        "password": "ABCDE23456",
        "postal_code": "604-8571",
        "address": "京都市中京区寺町通御池上る上本能寺前町1番地",
        "name": "京都 太郎1",
        "outside_font": "0",
        "municipality": "京都市",
        "booking_url": "https://yoyaku.city.kyoto.lg.jp/",
    }
    assert rows[1]["name"] == '\'=HYPERLINK("http://x")' and rows[1]["address"] == "'+81 @evil"
    assert rows[2]["name"] == "𠮷田 一郎" and rows[2]["outside_font"] == "1"


def test_characters_the_font_lacks_print_as_geta_marks(tmp_path: Path) -> None:
    pdf, _ = write(tmp_path, [letter(1, name="𠮷田 一郎", address="京都市 髙島屋 한")])
    (page,) = page_texts(pdf.read_bytes())
    assert "〓田一郎様" in page and "髙島屋〓" in page
    assert notice_letters.printable("髙橋 﨑") == ("髙橋 﨑", False)


def test_large_runs_come_as_a_zip_of_volumes(tmp_path: Path) -> None:
    pdf, vendor = write(tmp_path, [letter(n) for n in range(1, 6)], volume_size=2)
    assert pdf.suffix == ".zip"
    with zipfile.ZipFile(pdf) as archive:
        names = archive.namelist()
        assert names == ["notices-001-of-003.pdf", "notices-002-of-003.pdf", "notices-003-of-003.pdf"]
        counts = [len(page_texts(archive.read(name))) for name in names]
        last = page_texts(archive.read(names[-1]))
    assert counts == [2, 2, 1]
    assert "123400000005" in last[0] and "第3冊/全3冊" in last[0]
    rows = vendor_rows(vendor.read_bytes())
    assert [(row["volume"], row["page"]) for row in rows] == [
        ("1", "1"),
        ("1", "2"),
        ("2", "1"),
        ("2", "2"),
        ("3", "1"),
    ]


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = LocalExportStorage(tmp_path)
    real = target.save_stream

    def fail_on_csv(key: str, chunks: Any) -> int:
        if key.endswith(".csv"):
            raise OSError("disk full")
        return real(key, chunks)

    monkeypatch.setattr(target, "save_stream", fail_on_csv)
    with pytest.raises(OSError, match="disk full"):
        notice_letters.write_files(
            target, pdf_key="r/a.pdf", csv_key="r/a.csv", letters=[letter(1)], count=1, issuer=ISSUER
        )
    assert not list(tmp_path.rglob("*.*"))


# --- the print run -------------------------------------------------------------------------------------


@pytest.fixture
def kyoto(tenants: Tenants, db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    exports = tmp_path / "exports"
    monkeypatch.setenv("EXPORT_LOCAL_DIR", str(exports))
    monkeypatch.delenv("EXPORT_S3_BUCKET", raising=False)
    with schema_context("kyoto"):
        yield exports


def stored(exports: Path, key: str) -> bytes:
    return (exports / key).read_bytes()


def letters_of(exports: Path, run: NoticeRun) -> dict[str, dict[str, str]]:
    return {row["application_id"]: row for row in vendor_rows(stored(exports, run.csv_key))}


def logs_in(card: Card, password: str) -> bool:
    try:
        do_citizen_login(card.reservation_number, password, "203.0.113.9")
    except LoginRefused:
        return False
    return True


def test_printing_gives_set_up_cards_a_password_and_moves_them_to_notice_sent(kyoto: Path) -> None:
    issued = factories.issue_card(state=CardState.SET_UP)
    card = issued.card
    now = timezone.now()
    result = notices.do_print_notices([card.pk], actor=ACTOR, now=now)
    assert (result.letters, result.new, result.reprinted) == (1, 1, 0)
    run = result.run
    assert run.status == JobStatus.DONE and run.letters == run.letters_done == 1
    assert run.expires_at is not None and run.expires_at > now + dt.timedelta(days=6)
    card.refresh_from_db()
    assert card.state == CardState.NOTICE_SENT and card.notice_sent_on == timezone.localdate(now)
    event = CardEvent.objects.get(card=card, to_state=CardState.NOTICE_SENT)
    assert (event.from_state, event.actor, event.note) == (CardState.SET_UP, "admin1", notices.PRINT_NOTE)
    row = letters_of(kyoto, run)[card.application_id]
    assert row["reservation_number"] == card.reservation_number
    assert row["booking_url"] == "https://kyoto.localhost/"  # the primary domain, not yoyaku.city.kyoto.lg.jp
    assert row["municipality"] == "京都市"
    assert logs_in(card, row["password"]) and not logs_in(card, issued.password)
    text = "".join(page_texts(stored(kyoto, run.pdf_key)))
    assert card.reservation_number in text and row["password"] in text and "京都太郎様" in text
    assert OperationLogEntry.objects.filter(action="notices.print", target=f"notice run {run.pk}").exists()


def test_the_booking_url_is_the_primary_domain(
    kyoto: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert queries.citizen_site_url() == "https://kyoto.localhost/"
    settings.DEBUG = True  # a developer's machine: make run's plain HTTP and port
    monkeypatch.setenv("PORT", "8123")
    assert queries.citizen_site_url() == "http://kyoto.localhost:8123/"
    with schema_context("mihon"):
        assert queries.citizen_site_url() == "http://mihon.localhost:8123/"


def test_a_reprint_keeps_notice_sent_and_replaces_the_password(kyoto: Path) -> None:
    issued = factories.issue_card()  # notice sent, with the password of its first letter
    card = issued.card
    do_create_citizen_token(card)
    result = notices.do_print_notices([card.pk], actor=ACTOR)
    assert (result.new, result.reprinted) == (0, 1)
    card.refresh_from_db()
    assert card.state == CardState.NOTICE_SENT and card.notice_sent_on == timezone.localdate()
    event = CardEvent.objects.filter(card=card).latest("pk")
    assert (event.from_state, event.to_state, event.note) == (
        CardState.NOTICE_SENT,
        CardState.NOTICE_SENT,
        notices.REPRINT_NOTE,
    )
    assert not CitizenToken.objects.filter(card=card).exists()  # API sessions end with the old password
    new_password = letters_of(kyoto, result.run)[card.application_id]["password"]
    assert new_password != issued.password
    assert not logs_in(card, issued.password) and logs_in(card, new_password)


def test_returned_letters_are_printed_again_as_notice_sent(kyoto: Path) -> None:
    card = factories.issue_card().card
    do_move_cards([card.pk], CardState.RETURNED, actor="clerk")
    result = notices.do_print_notices([card.pk], actor=ACTOR)
    card.refresh_from_db()
    assert card.state == CardState.NOTICE_SENT and result.new == 1


def test_cards_in_other_states_are_refused_and_nothing_changes(kyoto: Path) -> None:
    ready = factories.issue_card(state=CardState.SET_UP).card
    received = factories.issue_card(state=CardState.RECEIVED).card
    booked = factories.issue_card().card
    do_book(booked, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    handed = factories.issue_card().card
    do_book(handed, factories.place(), factories.card_issuance(), factories.next_free_slot().starts_at)
    do_move_cards([handed.pk], CardState.HANDED_OVER, actor="clerk")
    cards = [ready, received, booked, handed]
    before = {
        card.pk: (card.state, card.password_digest)
        for card in Card.objects.filter(pk__in=[c.pk for c in cards])
    }
    events = CardEvent.objects.count()
    with pytest.raises(notices.NoticePrintError) as refused:
        notices.do_print_notices([card.pk for card in cards], actor=ACTOR)
    message = refused.value.message
    assert message.startswith("3枚のカードは通知書を印刷できる状態")
    assert f"{received.application_id}: 「受領（J-LIS）」" in message
    assert f"{booked.application_id}: 「予約済み」" in message and handed.application_id in message
    assert ready.application_id not in message
    after = {
        card.pk: (card.state, card.password_digest)
        for card in Card.objects.filter(pk__in=[c.pk for c in cards])
    }
    assert after == before and CardEvent.objects.count() == events
    assert not NoticeRun.objects.exists() and not kyoto.exists()


def test_a_failure_while_writing_the_files_changes_nothing(
    kyoto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    real = LocalExportStorage.save_stream

    def fail_on_csv(self: LocalExportStorage, key: str, chunks: Any) -> int:
        if key.endswith(".csv"):
            raise OSError("bucket unreachable")
        return real(self, key, chunks)

    monkeypatch.setattr(LocalExportStorage, "save_stream", fail_on_csv)
    with pytest.raises(OSError):
        notices.do_print_notices([card.pk], actor=ACTOR)
    fresh = Card.objects.get(pk=card.pk)
    assert (fresh.state, fresh.password_digest) == (CardState.SET_UP, card.password_digest)
    assert not NoticeRun.objects.exists() and not CardEvent.objects.filter(card=card, note=notices.PRINT_NOTE)
    assert not [path for path in kyoto.rglob("*") if path.is_file()]


def test_a_run_refuses_cards_that_changed_after_it_was_asked_for(kyoto: Path) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    asked = timezone.now()
    notices.do_print_notices([card.pk], actor=ACTOR, now=asked + dt.timedelta(seconds=1))  # a double submit
    digest = Card.objects.get(pk=card.pk).password_digest
    with pytest.raises(notices.NoticePrintError, match="印刷の依頼のあとで1枚のカードに変更がありました"):
        notices.do_print_notices([card.pk], actor=ACTOR, unchanged_since=asked)
    assert Card.objects.get(pk=card.pk).password_digest == digest


def test_expired_files_are_deleted(kyoto: Path) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    assert (kyoto / run.pdf_key).is_file() and (kyoto / run.csv_key).is_file()
    assert notices.do_delete_expired_notice_files() == 0
    assert notices.do_delete_expired_notice_files(now=timezone.now() + dt.timedelta(days=8)) == 1
    assert not (kyoto / run.pdf_key).exists() and not (kyoto / run.csv_key).exists()
    run.refresh_from_db()
    assert run.pdf_key == run.csv_key == ""


def test_a_run_lost_midway_is_failed_and_its_files_deleted(kyoto: Path) -> None:
    asked = timezone.now() - notices.STALE_AFTER - dt.timedelta(minutes=1)
    run = NoticeRun.objects.create(
        requested_by="admin1", requested_at=asked, status=JobStatus.RUNNING, letters=1
    )
    pdf_key, csv_key = notices.storage_keys(run)
    NoticeRun.objects.filter(pk=run.pk).update(pdf_key=pdf_key, csv_key=csv_key)
    (kyoto / pdf_key).parent.mkdir(parents=True)
    (kyoto / pdf_key).write_bytes(b"%PDF- half a file")
    fresh = NoticeRun.objects.create(requested_by="admin1", requested_at=timezone.now(), letters=1)
    assert notices.do_delete_expired_notice_files() == 1
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "interrupted" in run.error and run.pdf_key == ""
    assert not (kyoto / pdf_key).exists()
    assert NoticeRun.objects.get(pk=fresh.pk).status == JobStatus.QUEUED  # a recent run is left alone


def test_selection_by_pasted_numbers_reports_each_line(kyoto: Path) -> None:
    ready = factories.issue_card(state=CardState.SET_UP).card
    sent = factories.issue_card().card
    received = factories.issue_card(state=CardState.RECEIVED).card
    number = ready.reservation_number
    text = "\n".join(
        [
            ready.application_id,
            f"{number[:4]}-{number[4:8]}-{number[8:]}",  # the same card by its reservation number
            "",
            "１２３",
            "9" * 23,
            sent.reservation_number,
            received.application_id,
        ]
    )
    pasted = queries.cards_from_lines(text)
    assert pasted.card_ids == [ready.pk, sent.pk]
    assert dict(pasted.states) == {CardState.SET_UP: 1, CardState.NOTICE_SENT: 1}
    assert [(problem.line, problem.en) for problem in pasted.problems] == [
        (2, "the same card as line 1"),
        (4, "not an application ID (23 digits) or a reservation number (12 digits)"),
        (5, "no such card"),
        (7, "a card that is “Received (J-LIS)” cannot get a notice letter"),  # the label, not the code
    ]


# --- the screens ---------------------------------------------------------------------------------------


def confirmed(client: Client, data: dict[str, str]) -> dict[str, str]:
    """What the confirm page sends with its button."""
    confirm = client.post("/staff/notices/new/", data)
    assert confirm.status_code == 200, confirm.content.decode()[:2000]
    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm.content.decode()))
    return {
        **data,
        **{k: v for k, v in sent.items() if k in ("expected", "reprints", "form_token", "confirm")},
    }


def confirm_and_start(client: Client, data: dict[str, str], captured: Any) -> Any:
    sent = confirmed(client, data)
    with captured(execute=True):
        return client.post("/staff/notices/new/", sent)


def test_the_confirm_page_sent_again_makes_no_second_run(
    kyoto: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    """Back and press again (or a resend) after the run finished: the first run's page, not a second run that
    would reprint the cards and void the letters just printed (a new user's walk)."""
    make_staff("admin1", "administrator")
    card = factories.issue_card(state=CardState.SET_UP).card
    client = sign_in("admin1")
    sent = confirmed(client, {"selection": "lines", "lines": card.application_id})
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/staff/notices/new/", sent)
    run = NoticeRun.objects.get()
    password = Card.objects.get(pk=card.pk).password_digest
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post("/staff/notices/new/", sent, follow=True)
    assert again.redirect_chain[-1][0] == first["Location"] == f"/staff/notices/{run.pk}/"
    assert "この確認画面からはすでに印刷を開始しています" in again.content.decode()
    assert NoticeRun.objects.count() == 1 and Card.objects.get(pk=card.pk).password_digest == password


def test_a_page_confirmed_before_another_run_does_not_reprint(
    kyoto: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    """Two confirm pages of the same cards (two tabs, two clerks): the second, confirmed as 0 reprints, is
    refused once the first has printed them, rather than reprinting them unasked."""
    make_staff("admin1", "administrator")
    card = factories.issue_card(state=CardState.SET_UP).card
    client = sign_in("admin1")
    data = {"selection": "lines", "lines": card.application_id}
    tab_a, tab_b = confirmed(client, data), confirmed(client, data)
    assert tab_b["reprints"] == "0"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/staff/notices/new/", tab_a)
    refused = client.post("/staff/notices/new/", tab_b)
    assert refused.status_code == 409
    assert "再印刷になるカードが0枚から1枚に変わりました" in refused.content.decode()
    assert NoticeRun.objects.count() == 1


def test_the_language_switch_on_the_confirm_page_leads_to_a_page(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    factories.issue_card(state=CardState.SET_UP)
    client = sign_in("admin1")
    page = client.post("/staff/notices/new/", {"selection": "set_up"}).content.decode()
    assert '<input name="next" type="hidden" value="/staff/notices/">' in page


def test_an_administrator_prints_all_set_up_cards_and_downloads_the_files(
    kyoto: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_staff("admin1", "administrator")
    cards = [factories.issue_card(state=CardState.SET_UP).card for _ in range(3)]
    factories.issue_card()  # already notice sent: not in "all set-up cards"
    client = sign_in("admin1")
    page = client.get("/staff/notices/")
    assert page.status_code == 200 and "（現在 3枚）" in page.content.decode()
    confirm = client.post("/staff/notices/new/", {"selection": "set_up"})
    assert confirm.status_code == 200 and "3通を印刷する" in confirm.content.decode()
    assert Card.objects.filter(state=CardState.SET_UP).count() == 3  # nothing happens before confirmation
    response = confirm_and_start(client, {"selection": "set_up"}, django_capture_on_commit_callbacks)
    run = NoticeRun.objects.get()
    assert response["Location"] == f"/staff/notices/{run.pk}/"
    assert run.status == JobStatus.DONE and run.letters == 3 and run.requested_by == "admin1"
    assert set(Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("state", flat=True)) == {
        CardState.NOTICE_SENT
    }
    assert CardEvent.objects.filter(note=notices.PRINT_NOTE, actor="admin1").count() == 3
    run_page = client.get(f"/staff/notices/{run.pk}/")
    assert run_page.status_code == 200 and "Refresh" not in run_page

    pdf: Any = client.get(f"/staff/notices/{run.pk}/download/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "attachment" in pdf["Content-Disposition"]
    assert len(page_texts(b"".join(pdf.streaming_content))) == 3
    vendor: Any = client.get(f"/staff/notices/{run.pk}/download/csv/")
    rows = vendor_rows(b"".join(vendor.streaming_content))
    assert {row["application_id"] for row in rows} == {card.application_id for card in cards}
    downloads = OperationLogEntry.objects.filter(action="notices.download", target=f"notice run {run.pk}")
    assert sorted(entry.detail["file"] for entry in downloads) == ["csv", "pdf"]
    assert client.get(f"/staff/notices/{run.pk}/download/exe/").status_code == 404

    assert client.post(f"/staff/notices/{run.pk}/delete/").status_code == 302
    assert client.get(f"/staff/notices/{run.pk}/download/pdf/").status_code == 410
    again = client.post(f"/staff/notices/{run.pk}/delete/", follow=True).content.decode()
    assert "この印刷のファイルはすでに削除されています。" in again and "ファイルを削除しました" not in again
    assert OperationLogEntry.objects.filter(action="notices.delete_files").count() == 1
    assert not [path for path in kyoto.rglob("*") if path.is_file()]


def test_pasted_numbers_with_mistakes_are_shown_line_by_line_and_nothing_is_printed(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    card = factories.issue_card(state=CardState.SET_UP).card
    client = sign_in("admin1")
    response = client.post(
        "/staff/notices/new/", {"selection": "lines", "lines": f"{card.application_id}\n12345"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "2行目「12345」: 申請書ID（23桁）または予約番号（12桁）ではありません" in body
    assert Card.objects.get(pk=card.pk).state == CardState.SET_UP and not NoticeRun.objects.exists()


def test_a_reprint_is_announced_before_it_is_confirmed(
    kyoto: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_staff("admin1", "administrator")
    card = factories.issue_card().card
    client = sign_in("admin1")
    data = {"selection": "lines", "lines": card.reservation_number}
    confirm = client.post("/staff/notices/new/", data)
    assert "1枚は再印刷です" in confirm.content.decode()
    confirm_and_start(client, data, django_capture_on_commit_callbacks)
    assert NoticeRun.objects.get().status == JobStatus.DONE
    assert CardEvent.objects.filter(card=card, note=notices.REPRINT_NOTE).count() == 1


def test_the_cards_of_one_import_are_printed_together(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    job = CardImportJob.objects.create(
        requested_by="admin1", requested_at=timezone.now(), filename="jlis.csv", status=JobStatus.DONE
    )
    mine = [
        factories.issue_card(state=state).card
        for state in (CardState.SET_UP, CardState.SET_UP, CardState.RECEIVED)
    ]
    Card.objects.filter(pk__in=[card.pk for card in mine]).update(import_job=job)
    factories.issue_card(state=CardState.SET_UP)  # set up, but from another import
    assert list(queries.import_job_cards(job.pk).order_by("pk")) == mine[:2]
    client = sign_in("admin1")
    page = client.get("/staff/notices/").content.decode()
    assert f"#{job.pk} jlis.csv" in page and "印刷できるカード 2枚、交付前設定待ち 1枚" in page
    confirm = client.post("/staff/notices/new/", {"selection": "import_job", "import_job": str(job.pk)})
    assert confirm.status_code == 200 and confirm.context["selection"].card_ids == [
        card.pk for card in mine[:2]
    ]
    missing = client.post("/staff/notices/new/", {"selection": "import_job"})
    assert missing.status_code == 400 and "取込を選んでください。" in missing.content.decode()


def test_a_changed_count_is_confirmed_again(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    factories.issue_card(state=CardState.SET_UP)
    client = sign_in("admin1")
    response = client.post("/staff/notices/new/", {"selection": "set_up", "confirm": "1", "expected": "5"})
    assert response.status_code == 200 and "1通を印刷する" in response.content.decode()
    assert not NoticeRun.objects.exists()


def test_a_running_print_shows_its_progress_and_reloads(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    run = NoticeRun.objects.create(
        requested_by="admin1", requested_at=timezone.now(), status=JobStatus.RUNNING, letters=400
    )
    notices._publish(run.pk, 100)
    client = sign_in("admin1")
    page = client.get(f"/staff/notices/{run.pk}/")
    body = page.content.decode()
    assert page["Refresh"] == "5"
    assert 'max="400" value="100"' in body and "100 / 400 通（25%）" in body
    assert "Refresh" not in client.get(f"/staff/notices/{run.pk}/?refresh=off")


def test_downloads_expire(kyoto: Path) -> None:
    make_staff("admin1", "administrator")
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    client = sign_in("admin1")
    assert client.get(f"/staff/notices/{run.pk}/download/csv/").status_code == 200
    NoticeRun.objects.filter(pk=run.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(f"/staff/notices/{run.pk}/download/csv/").status_code == 410
    assert client.get(f"/staff/notices/{run.pk}/download/pdf/").status_code == 410


@pytest.mark.parametrize("role", ["counter", "viewer", "operator"])
def test_only_administrators_print_notices(kyoto: Path, role: str) -> None:
    make_staff("someone", role)
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    client = sign_in("someone")
    assert client.get("/staff/notices/").status_code == 403
    assert (
        client.post(
            "/staff/notices/new/", {"selection": "set_up", "confirm": "1", "expected": "0"}
        ).status_code
        == 403
    )
    assert client.get(f"/staff/notices/{run.pk}/").status_code == 403
    assert client.get(f"/staff/notices/{run.pk}/download/pdf/").status_code == 403
    assert client.post(f"/staff/notices/{run.pk}/delete/").status_code == 403
    assert NoticeRun.objects.get(pk=run.pk).pdf_key


def test_another_tenant_cannot_see_or_fetch_the_runs(kyoto: Path) -> None:
    card = factories.issue_card(state=CardState.SET_UP).card
    run = notices.do_print_notices([card.pk], actor=ACTOR).run
    with schema_context("mihon"):
        make_staff("mihon-admin", "administrator")
    client = sign_in("mihon-admin", host=MIHON_HOST)
    assert client.get(f"/staff/notices/{run.pk}/").status_code == 404
    assert client.get(f"/staff/notices/{run.pk}/download/pdf/").status_code == 404
    assert client.post(f"/staff/notices/{run.pk}/delete/").status_code == 404
    listing = client.get("/staff/notices/").content.decode()
    assert "まだ印刷はありません" in listing
    with schema_context("kyoto"):
        assert NoticeRun.objects.get(pk=run.pk).pdf_key


# --- the command ---------------------------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("print_notices", *args, stdout=out)
    return out.getvalue()


def test_the_command_writes_private_files_and_refuses_to_overwrite(kyoto: Path, tmp_path: Path) -> None:
    cards = [factories.issue_card(state=CardState.SET_UP).card for _ in range(2)]
    pdf, vendor = tmp_path / "letters.pdf", tmp_path / "vendor.csv"
    output = run_command("kyoto", "--pdf", str(pdf), "--csv", str(vendor), "--all-set-up")
    assert "2通（はじめて 2通、再印刷 0通）" in output
    for path in (pdf, vendor):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(page_texts(pdf.read_bytes())) == 2
    rows = vendor_rows(vendor.read_bytes())
    assert {row["application_id"] for row in rows} == {card.application_id for card in cards}
    run = NoticeRun.objects.get()
    assert run.status == JobStatus.DONE and run.pdf_key == ""  # the stored copies were deleted
    assert not [path for path in kyoto.rglob("*") if path.is_file()]

    ids = tmp_path / "ids.txt"
    ids.write_text(cards[0].application_id + "\n", encoding="utf-8")
    digest = Card.objects.get(pk=cards[0].pk).password_digest
    with pytest.raises(CommandError, match="既に存在します"):
        run_command("kyoto", "--pdf", str(pdf), "--csv", str(vendor), "--ids", str(ids))
    assert Card.objects.get(pk=cards[0].pk).password_digest == digest  # refused before anything changed
    output = run_command("kyoto", "--pdf", str(pdf), "--csv", str(vendor), "--ids", str(ids), "--force")
    assert "再印刷 1通" in output
    assert Card.objects.get(pk=cards[0].pk).password_digest != digest


def test_the_command_reports_bad_lines_and_wrong_names(kyoto: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("12345\n", encoding="utf-8")
    args = ["kyoto", "--pdf", str(tmp_path / "a.pdf"), "--csv", str(tmp_path / "a.csv")]
    with pytest.raises(CommandError, match="1行目「12345」"):
        run_command(*args, "--ids", str(ids))
    with pytest.raises(CommandError, match="印刷するカードがありません"):
        run_command(*args, "--all-set-up")
    for _ in range(3):
        factories.issue_card(state=CardState.SET_UP)
    with pytest.raises(CommandError, match="ZIP"):
        run_command(*args, "--all-set-up", "--volume-size", "2")
    with pytest.raises(CommandError, match="no tenant with schema 'nowhere'"):
        run_command(
            "nowhere", "--pdf", str(tmp_path / "b.pdf"), "--csv", str(tmp_path / "b.csv"), "--all-set-up"
        )
    assert not NoticeRun.objects.exists()


def test_a_letter_scanned_twice_is_printed_once_and_said_so(kyoto: Path) -> None:
    """As the cards' bulk change takes a repeated scan (the reader beeps, the clerk scans again): once, with a
    note; it used to stop the whole selection (a new user's walk: two rules for one gesture)."""
    make_staff("admin1", "administrator")
    card = factories.issue_card(state=CardState.SET_UP).card
    other = factories.issue_card(state=CardState.SET_UP).card
    client = sign_in("admin1")
    lines = "\n".join([card.application_id, other.application_id, card.application_id])
    confirm = client.post("/staff/notices/new/", {"selection": "lines", "lines": lines})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "2通を印刷する" in page
    assert "同じカードを重ねて読み取った行が1行あります" in page and "3行目" in page
    assert confirm.context["selection"].card_ids == [card.pk, other.pk]


def test_all_set_up_cards_confirmed_again_after_their_run_goes_to_that_run(
    kyoto: Path, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    """ "All set-up cards": once printed there are none left, and a resend of the confirm page answered "no
    cards to print" (400) instead of the run it had made."""
    make_staff("admin1", "administrator")
    factories.issue_card(state=CardState.SET_UP)
    client = sign_in("admin1")
    sent = confirmed(client, {"selection": "set_up"})
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/staff/notices/new/", sent)
    again = client.post("/staff/notices/new/", sent)
    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert NoticeRun.objects.count() == 1
