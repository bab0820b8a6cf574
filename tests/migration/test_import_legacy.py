"""`manage.py import_legacy`: the migration from the old booking system (SO-20), all or nothing, rehearsable.

Every test imports into a fresh tenant provisioned with the Kyoto preset (inside the test's transaction), so
the session's kyoto tenant and its data never get in the way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from booking.cards import credentials
from booking.engine.services import active_booking
from booking.migration import parsing
from booking.models import (
    Booking,
    BookingEvent,
    BookingSettings,
    Card,
    CardEvent,
    OpeningPattern,
    OperationLogEntry,
    Place,
    Slot,
)
from integrations import legacy_import
from tenants.services import do_provision_tenant
from tests import factories
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "legacy"
SCHEMA = "legacy"
TOKYO = ZoneInfo("Asia/Tokyo")
Rows = list[dict[str, str]]


@pytest.fixture
def fresh(tenants: Tenants) -> str:
    do_provision_tenant(SCHEMA, name="移行見本市", domain="legacy.localhost", preset="kyoto")
    return SCHEMA


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(EXAMPLE, target)
    return target


# --- helpers ----------------------------------------------------------------------------------------------


def run(*args: str | Path) -> str:
    out = StringIO()
    call_command("import_legacy", *[str(arg) for arg in args], stdout=out)
    return out.getvalue()


def run_failing(*args: str | Path) -> tuple[str, str]:
    """(what the command printed, its error) for a run that must exit non-zero."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_legacy", *[str(arg) for arg in args], stdout=out)
    return out.getvalue(), str(error.value)


def read(folder: Path, name: str) -> tuple[list[str], Rows]:
    text = (folder / name).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def write(folder: Path, name: str, header: list[str], rows: Rows, encoding: str = "utf-8") -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / name).write_bytes(buffer.getvalue().encode(encoding))


def append(folder: Path, name: str, *rows: dict[str, str]) -> int:
    """Add rows; returns the file line of the first one (the header is line 1)."""
    header, existing = read(folder, name)
    write(folder, name, header, [*existing, *rows])
    return len(existing) + 2


def change(folder: Path, name: str, line: int, **values: str) -> None:
    header, rows = read(folder, name)
    rows[line - 2].update(values)
    write(folder, name, header, rows)


def card_row(n: int, state: str, **values: str) -> dict[str, str]:
    return {
        "application_id": f"{26_119_900_000_000_000_000_000 + n:023d}",
        "reservation_number": f"{102_699_990_000 + n:012d}",
        "password": "ABCD2345",
        "name": f"試験 太郎{n}",
        "name_kana": "シケン タロウ",
        "birth_date": "1980-04-01",
        "postal_code": "604-8571",
        "address": "京都市中京区寺町通御池上る上本能寺前町488",
        "state": state,
        "notice_sent_on": "2026-10-15",
        "state_changed_at": "",
        **values,
    }


def booking_row(number: str, **values: str) -> dict[str, str]:
    return {
        "reservation_number": number,
        "caller_name_kana": "",
        "place": "kita",
        "service": "card_issuance",
        "date": "2026-12-08",
        "start": "10:00",
        "end": "",
        "status": "confirmed",
        "channel": "web",
        "contact_phone": "",
        "contact_email": "",
        "created_at": "2026-11-01 10:00",
        "cancelled_at": "",
        "outcome_at": "",
        **values,
    }


def snapshot() -> dict[str, object]:
    """Everything the import may write, as comparable values."""
    rules = BookingSettings.objects.filter(singleton=True).values().first()
    return {
        "cards": sorted(Card.objects.values_list("application_id", "state")),
        "bookings": Booking.objects.count(),
        "slots": sorted(Slot.objects.values_list("starts_at", "taken")),
        "places": sorted(Place.objects.values_list("code", flat=True)),
        "card_events": CardEvent.objects.count(),
        "booking_events": BookingEvent.objects.count(),
        "settings": rules,
    }


# --- a clean import -----------------------------------------------------------------------------------------


def test_the_example_imports_cleanly_into_a_fresh_kyoto_tenant(fresh: str, folder: Path) -> None:
    with schema_context("kyoto"):
        kyoto_before = snapshot()
    out = run(fresh, folder)
    assert "取り込みました / imported" in out
    assert "== 不採用 / rejected: 0件 ==" in out
    assert "照合結果 / reconciliation: OK" in out
    assert "DIFF" not in out
    with schema_context(fresh):
        assert Card.objects.count() == 14 and Booking.objects.count() == 15
        card = Card.objects.get(reservation_number="102600010001")
        # The password as printed on the letter the citizen holds still works (typed in lower case, too).
        assert credentials.password_matches("km7q3xwp", card.password_digest)
        assert card.state == "handed_over" and card.name_kana == "キョウト イチロウ"
        event = CardEvent.objects.get(card=card)
        assert (event.from_state, event.to_state, event.actor, event.note) == (
            "",
            "handed_over",
            "legacy-import",
            "旧システムから移行",
        )
        assert event.at == dt.datetime(2025, 2, 4, 10, 12, tzinfo=TOKYO)
        moved = Card.objects.get(reservation_number="102600010005")
        assert moved.state == "moved" and moved.at_place is not None and moved.at_place.code == "center-1f"
        booking = active_booking(Card.objects.get(reservation_number="102600010003"))
        assert booking is not None
        assert booking.slot.starts_at == dt.datetime(2026, 12, 8, 10, 0, tzinfo=TOKYO)
        assert booking.created_at == dt.datetime(2026, 11, 5, 10, 12, tzinfo=TOKYO)
        assert booking.slot.capacity == 3 and booking.slot.taken == 1  # the ward office's pattern
        assert list(booking.events.values_list("kind", "actor")) == [("booked", "legacy-import")]
        cancelled = Booking.objects.get(card__reservation_number="102600010004", status="cancelled")
        assert list(cancelled.events.values_list("kind", flat=True)) == ["booked", "cancelled"]
        visited = Booking.objects.get(card__reservation_number="102600010001")
        assert (visited.outcome, visited.outcome_by) == ("visited", "legacy-import")
        caller = Booking.objects.get(caller_name_kana="キムラ ヒロシ")
        assert caller.card is None and caller.contact_phone == "0752223333" and caller.channel == "phone"
        # The temporary counter is new and has no opening pattern: its slot holds the people booked there.
        temporary = Slot.objects.get(place__code="kyoto-eki")
        assert (temporary.capacity, temporary.taken) == (2, 2)
        assert Place.objects.filter(code="center-3f").count() == 1  # matched, not duplicated
        rules = BookingSettings.objects.get()
        assert rules.phone_requirement == "required" and rules.text_top.count("\n") == 1
        for slot in Slot.objects.all():
            assert slot.taken == slot.bookings.filter(status="confirmed").count()
        entry = OperationLogEntry.objects.get(action="legacy.import")
        assert entry.detail["counts"]["cards.csv"] == {"source": 14, "new": 14, "existing": 0, "rejected": 0}
    with schema_context("kyoto"):
        assert snapshot() == kyoto_before


def test_the_reader_alone_gives_typed_rows(tmp_path: Path) -> None:
    data = parsing.read_directory(EXAMPLE, today=dt.date(2026, 11, 24))
    assert [(file.name, file.rows) for file in data.files] == [
        ("settings.csv", 8),
        ("places.csv", 3),
        ("cards.csv", 14),
        ("bookings.csv", 15),
    ]
    assert data.rejections == []
    card = next(card for card in data.cards if card.line == 4)
    assert card.reservation_number == "102600010003"  # written 1026-0001-0003 in the file
    assert card.birth_date == dt.date(1988, 2, 14)
    visit = next(booking for booking in data.bookings if booking.caller_name_kana == "モリ ユキ")
    assert (visit.service, visit.status, visit.channel) == ("pin_reset", "visited", "phone")


def test_the_reader_checks_each_booking_row(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "x")
    folder = tmp_path / "x"
    first = append(
        folder,
        "bookings.csv",
        booking_row("", caller_name_kana="ヤマモト", service="pin_reset"),
        booking_row(
            "102600010006", caller_name_kana="ヤマモト", status="cancelled", cancelled_at="2026-11-02 09:00"
        ),
        booking_row("102600010006", status="cancelled"),
        booking_row("102600010006", status="no_show", date="2099-01-05"),
        booking_row("102600010006", status="cancelled", cancelled_at="2026-11-02 09:00", end="09:45"),
        booking_row(
            "102600010006", status="cancelled", cancelled_at="2026-11-02 09:00", contact_phone="12345"
        ),
    )
    data = parsing.read_directory(folder, today=dt.date(2026, 11, 24))
    found = {(problem.line, problem.field, problem.en) for problem in data.rejections}
    assert found >= {
        (
            first,
            "reservation_number",
            "needs a reservation_number, or caller_name_kana and contact_phone for a caller without one",
        ),
        (first + 1, "caller_name_kana", "leave caller_name_kana empty when there is a reservation_number"),
        (first + 2, "cancelled_at", "is required for a cancelled booking"),
        (first + 3, "status", "a future booking cannot have an outcome"),
        (first + 4, "end", "must be after start"),
        (first + 5, "contact_phone", "must be 10 or 11 digits starting with 0"),
    }
    assert len(data.bookings) == 15  # the example's own rows are untouched


# --- dry runs and the real run agree ------------------------------------------------------------------------


def test_a_dry_run_leaves_the_database_as_it_was(fresh: str, folder: Path) -> None:
    with schema_context(fresh):
        before = snapshot()
    out = run(fresh, folder, "--dry-run")
    assert "dry run: the database was not changed" in out
    assert "cards.csv（カード）       14                 14" in out
    with schema_context(fresh):
        assert snapshot() == before


def test_two_dry_runs_and_the_real_run_report_the_same_and_a_second_run_changes_nothing(
    fresh: str, folder: Path, tmp_path: Path
) -> None:
    reports = [tmp_path / f"{name}.txt" for name in ("dry1", "dry2", "real", "again")]
    run(fresh, folder, "--dry-run", "--report", reports[0])
    run(fresh, folder, "--dry-run", "--report", reports[1])
    run(fresh, folder, "--report", reports[2])
    texts = [path.read_text(encoding="utf-8") for path in reports[:3]]
    assert texts[0] == texts[1] == texts[2]
    with schema_context(fresh):
        after_real = snapshot()
    out = run(fresh, folder, "--report", reports[3])
    assert "照合結果 / reconciliation: OK" in out
    again = reports[3].read_text(encoding="utf-8")
    assert "cards.csv（カード）       14                 0           14" in again
    assert "bookings.csv（予約）      15                 0           15" in again
    assert "予約枠 / slots 0、カード履歴 / card events 0、予約履歴 / booking events 0" in again
    with schema_context(fresh):
        assert snapshot() == after_real


def test_the_reconciliation_table_per_kind_and_per_day(fresh: str, folder: Path) -> None:
    out = run(fresh, folder, "--dry-run")
    assert "bookings.csv（予約）      15                 15                       OK" in out
    assert "2025-03-14   0/0               2/2           0/0               0/0             OK" in out
    assert "2026-12-01   0/0               0/0           0/0               1/1             OK" in out


# --- rejections ---------------------------------------------------------------------------------------------


def _bad_birth_date(folder: Path) -> None:
    change(folder, "cards.csv", 2, birth_date="1956/05/12")


def _unknown_place(folder: Path) -> None:
    append(
        folder,
        "bookings.csv",
        booking_row("102600010006", place="nowhere", status="cancelled", cancelled_at="2026-11-02 09:00"),
    )


def _duplicate_number(folder: Path) -> None:
    append(folder, "cards.csv", card_row(1, "notice_sent", reservation_number="102600010001"))


def _two_confirmed(folder: Path) -> None:
    append(folder, "bookings.csv", booking_row("102600010003", place="sakyo", date="2026-12-10"))


def _inconsistent_state(folder: Path) -> None:
    append(folder, "bookings.csv", booking_row("102600010006", date="2025-02-04", status="visited"))


def _over_capacity(folder: Path) -> None:
    # The ward office takes 3 people at a time; the file already has one at 2026-12-08 10:00 there.
    append(folder, "cards.csv", *(card_row(n, "booked") for n in (1, 2, 3)))
    append(
        folder, "bookings.csv", *(booking_row(card_row(n, "booked")["reservation_number"]) for n in (1, 2, 3))
    )


def _bad_setting(folder: Path) -> None:
    path = folder / "settings.csv"
    with path.open("a", encoding="utf-8") as file:
        file.write("confirmation_mail_text,{name}様のご予約を承りました\n")


@pytest.mark.parametrize(
    ("make_wrong", "expected"),
    [
        (
            _bad_setting,
            # The quoted two-line text above it counts as two lines: this record starts on line 11.
            ["settings.csv 11行目 value: confirmation_mail_text: 使えない差し込み項目 {name} があります"],
        ),
        (
            _bad_birth_date,
            [
                "cards.csv 2行目 birth_date: 日付の形式が正しくありません",
                "bookings.csv line 2 reservation_number: its card (cards.csv line 2) is rejected",
            ],
        ),
        (
            _unknown_place,
            ["bookings.csv 17行目 place: 交付場所 nowhere が取込先のテナントにも places.csv にもありません"],
        ),
        (
            _duplicate_number,
            [
                "cards.csv 16行目 reservation_number: 2行目と重複しています",
                "cards.csv line 16 reservation_number: same as line 2",
            ],
        ),
        (_two_confirmed, ["bookings.csv 17行目 status: このカードには5行目にも予約中の予約があります"]),
        (
            _inconsistent_state,
            [
                "cards.csv 7行目 state: 状態が「通知書送付済み」ですが、来庁（交付済み）の予約があります",
                "cards.csv line 7 state: state is notice_sent but the card was handed over at a visit "
                "(bookings.csv line 17)",
                "bookings.csv line 17 reservation_number: its card (cards.csv line 7) is rejected",
            ],
        ),
        (
            _over_capacity,
            [
                "bookings.csv 19行目 start: 2026-12-08 10:00 の定員（3人）を超えます",
                "bookings.csv line 19 start: over the capacity of 2026-12-08 10:00 (3)",
            ],
        ),
    ],
    ids=[
        "bad-setting",
        "bad-field",
        "unknown-place",
        "duplicate-reservation-number",
        "two-confirmed",
        "inconsistent-state",
        "over-capacity",
    ],
)
def test_each_rejection_names_its_line_and_a_real_run_imports_nothing(
    fresh: str, folder: Path, make_wrong: Callable[[Path], None], expected: list[str]
) -> None:
    make_wrong(folder)
    out, error = run_failing(fresh, folder, "--dry-run")
    for text in expected:
        assert text in out
    assert "rejection(s)" in error
    assert "照合結果 / reconciliation: 差異あり / differences" in out
    with schema_context(fresh):
        before = snapshot()
    out, error = run_failing(fresh, folder)
    assert "nothing was imported (all or nothing)" in out
    with schema_context(fresh):
        assert snapshot() == before


def test_over_capacity_is_refused_by_the_database_not_a_crash(
    fresh: str, folder: Path, tmp_path: Path
) -> None:
    _over_capacity(folder)
    report = tmp_path / "report.txt"
    out, _error = run_failing(fresh, folder, "--dry-run", "--report", report)
    text = report.read_text(encoding="utf-8")
    assert "== 不採用 / rejected: 1件 ==" in text
    assert "bookings.csv（予約）      18                 17          0                1" in text
    assert "2026-12-08   4/3" in text and "差異 / DIFF" in text


def test_an_application_already_in_the_tenant_with_another_number_is_rejected(
    fresh: str, folder: Path
) -> None:
    with schema_context(fresh):
        issued = factories.issue_card()
    change(folder, "cards.csv", 7, application_id=issued.card.application_id)
    out, _error = run_failing(fresh, folder, "--dry-run")
    assert (
        f"cards.csv line 7 application_id: the tenant has this application with reservation number "
        f"{issued.card.reservation_number}" in out
    )


def test_a_card_state_contradicting_its_bookings_is_rejected(fresh: str, folder: Path) -> None:
    change(folder, "cards.csv", 4, state="notice_sent")  # it has a confirmed booking
    change(folder, "cards.csv", 7, state="booked")  # it has none
    out, _error = run_failing(fresh, folder, "--dry-run")
    assert (
        "cards.csv line 4 state: state is notice_sent but the card has a confirmed booking "
        "(bookings.csv line 5)" in out
    )
    assert (
        "cards.csv line 7 state: state is booked but bookings.csv has no confirmed booking for the card"
        in out
    )


def test_more_rejections_than_the_limit_are_counted_and_all_go_to_the_report(
    fresh: str, folder: Path, tmp_path: Path
) -> None:
    header, rows = read(folder, "cards.csv")
    for row in rows:
        row["postal_code"] = "京都"
    write(folder, "cards.csv", header, rows)
    report = tmp_path / "all.txt"
    out, _error = run_failing(fresh, folder, "--dry-run", "--limit", "3", "--report", report)
    assert "… ほか24件" in out and "and 24 more" in out  # 14 cards and the 13 bookings of cards
    assert report.read_text(encoding="utf-8").count("\n- cards.csv") == 14


# --- files and folders -------------------------------------------------------------------------------------


def test_unknown_schema(tenants: Tenants, folder: Path) -> None:
    with pytest.raises(CommandError, match="no tenant with schema 'nowhere'"):
        run("nowhere", folder, "--dry-run")


def test_missing_folder_or_files(fresh: str, folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such directory"):
        run(fresh, tmp_path / "nothing-here", "--dry-run")
    (folder / "bookings.csv").unlink()
    (folder / "places.csv").unlink()  # optional
    (folder / "booking.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run(fresh, folder, "--dry-run")
    assert "bookings.csv: 必要なファイルがありません / bookings.csv: required file is missing" in str(
        error.value
    )
    assert "booking.csv: 不明なファイルです" in str(error.value)


def test_a_wrong_header_stops_everything(fresh: str, folder: Path) -> None:
    path = folder / "bookings.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("outcome_at", "outcome_on", 1), encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run(fresh, folder, "--dry-run")
    assert "bookings.csv 1行目: 不明な列です: outcome_on" in str(error.value)


def test_shift_jis_files_are_read(fresh: str, folder: Path) -> None:
    for name in legacy_import.FILES:
        header, rows = read(folder, name)
        write(folder, name, header, rows, encoding="cp932")
    out = run(fresh, folder)
    assert "cards.csv        Shift_JIS" in out
    with schema_context(fresh):
        assert Card.objects.get(reservation_number="102600010006").name == "伊藤 さくら"


def test_not_utf8_nor_shift_jis(fresh: str, folder: Path) -> None:
    (folder / "places.csv").write_bytes(b"code,name,address\nx,\x81\xff,y\n")
    with pytest.raises(CommandError, match="neither UTF-8 nor Shift_JIS"):
        run(fresh, folder, "--dry-run")


def test_a_time_no_pattern_offers_gets_the_people_booked_as_capacity(fresh: str, folder: Path) -> None:
    with schema_context(fresh):
        OpeningPattern.objects.filter(place__code="sakyo").delete()
    out = run(fresh, folder)
    assert "sakyo / card_issuance: 受付パターンにない時間が1件あり（2027-01-12 14:00）" in out
    with schema_context(fresh):
        slot = Slot.objects.get(place__code="sakyo")
        assert (slot.capacity, slot.taken, slot.ends_at - slot.starts_at) == (1, 1, dt.timedelta(minutes=15))


def test_a_past_booking_without_outcome_is_a_warning(fresh: str, folder: Path) -> None:
    today = timezone.localdate()
    card = card_row(9, "booked")
    append(folder, "cards.csv", card)
    line = append(
        folder,
        "bookings.csv",
        booking_row(
            card["reservation_number"], date=f"{today - dt.timedelta(days=7)}", created_at="2025-01-01 09:00"
        ),
    )
    out = run(fresh, folder, "--dry-run")
    assert f"bookings.csv line {line} status: a past booking without an outcome" in out
