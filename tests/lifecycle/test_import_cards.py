"""`manage.py import_cards` turns CARDS.csv into cards and LETTERS.csv, all or nothing (BK-03).

Since the J-LIS intake (AD-03) `--letters` is optional: without it cards wait "received" without a password
for the notice run; with it they get their passwords at once and are recorded as moved on to "notice_sent".
J-LIS files themselves are tested in test_jlis_import.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import stat
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tenants.utils import schema_context
from pytest_django import DjangoCaptureOnCommitCallbacks

from booking.cards.credentials import password_matches
from booking.lifecycle import intake as card_import
from booking.lifecycle import intake_letters
from booking.models import Card, CardEvent
from booking.rules.card_states import CardState
from tests.conftest import Tenants

pytestmark = pytest.mark.django_db

HEADER = list(card_import.COLUMNS)
BOM = "\ufeff"
RunImport = Callable[..., str]


def app_id(n: int) -> str:
    return f"{20_000_000_000_000_000_000_000 + n:023d}"


def person(n: int, **changes: str) -> dict[str, str]:
    row = {
        "application_id": app_id(n),
        "name": f"京都 太郎{n}",
        "name_kana": "キョウト タロウ",
        "birth_date": "1980-04-01",
        "postal_code": "604-8571",
        "address": f"京都市中京区寺町通御池上る上本能寺前町{n}",
    }
    return row | changes


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    header = header or HEADER
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([row.get(column, "") for column in header] for row in rows)
    return buffer.getvalue()


def read_letters(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


@pytest.fixture
def cards_file(tmp_path: Path) -> Callable[..., Path]:
    def write(rows: list[dict[str, str]], header: list[str] | None = None, name: str = "cards.csv") -> Path:
        path = tmp_path / name
        path.write_text(csv_text(rows, header), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_import(
    tenants: Tenants, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> RunImport:
    """The command, with the test transaction's on-commit callbacks run as if it had committed."""

    def run(cards: Path, letters: Path, *options: str, schema: str = "kyoto") -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_cards", schema, str(cards), "--letters", str(letters), *options, stdout=out)
        return out.getvalue()

    return run


def cards_in(schema: str, *numbers: int) -> dict[str, Card]:
    with schema_context(schema):
        return {
            card.application_id: card for card in Card.objects.filter(application_id__in=map(app_id, numbers))
        }


# --- importing ------------------------------------------------------------------------------------------


def test_imports_new_cards_and_writes_letters_that_log_in(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    rows = [person(1), person(2), person(3)]
    letters = tmp_path / "letters.csv"
    out = run_import(cards_file(rows), letters)

    assert "取込: 新規 3件、再発行 0件、変更なし 0件 / imported: 3 new, 0 reissued, 0 unchanged" in out
    assert str(letters) in out
    assert stat.S_IMODE(letters.stat().st_mode) == 0o600
    cards = cards_in("kyoto", 1, 2, 3)
    assert len(cards) == 3
    written = read_letters(letters)
    assert [row["application_id"] for row in written] == [app_id(1), app_id(2), app_id(3)]
    for letter, source in zip(written, rows, strict=True):
        card = cards[letter["application_id"]]
        assert letter["reservation_number"] == card.reservation_number
        assert len(card.reservation_number) == 12
        assert password_matches(letter["password"], card.password_digest)
        assert letter["name"] == card.name == source["name"]
        assert letter["postal_code"] == card.postal_code == "604-8571"
        assert letter["address"] == card.address == source["address"]
        assert (card.name_kana, card.birth_date) == ("キョウト タロウ", dt.date(1980, 4, 1))
    assert len({row["password"] for row in written}) == 3


def test_cards_with_letters_are_recorded_as_sent_with_their_history(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    run_import(cards_file([person(1)]), tmp_path / "letters.csv")

    card = cards_in("kyoto", 1)[app_id(1)]
    assert (card.state, card.notice_sent_on) == (CardState.NOTICE_SENT, timezone.localdate())
    with schema_context("kyoto"):
        history = list(
            CardEvent.objects.filter(card=card).values_list("from_state", "to_state", "actor", "note")
        )
    assert history == [
        ("", "received", "import_cards", "CARDS.csv取込（import_cards）"),
        ("received", "set_up", "import_cards", "CARDS.csv取込（import_cards）"),
        ("set_up", "notice_sent", "import_cards", "CARDS.csv取込（import_cards）"),
    ]


def test_without_letters_cards_wait_received_without_a_password(
    tenants: Tenants, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    out = StringIO()
    call_command("import_cards", "kyoto", str(cards_file([person(1), person(2)])), stdout=out)

    assert "imported: 2 new, 0 reissued, 0 unchanged" in out.getvalue()
    assert "2 card(s) are 'received' without a password" in out.getvalue()
    for card in cards_in("kyoto", 1, 2).values():
        assert (card.state, card.password_digest) == (CardState.RECEIVED, "")
    assert list(tmp_path.iterdir()) == [tmp_path / "cards.csv"]


def test_accepts_a_bom_and_normalises_what_excel_and_people_type(
    run_import: RunImport, tmp_path: Path
) -> None:
    full_width_id = app_id(4).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    row = person(4, application_id=full_width_id, name_kana="ｷｮｳﾄ　ﾀﾛｳ", postal_code="6048571")
    cards = tmp_path / "cards.csv"
    cards.write_bytes((BOM + csv_text([row])).encode("utf-8"))

    run_import(cards, tmp_path / "letters.csv")

    card = cards_in("kyoto", 4)[app_id(4)]
    assert (card.name_kana, card.postal_code) == ("キョウト タロウ", "604-8571")


def test_reimporting_the_same_file_changes_nothing(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    cards = cards_file([person(1), person(2)])
    run_import(cards, tmp_path / "first.csv")
    before = {
        key: (card.reservation_number, card.password_digest) for key, card in cards_in("kyoto", 1, 2).items()
    }

    out = run_import(cards, tmp_path / "second.csv")

    assert "imported: 0 new, 0 reissued, 2 unchanged" in out
    assert "nothing changed" in out
    assert not (tmp_path / "second.csv").exists()
    after = {
        key: (card.reservation_number, card.password_digest) for key, card in cards_in("kyoto", 1, 2).items()
    }
    assert after == before


def test_a_known_application_is_not_updated_without_reissue(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    run_import(cards_file([person(1)]), tmp_path / "first.csv")
    moved = cards_file([person(1, address="京都市左京区1"), person(2)], name="moved.csv")

    out = run_import(moved, tmp_path / "second.csv")

    assert "imported: 1 new, 0 reissued, 1 unchanged" in out
    assert "1 existing application(s) differ from the file" in out
    assert cards_in("kyoto", 1)[app_id(1)].address == person(1)["address"]
    assert [row["application_id"] for row in read_letters(tmp_path / "second.csv")] == [app_id(2)]


def test_reissue_gives_a_new_password_keeps_the_number_and_updates_the_data(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    run_import(cards_file([person(1)]), tmp_path / "first.csv")
    [old] = read_letters(tmp_path / "first.csv")
    moved = cards_file([person(1, address="京都市左京区1", postal_code="606-8501")], name="moved.csv")

    out = run_import(moved, tmp_path / "second.csv", "--reissue")

    assert "imported: 0 new, 1 reissued, 0 unchanged" in out
    [new] = read_letters(tmp_path / "second.csv")
    card = cards_in("kyoto", 1)[app_id(1)]
    assert new["reservation_number"] == old["reservation_number"] == card.reservation_number
    assert password_matches(new["password"], card.password_digest)
    assert not password_matches(old["password"], card.password_digest)
    assert (card.address, card.postal_code) == ("京都市左京区1", "606-8501")
    assert (new["address"], new["postal_code"]) == ("京都市左京区1", "606-8501")


def test_importing_into_kyoto_creates_nothing_in_mihon(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    run_import(cards_file([person(1), person(2)]), tmp_path / "letters.csv")

    assert len(cards_in("kyoto", 1, 2)) == 2
    assert cards_in("mihon", 1, 2) == {}


def test_the_same_application_can_be_imported_into_another_tenant(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    cards = cards_file([person(1)])
    run_import(cards, tmp_path / "kyoto.csv")

    out = run_import(cards, tmp_path / "mihon.csv", schema="mihon")

    assert "imported: 1 new" in out
    assert (
        cards_in("mihon", 1)[app_id(1)].reservation_number
        == read_letters(tmp_path / "mihon.csv")[0]["reservation_number"]
    )


# --- the letters file -----------------------------------------------------------------------------------


def test_letter_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    row = person(1, name='=HYPERLINK("http://evil.example","x")', address="@SUM(A1)+1")
    run_import(cards_file([row, person(2, name="-1+2", address="+81 京都")]), tmp_path / "letters.csv")

    first, second = read_letters(tmp_path / "letters.csv")
    assert first["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert first["address"] == "'@SUM(A1)+1"
    assert (second["name"], second["address"]) == ("'-1+2", "'+81 京都")
    assert cards_in("kyoto", 1)[app_id(1)].name == row["name"]  # the database keeps what was given


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_escape_cell_prefixes_formula_starts(value: str) -> None:
    assert intake_letters.escape_cell(value) == "'" + value
    assert intake_letters.escape_cell("京都 " + value) == "京都 " + value


def test_refuses_to_overwrite_letters_without_force(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    letters = tmp_path / "letters.csv"
    letters.write_text("printed last week\n", encoding="utf-8")
    letters.chmod(0o644)
    cards = cards_file([person(1)])

    with pytest.raises(CommandError, match="already exists; use --force"):
        run_import(cards, letters)
    assert letters.read_text(encoding="utf-8") == "printed last week\n"
    assert cards_in("kyoto", 1) == {}

    run_import(cards, letters, "--force")
    assert [row["application_id"] for row in read_letters(letters)] == [app_id(1)]
    assert stat.S_IMODE(letters.stat().st_mode) == 0o600


def test_refuses_to_write_the_letters_over_the_cards_file(
    run_import: RunImport, cards_file: Callable[..., Path]
) -> None:
    cards = cards_file([person(1)])
    with pytest.raises(CommandError, match="must not be the cards file"):
        run_import(cards, cards, "--force")
    assert cards_in("kyoto", 1) == {}


def test_letters_are_written_only_when_the_transaction_commits(
    tenants: Tenants,
    cards_file: Callable[..., Path],
    tmp_path: Path,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    letters = tmp_path / "letters.csv"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command(
            "import_cards",
            "kyoto",
            str(cards_file([person(1)])),
            "--letters",
            str(letters),
            stdout=StringIO(),
        )
        assert not letters.exists()  # the test's transaction is still open
    assert len(callbacks) == 1
    assert not letters.exists()


# --- refusals: nothing is imported, no letters are written ----------------------------------------------


TOMORROW = (timezone.localdate() + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"application_id": "123"}, "line 3 application_id: must be 23 digits (got 3)"),
        (
            {"application_id": app_id(9)[:-1] + "A"},
            "line 3 application_id: contains characters other than digits",
        ),
        (
            {"application_id": "2.00000000000000E+22"},
            "line 3 application_id: was turned into a number by Excel",
        ),
        ({"birth_date": "1980/04/01"}, "line 3 birth_date: not a date (YYYY-MM-DD)"),
        ({"birth_date": "1980-02-30"}, "line 3 birth_date: no such date (1980-02-30)"),
        ({"birth_date": TOMORROW}, f"line 3 birth_date: is in the future ({TOMORROW})"),
        ({"birth_date": "1899-12-31"}, "line 3 birth_date: is before 1900"),
        ({"name_kana": "やまだ たろう"}, "line 3 name_kana: must be katakana and spaces"),
        ({"name_kana": "Yamada"}, "line 3 name_kana: must be katakana and spaces"),
        ({"postal_code": "604-857"}, "line 3 postal_code: not a postal code (123-4567 or 1234567)"),
        ({"postal_code": "604ー8571"}, "line 3 postal_code: not a postal code"),
        ({"name": ""}, "line 3 name: is required"),
        ({"name": "　 "}, "line 3 name: is required"),
        ({"name": "京" * 101}, "line 3 name: longer than 100 characters (101)"),
        ({"address": ""}, "line 3 address: is required"),
        ({"address": "京" * 201}, "line 3 address: longer than 200 characters (201)"),
        ({"address": "京都市\n中京区"}, "line 3 address: contains a line break"),
    ],
)
def test_a_bad_field_is_reported_with_its_line_and_nothing_is_imported(
    run_import: RunImport,
    cards_file: Callable[..., Path],
    tmp_path: Path,
    changes: dict[str, str],
    message: str,
) -> None:
    letters = tmp_path / "letters.csv"
    with pytest.raises(CommandError) as refused:
        run_import(cards_file([person(1), person(2, **changes), person(3)]), letters)

    assert message in str(refused.value)
    field = message.split()[2].rstrip(":")
    assert f"3行目 {field}: " in str(refused.value)
    assert "nothing was imported" in str(refused.value)
    assert cards_in("kyoto", 1, 2, 3) == {}
    assert not letters.exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([c for c in HEADER if c != "name_kana"], "line 1: missing column(s): name_kana"),
        ([*HEADER, "phone"], "line 1: unknown column(s): phone"),
        ([*HEADER, ""], "line 1: unknown column(s): (7列目: 空欄)"),
        ([*HEADER, "name"], "line 1: repeated column(s): name"),
    ],
)
def test_a_bad_header_is_refused(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path, header: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_import(cards_file([person(1)], header=header), tmp_path / "letters.csv")
    assert cards_in("kyoto", 1) == {}


def test_a_header_in_another_order_is_fine(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    run_import(cards_file([person(1)], header=list(reversed(HEADER))), tmp_path / "letters.csv")
    assert cards_in("kyoto", 1)[app_id(1)].name == person(1)["name"]


def test_a_duplicate_application_id_names_both_lines(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(CommandError) as refused:
        run_import(cards_file([person(1), person(2), person(1, name="別人")]), tmp_path / "letters.csv")
    assert "4行目 application_id: 2行目と同じ申請書IDです" in str(refused.value)
    assert "line 4 application_id: same application_id as line 2" in str(refused.value)
    assert cards_in("kyoto", 1, 2) == {}


def test_every_error_is_listed_and_two_good_rows_are_not_imported(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    rows = [person(1), person(2, birth_date="1980-13-01", postal_code="x"), person(3, name_kana="山田")]
    rows.append(person(4))
    letters = tmp_path / "letters.csv"
    with pytest.raises(CommandError) as refused:
        run_import(cards_file(rows), letters)

    lines = str(refused.value).splitlines()
    assert lines[0] == "3件の誤りがあります。何も取り込んでいません / 3 error(s); nothing was imported"
    assert [line.split(" / ")[1].split(":")[0] for line in lines[1:]] == [
        "line 3 birth_date",
        "line 3 postal_code",
        "line 4 name_kana",
    ]
    assert cards_in("kyoto", 1, 2, 3, 4) == {}
    assert not letters.exists()


def test_a_row_with_the_wrong_number_of_cells_is_reported(run_import: RunImport, tmp_path: Path) -> None:
    cards = tmp_path / "cards.csv"
    cards.write_text(csv_text([person(1)]) + "1,2,3\r\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 3: has 3 cells, the header has 6"):
        run_import(cards, tmp_path / "letters.csv")
    assert cards_in("kyoto", 1) == {}


def test_blank_lines_are_skipped_but_counted(run_import: RunImport, tmp_path: Path) -> None:
    cards = tmp_path / "cards.csv"
    text = (
        csv_text([person(1)]) + "\r\n,,,,,\r\n" + csv_text([person(2, postal_code="1")]).split("\r\n", 1)[1]
    )
    cards.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match="line 5 postal_code"):
        run_import(cards, tmp_path / "letters.csv")


@pytest.mark.parametrize("schema", ["osaka", "public"])
def test_an_unknown_schema_is_refused(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path, schema: str
) -> None:
    with pytest.raises(CommandError, match=f"no tenant with schema '{schema}' \\(known: kyoto, mihon"):
        run_import(cards_file([person(1)]), tmp_path / "letters.csv", schema=schema)
    assert not (tmp_path / "letters.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "the file is empty"),
        (BOM.encode() + b"\r\n \r\n", "the file is empty"),
        (",".join(HEADER).encode() + b"\r\n", r"no data rows \(only the header\)"),
        (csv_text([person(1)]).encode("shift_jis"), r"not UTF-8 \(line 2\)"),
        (csv_text([person(1)]).encode() + b'1,"unterminated\r\n', r"line 3: not valid CSV"),
    ],
)
def test_an_unreadable_file_is_refused(
    run_import: RunImport, tmp_path: Path, content: bytes | None, message: str
) -> None:
    cards = tmp_path / "cards.csv"
    if content is not None:
        cards.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run_import(cards, tmp_path / "letters.csv")
    assert cards_in("kyoto", 1) == {}
    assert not (tmp_path / "letters.csv").exists()


def test_a_missing_letters_directory_is_refused_before_importing(
    run_import: RunImport, cards_file: Callable[..., Path], tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="no such directory"):
        run_import(cards_file([person(1)]), tmp_path / "nowhere" / "letters.csv")
    assert cards_in("kyoto", 1) == {}
