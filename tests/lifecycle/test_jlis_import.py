"""J-LIS card-creation data (AD-03): both layouts, both encodings, every error class, all or nothing,
idempotent re-import, cards "received" without a password and their history (docs/formats/jlis-import.md)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone
from django_tenants.utils import schema_context
from pytest_django import DjangoCaptureOnCommitCallbacks

from booking.cards import credentials
from booking.citizen.login import LoginRefused, do_citizen_login
from booking.lifecycle import intake as card_import
from booking.models import Card, CardEvent
from booking.rules.card_states import CardState
from integrations import jlis
from integrations.jlis import CP932, UTF8, CardImportError, Layout
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
CREATED_ON = dt.date(2026, 11, 20)
TOMORROW = timezone.localdate() + dt.timedelta(days=1)
Run = Callable[..., str]


def app_id(n: int) -> str:
    return f"{40_000_000_000_000_000_000_000 + n:023d}"


def row(n: int, **changes: str) -> dict[str, str]:
    return {
        "application_id": app_id(n),
        "name": f"京都 太郎{n}",
        "name_kana": "ｷｮｳﾄ ﾀﾛｳ",  # half-width, as older systems write it
        "birth_date": "19800401",
        "postal_code": "6048571",
        "address": f"京都市中京区寺町通御池上る上本能寺前町{n}",
    } | changes


def fixed(rows: list[dict[str, str]], encoding: str = CP932, **options: int) -> bytes:
    return jlis.fixed_width_file(rows, created_on=CREATED_ON, encoding=encoding, **options)


def lines(data: bytes, encoding: str = CP932) -> list[str]:
    return data.decode(encoding).split("\r\n")[:-1]


def joined(records: list[str], encoding: str = CP932) -> bytes:
    return "".join(record + "\r\n" for record in records).encode(encoding)


@pytest.fixture
def run(
    tenants: Tenants, tmp_path: Path, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> Run:
    """import_cards on bytes (or a path), with the on-commit callbacks run as if it had committed."""

    def call(data: bytes | Path, *options: str, schema: str = "kyoto") -> str:
        path = data if isinstance(data, Path) else tmp_path / "jlis.dat"
        if isinstance(data, bytes):
            path.write_bytes(data)
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_cards", schema, str(path), *options, stdout=out)
        return out.getvalue()

    return call


def cards(*numbers: int, schema: str = "kyoto") -> dict[str, Card]:
    with schema_context(schema):
        return {
            card.application_id: card for card in Card.objects.filter(application_id__in=map(app_id, numbers))
        }


def refused(run: Run, data: bytes, *options: str) -> str:
    with pytest.raises(CommandError) as error:
        run(data, *options)
    return str(error.value)


# --- importing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["jlis-cards.csv", "jlis-cards.txt"])
def test_the_documented_examples_import_cleanly(run: Run, name: str) -> None:
    out = run(DOCS / name)

    assert "imported: 3 new, 0 reissued, 0 unchanged" in out
    with schema_context("kyoto"):
        imported = {
            card.application_id: card for card in Card.objects.filter(application_id__startswith="3000")
        }
        assert len(imported) == 3
        takahashi = imported["30000000000000000000002"]
        assert (takahashi.name, takahashi.name_kana, takahashi.postal_code) == (
            "髙橋 一郎",
            "タカハシ イチロウ",
            "600-8216",
        )
        assert takahashi.birth_date == dt.date(1975, 10, 30)
        assert imported["30000000000000000000003"].address == "京都市北区小山北上総町49-1 コーポ北山101号室"


@pytest.mark.parametrize("encoding", [CP932, UTF8])
@pytest.mark.parametrize("layout", [Layout.JLIS_FIXED, Layout.JLIS_CSV])
def test_both_layouts_in_both_encodings_make_received_cards_without_password(
    run: Run, layout: Layout, encoding: str
) -> None:
    rows = [row(1), row(2, name="髙木 ①子", name_kana="タカギ イチコ"), row(3)]
    data = fixed(rows, encoding) if layout is Layout.JLIS_FIXED else jlis.csv_file(rows, encoding=encoding)

    out = run(data)

    assert f"format: {layout} ({encoding})" in out
    assert "imported: 3 new, 0 reissued, 0 unchanged" in out
    assert "3 card(s) are 'received' without a password" in out
    found = cards(1, 2, 3)
    assert found[app_id(2)].name == "髙木 ①子"  # NEC/IBM extension characters of cp932 survive
    for card in found.values():
        assert card.state == CardState.RECEIVED
        assert card.password_digest == ""
        assert len(card.reservation_number) == 12
        assert (card.birth_date, card.postal_code) == (dt.date(1980, 4, 1), "604-8571")
        assert card.import_job is None
    assert found[app_id(1)].name_kana == "キョウト タロウ"
    with schema_context("kyoto"):
        events = list(
            CardEvent.objects.filter(card__in=found.values()).values_list(
                "from_state", "to_state", "actor", "note"
            )
        )
    assert events == [("", "received", "import_cards", "J-LIS取込（import_cards）")] * 3


def test_a_utf8_bom_and_a_character_shift_jis_lacks_fixed_width(run: Run) -> None:
    # 𠮷 is not in Shift_JIS: in a UTF-8 file it counts 2 bytes of the width, like any full-width character.
    data = b"\xef\xbb\xbf" + fixed([row(1, name="𠮷野 家子", address="京都市〜北区")], UTF8)

    run(data)

    card = cards(1)[app_id(1)]
    assert (card.name, card.address) == ("𠮷野 家子", "京都市〜北区")


def test_the_encoding_and_format_can_be_given(run: Run) -> None:
    data = fixed([row(1)])
    assert "not UTF-8 (line 2)" in refused(run, data, "--encoding", "utf-8")
    assert "line 1 is not the header record" in refused(
        run, jlis.csv_file([row(1)]), "--format", "jlis-fixed"
    )
    assert "format: jlis-fixed (cp932)" in run(data, "--encoding", "Shift_JIS", "--format", "jlis-fixed")


def test_an_unknown_encoding_name_is_refused(run: Run) -> None:
    assert "use utf-8 or cp932" in refused(run, fixed([row(1)]), "--encoding", "latin-1")


def test_importing_the_same_file_twice_changes_nothing(run: Run) -> None:
    data = fixed([row(1), row(2)])
    run(data)
    before = {key: (card.reservation_number, card.state) for key, card in cards(1, 2).items()}
    with schema_context("kyoto"):
        events_before = CardEvent.objects.count()

    out = run(data)

    assert "imported: 0 new, 0 reissued, 2 unchanged" in out
    assert "nothing changed in the database" in out
    assert {key: (card.reservation_number, card.state) for key, card in cards(1, 2).items()} == before
    with schema_context("kyoto"):
        assert CardEvent.objects.count() == events_before


def test_a_known_application_with_other_data_is_reported_and_not_changed(run: Run) -> None:
    run(fixed([row(1), row(2)]))

    out = run(fixed([row(1), row(2, address="京都市左京区1", name="別人"), row(3)]))

    assert "imported: 1 new, 0 reissued, 2 unchanged" in out
    assert "1 existing application(s) differ from the file and were not updated" in out
    assert "3行目 application_id: 登録済みの申請と内容が異なります（氏名・住所）" in out
    assert "line 3 application_id: already registered with different data (name, address)" in out
    assert cards(2)[app_id(2)].address == row(2)["address"]
    assert app_id(3) in cards(3)


def test_a_card_without_password_can_never_log_in(run: Run) -> None:
    run(fixed([row(1)]))
    card = cards(1)[app_id(1)]
    assert card.password_digest == ""

    with schema_context("kyoto"):
        for password in ["", " ", "ABCDEFGHJK", card.password_digest]:
            with pytest.raises(LoginRefused):
                do_citizen_login(card.reservation_number, password, "203.0.113.5")
    assert not credentials.password_matches("", "")
    assert not credentials.password_matches("ABCDEFGHJK", "")


# --- with --letters: passwords now, letters printed from LETTERS.csv ----------------------------------


def test_with_letters_cards_get_passwords_and_are_recorded_as_sent(run: Run, tmp_path: Path) -> None:
    letters = tmp_path / "letters.csv"

    run(fixed([row(1), row(2)]), "--letters", str(letters))

    text = letters.read_bytes().decode("utf-8-sig").splitlines()
    assert len(text) == 3
    found = cards(1, 2)
    for line in text[1:]:
        application_id, number, password, *_ = line.split(",")
        card = found[application_id]
        assert card.reservation_number == number
        assert credentials.password_matches(password, card.password_digest)
        assert card.state == CardState.NOTICE_SENT
        assert card.notice_sent_on == timezone.localdate()
    with schema_context("kyoto"):
        moves = list(
            CardEvent.objects.filter(card=found[app_id(1)]).values_list("from_state", "to_state", "actor")
        )
    assert moves == [
        ("", "received", "import_cards"),
        ("received", "set_up", "import_cards"),
        ("set_up", "notice_sent", "import_cards"),
    ]


def test_reissue_gives_a_received_card_its_password_and_moves_it_on(run: Run, tmp_path: Path) -> None:
    run(fixed([row(1)]))

    out = run(fixed([row(1)]), "--letters", str(tmp_path / "letters.csv"), "--reissue")

    assert "imported: 0 new, 1 reissued, 0 unchanged" in out
    card = cards(1)[app_id(1)]
    assert card.state == CardState.NOTICE_SENT and card.password_digest
    with schema_context("kyoto"):
        assert list(CardEvent.objects.filter(card=card).values_list("to_state", flat=True)) == [
            "received",
            "set_up",
            "notice_sent",
        ]


def test_reissue_needs_letters(run: Run) -> None:
    assert "--reissue issues new passwords, so it needs --letters" in refused(
        run, fixed([row(1)]), "--reissue"
    )


def test_reissue_refuses_a_card_that_is_handed_over(run: Run, tmp_path: Path) -> None:
    run(fixed([row(1)]), "--letters", str(tmp_path / "first.csv"))
    with schema_context("kyoto"):
        Card.objects.filter(application_id=app_id(1)).update(state=CardState.BOOKED)
        Card.objects.filter(application_id=app_id(1)).update(state=CardState.HANDED_OVER)

    message = refused(run, fixed([row(1)]), "--letters", str(tmp_path / "second.csv"), "--reissue")

    assert "line 2 application_id: the card is handed_over: no new password can be issued" in message
    assert not (tmp_path / "second.csv").exists()


def test_a_taken_reservation_number_is_drawn_again(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run(fixed([row(1)]))
    taken = cards(1)[app_id(1)].reservation_number
    draws = iter([taken, "000000000777", "000000000778"])
    monkeypatch.setattr(credentials, "new_reservation_number", lambda: next(draws))

    run(fixed([row(2)]))

    assert cards(2)[app_id(2)].reservation_number == "000000000777"


@pytest.mark.concurrency
def test_two_imports_of_one_file_at_once_make_each_card_once(committed_kyoto: Callable[..., Any]) -> None:
    """The advisory lock: the second import waits for the first, then finds every card already there."""
    rows = card_import.parse_card_file(fixed([row(n) for n in range(1, 51)]), today=timezone.localdate()).rows
    barrier = threading.Barrier(2)

    def attempt(_: int) -> card_import.ImportResult:
        try:
            with schema_context("kyoto"):
                barrier.wait(timeout=30)
                return card_import.do_import_cards(rows, actor="racer", note="race")
        finally:
            connections.close_all()

    def scenario() -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(attempt, range(2)))
        assert sorted((result.new, result.unchanged) for result in results) == [(0, 50), (50, 0)]
        assert Card.objects.filter(application_id__startswith="4000").count() == 50
        assert CardEvent.objects.filter(actor="racer").count() == 50

    committed_kyoto(scenario)


# --- refusals: every error class, nothing imported ------------------------------------------------------


def assert_nothing_imported() -> None:
    with schema_context("kyoto"):
        assert not Card.objects.filter(application_id__startswith="4000").exists()
        assert not CardEvent.objects.filter(card__application_id__startswith="4000").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"application_id": "4000000000000000000000A"},
            "line 3 application_id: contains characters other than digits",
        ),
        ({"application_id": "4000000000 000000000001"}, "line 3 application_id: contains characters other"),
        ({"application_id": "4000000000000000000001"}, "line 3 application_id: must be 23 digits (got 22)"),
        ({"application_id": ""}, "line 3 application_id: is required"),
        ({"birth_date": "1980/4/1"}, "line 3 birth_date: not a date (YYYYMMDD)"),
        ({"birth_date": "19800230"}, "line 3 birth_date: no such date (19800230)"),
        ({"birth_date": f"{TOMORROW:%Y%m%d}"}, f"line 3 birth_date: is in the future ({TOMORROW:%Y%m%d})"),
        ({"birth_date": "18991231"}, "line 3 birth_date: is before 1900 (18991231)"),
        ({"name_kana": "きょうと たろう"}, "line 3 name_kana: must be katakana and spaces (not allowed: "),
        ({"postal_code": "604857"}, "line 3 postal_code: not a postal code (123-4567 or 1234567)"),
        ({"name": "京都\t太郎"}, "line 3 name: contains a line break, tab or other invisible character"),
        ({"address": "京都市\x07中京区"}, "line 3 address: contains a line break, tab"),
        ({"name": ""}, "line 3 name: is required"),
    ],
)
def test_a_bad_field_in_a_fixed_width_file(run: Run, changes: dict[str, str], message: str) -> None:
    message_found = refused(run, fixed([row(1), row(2, **changes), row(3)]))
    assert message in message_found
    assert "nothing was imported" in message_found
    assert_nothing_imported()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"application_id": "4.00000000000000E+22"},
            "line 3 application_id: was turned into a number by Excel",
        ),
        ({"birth_date": "1980/04/01"}, "line 3 birth_date: not a date (YYYYMMDD or YYYY-MM-DD)"),
        ({"birth_date": "1980-02-30"}, "line 3 birth_date: no such date (1980-02-30)"),
        ({"name": "京" * 101}, "line 3 name: longer than 100 characters (101)"),
        ({"name_kana": "ア" * 101}, "line 3 name_kana: longer than 100 characters (101)"),
        ({"address": "京" * 201}, "line 3 address: longer than 200 characters (201)"),
        ({"address": "京都市\n中京区"}, "line 3 address: contains a line break"),
    ],
)
def test_a_bad_field_in_a_jlis_csv(run: Run, changes: dict[str, str], message: str) -> None:
    assert message in refused(run, jlis.csv_file([row(1), row(2, **changes), row(3)], encoding=UTF8))
    assert_nothing_imported()


def test_the_csv_takes_both_date_forms(run: Run) -> None:
    run(jlis.csv_file([row(1, birth_date="1980-04-01"), row(2, birth_date="19800401")]))
    assert {card.birth_date for card in cards(1, 2).values()} == {dt.date(1980, 4, 1)}


def test_every_error_is_listed_and_the_good_rows_are_not_imported(run: Run) -> None:
    data = fixed([row(1), row(2, birth_date="19801301", postal_code="x"), row(3, name_kana="山田"), row(4)])

    message = refused(run, data)

    listed = message.splitlines()
    assert listed[0] == "3件の誤りがあります。何も取り込んでいません / 3 error(s); nothing was imported"
    assert [line.split(" / ")[1].split(":")[0] for line in listed[1:]] == [
        "line 3 birth_date",
        "line 3 postal_code",
        "line 4 name_kana",
    ]
    assert_nothing_imported()


def test_a_duplicate_application_id_names_both_records(run: Run) -> None:
    message = refused(run, fixed([row(1), row(2), row(1, name="別人")]))
    assert (
        "4行目 application_id: 2行目と同じ申請書IDです / line 4 application_id: same application_id as line 2"
        in message
    )
    assert_nothing_imported()


# --- the fixed-width layout -----------------------------------------------------------------------------


def test_a_record_of_the_wrong_width(run: Run) -> None:
    records = lines(fixed([row(1), row(2)]))
    records[2] = records[2][:-1]
    message = refused(run, joined(records))
    assert "line 3: the record is 438 bytes long, it must be 439 (a full-width character counts 2)" in message
    assert "3行目: レコードの長さが438バイトです" in message
    assert_nothing_imported()


def test_a_full_width_character_cut_by_a_field_boundary(run: Run) -> None:
    records = lines(fixed([row(1)]))
    # The name: a half-width letter and 50 kanji, 101 bytes for its 100; the kana one byte short to make up.
    name, kana, address = "a" + "京" * 50, "ｷｮｳﾄ" + " " * 95, "京都市" + " " * 194
    records[1] = "2" + app_id(1) + name + kana + "19800401" + "6048571" + address
    message = refused(run, joined(records))
    assert (
        "line 2 name: a full-width character is cut at the end of the field (the field widths are wrong)"
        in message
    )


def test_a_missing_header(run: Run) -> None:
    records = lines(fixed([row(1), row(2)]))
    message = refused(run, joined(records[1:-1] + [records[-1]]))
    assert "line 1: line 1 is not the header record (1JLISCARD01…)" in message
    assert_nothing_imported()


def test_a_missing_trailer(run: Run) -> None:
    records = lines(fixed([row(1), row(2)]))
    message = refused(run, joined(records[:-1]))
    assert "line 4: no trailer record (record type 9) at the end: is the file cut short?" in message
    assert_nothing_imported()


def test_a_trailer_whose_count_does_not_match(run: Run) -> None:
    message = refused(run, fixed([row(1), row(2), row(3)], count=5))
    assert "line 5: the trailer says 5 record(s) but the file has 3 data record(s)" in message
    assert "5行目: トレーラレコードの件数（5件）がデータレコードの数（3件）と合いません" in message
    assert_nothing_imported()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r[:2] + ["3" + r[2][1:]] + r[2:], "line 3: unknown record type '3'"),
        (lambda r: r[:2] + [""] + r[2:], "line 3: unknown record type '(empty line)'"),
        (lambda r: [*r, r[1]], "line 5: a record after the trailer record (line 4)"),
        (lambda r: r[:2] + [r[0]] + r[2:], "line 3: a header record is allowed on line 1 only"),
        (lambda r: ["1JLISCARD0120261340" + r[0][19:], *r[1:]], "line 1: the header record's creation date"),
        (lambda r: r[:-1] + ["9" + "ABCDEFGHI" + r[-1][10:]], "the trailer's record count is not 9 digits"),
    ],
)
def test_the_records_around_the_data(
    run: Run, change: Callable[[list[str]], list[str]], message: str
) -> None:
    assert message in refused(run, joined(change(lines(fixed([row(1), row(2)])))))
    assert_nothing_imported()


# --- encodings and unreadable files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n  \r\n", "the file is empty"),
        (b"PK\x03\x04rest of a workbook", "an Excel workbook (.xlsx/.xls) cannot be read; save it as CSV"),
        ("名前,所在地\r\n京都,京都市\r\n".encode(CP932), "unknown file layout"),
        (jlis.csv_file([row(1)])[:60] + b"\x81\xff\r\n", "neither UTF-8 nor Shift_JIS (cp932) (line 2)"),
        ("申請書ID,氏名\r\n".encode(), "line 1: missing column(s): 氏名カナ, 生年月日, 郵便番号, 住所"),
        (jlis.csv_file([]), "no data rows (only the header)"),
        (fixed([]), "no data records"),
    ],
)
def test_an_unreadable_file(run: Run, data: bytes, message: str) -> None:
    assert message in refused(run, data)


def test_a_staff_cards_csv_stays_utf8_only(run: Run) -> None:
    data = "application_id,name,name_kana,birth_date,postal_code,address\r\n".encode(CP932)
    data += f"{app_id(1)},京都 太郎,キョウト タロウ,1980-04-01,604-8571,京都市\r\n".encode(CP932)
    assert "not UTF-8 (line 2)" in refused(run, data)
    ascii_only = b"application_id,name,name_kana,birth_date,postal_code,address\r\n1,a,b,c,d,e\r\n"
    assert "CARDS.csv (English header) is read as UTF-8 only" in refused(
        run, ascii_only, "--encoding", "cp932"
    )


# --- the readers on their own ---------------------------------------------------------------------------


def test_sniff_answers_from_the_first_lines() -> None:
    assert jlis.sniff(fixed([row(1)])[:600]) is Layout.JLIS_FIXED
    assert jlis.sniff(jlis.csv_file([row(1)])) is Layout.JLIS_CSV
    assert jlis.sniff(b"application_id,name\r\n") is Layout.CARDS_CSV
    assert jlis.sniff(b"1JLISCARD01") is None  # no complete line yet: the worker decides
    with pytest.raises(CardImportError, match="unknown file layout"):
        jlis.sniff(b"hello\r\n")


def test_the_reference_writer_refuses_a_value_wider_than_its_field() -> None:
    with pytest.raises(ValueError, match="wider than its field"):
        fixed([row(1, name="京" * 51)])


def test_widths_are_shift_jis_bytes() -> None:
    data = fixed([row(1)])
    assert {len(record.encode(CP932)) for record in lines(data)} == {jlis.RECORD_BYTES}
    raw = jlis.read(data)
    assert raw.records[0].values["name_kana"] == "ｷｮｳﾄ ﾀﾛｳ"
    assert raw.records[0].line == 2
