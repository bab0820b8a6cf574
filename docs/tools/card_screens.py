"""Demo data and screenshots of the card screens for docs/admin-guide.md §7 (staff-17 … staff-30) and the
citizen's check-in QR code (citizen-13).

Three steps, against a database of its own (the seed refuses a tenant that already has cards):

    # 1. a fresh database with the demo tenants and a staff administrator, as `make run` makes them
    #    (infra/local/stack.py prepare_database and ensure_staff_admin), e.g. with servers you already have:
    export DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_docs \\
           REDIS_URL=redis://127.0.0.1:6379/9 EXPORT_LOCAL_DIR=/tmp/madoguchi-docs-exports
    .venv/bin/python -c 'import os, sys; sys.path.insert(0, "infra/local"); import stack; \\
        stack.prepare_database({**os.environ, "BASE_DOMAIN": "localhost"})'
    STAFF_PASSWORD='Aa1!demo-password' .venv/bin/python manage.py create_staff kyoto admin \\
        --role administrator --no-forced-change

    # 2. the cards' story up to today, through the product's services (backdated where it happened earlier)
    .venv/bin/python docs/tools/card_screens.py seed

    # 3. a web server and a Celery worker (the import and the print run are background jobs), then the walk
    .venv/bin/python manage.py runserver --noreload 127.0.0.1:8022 &
    .venv/bin/python -m celery -A madoguchi worker --concurrency 1 &
    .venv/bin/python docs/tools/card_screens.py shoot admin 'Aa1!demo-password' \\
        --base http://kyoto.localhost:8022

Seed and walk on the same weekday afternoon, Japan time (after 12:30): the counter's day is today, so the
seed's visits this morning must be in the past, and tomorrow's transfer list is cut at noon today (the
default cut). The seed:

- imports 30 applications 40 days ago (do_import_cards), sets them up and prints their letters in two runs
  (do_print_notices, files deleted afterwards), records a returned letter and a withdrawn application, and
  imports docs/examples/jlis-cards.csv today with `manage.py import_cards` (left "received");
- books cards (do_book, web and phone) for today at a counter, for tomorrow at another, for an earlier day and
  for the coming weeks, plus one phone-only visit (do_book_visit);
- confirms the transfer lists of the earlier day and of today (do_confirm_transfer), lets the call center
  cancel or move bookings after the cuts, and records check-ins, hand-overs and a no-show at the counter.

The walk then imports a J-LIS file with mistakes and the corrected one through the screen, marks the new
cards set up with the bulk screen, prints their notice letters, downloads the vendor CSV to book one of them
as a citizen (phone width, for the QR code), checks a person in at the counter, and saves each screen. It
writes docs/screenshots/staff-17-*.png … staff-30-*.png and citizen-13-checkin-qr.png; the seed's files (the
J-LIS files to upload, what the walk needs to know) go to --state (default /tmp/madoguchi-card-screens).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright
from shots import OUT, launch, saver

STATE_DIR = Path(tempfile.gettempdir()) / "madoguchi-card-screens"
REPO = Path(__file__).resolve().parents[2]
SCHEMA = "kyoto"
# Counters the seed books at, in order of preference; the first one open on the day is taken.
COUNTERS = ["center-3f", "nakagyo", "kita", "fushimi", "center-1f"]

FAMILY = [
    ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"),
    ("山口", "ヤマグチ"), ("松本", "マツモト"), ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"),
    ("清水", "シミズ"), ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"),
    ("阿部", "アベ"), ("石川", "イシカワ"), ("前田", "マエダ"), ("藤田", "フジタ"), ("岡田", "オカダ"),
    ("後藤", "ゴトウ"), ("長谷川", "ハセガワ"), ("村上", "ムラカミ"), ("近藤", "コンドウ"),
    ("石井", "イシイ"), ("坂本", "サカモト"), ("遠藤", "エンドウ"), ("青木", "アオキ"), ("藤井", "フジイ"),
    ("西村", "ニシムラ"), ("福田", "フクダ"),
]  # fmt: skip
GIVEN = [
    ("花子", "ハナコ"), ("翔太", "ショウタ"), ("美咲", "ミサキ"), ("健一", "ケンイチ"), ("由美", "ユミ"),
    ("大輔", "ダイスケ"), ("陽菜", "ヒナ"), ("誠", "マコト"), ("恵子", "ケイコ"), ("拓也", "タクヤ"),
    ("直子", "ナオコ"), ("浩二", "コウジ"), ("彩", "アヤ"), ("隆", "タカシ"), ("真由美", "マユミ"),
    ("悠斗", "ユウト"), ("幸子", "サチコ"), ("和也", "カズヤ"), ("千尋", "チヒロ"), ("修", "オサム"),
    ("明美", "アケミ"), ("蓮", "レン"), ("美穂", "ミホ"),
]  # fmt: skip
ADDRESSES = [
    ("604-8005", "京都市中京区恵比須町"), ("600-8008", "京都市下京区長刀鉾町"),
    ("603-8214", "京都市北区紫野下門前町"), ("606-0801", "京都市左京区下鴨宮河町"),
    ("605-0073", "京都市東山区祇園町北側"), ("607-8080", "京都市山科区竹鼻竹ノ街道町"),
    ("601-8001", "京都市南区東九条上殿田町"), ("615-0001", "京都市右京区西院安塚町"),
    ("610-1101", "京都市西京区大枝沓掛町"), ("612-8001", "京都市伏見区桃山町"),
    ("602-8011", "京都市上京区桝屋町"), ("616-8001", "京都市右京区太秦安井"),
]  # fmt: skip


def person(batch: int, n: int) -> dict[str, str]:
    """The n-th made-up applicant of a batch, as the J-LIS file's fields."""
    k = batch * 7 + n
    family, family_kana = FAMILY[(k * 5) % len(FAMILY)]
    given, given_kana = GIVEN[(k * 3 + batch) % len(GIVEN)]
    postal, town = ADDRESSES[(k * 7) % len(ADDRESSES)]
    flat = f" ハイツ鴨川{(k % 4) + 1}0{(k % 3) + 1}号室" if k % 5 == 0 else ""
    born = dt.date(1942 + (k * 11) % 66, (k % 12) + 1, (k * 7) % 28 + 1)
    return {
        "application_id": f"3{batch}{n + 1:021d}",
        "name": f"{family} {given}",
        "name_kana": f"{family_kana} {given_kana}",
        "birth_date": f"{born:%Y%m%d}",
        "postal_code": postal.replace("-", ""),
        "address": f"{town}{(k % 9) + 1}-{(k * 13) % 40 + 1}{flat}",
    }


# --- the seed ------------------------------------------------------------------------------------------


@dataclass
class Clock:
    """Moments relative to the seed's real 'now', in Japan time."""

    now: dt.datetime
    today: dt.date

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        from booking.lib.dates import TOKYO

        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO)

    def days_ago(self, days: int, hour: int = 10, minute: int = 0) -> dt.datetime:
        return self.at(self.today - dt.timedelta(days=days), hour, minute)


def seed(state_dir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from booking.models import Card

    clock = Clock(timezone.now(), timezone.localdate())
    if clock.now < clock.at(clock.today, 12, 30):
        raise SystemExit("run the seed after 12:30 Japan time (see the docstring)")
    state_dir.mkdir(parents=True, exist_ok=True)
    with schema_context(SCHEMA):
        if Card.objects.exists():
            raise SystemExit(f"tenant {SCHEMA} already has cards: seed a fresh database")
        with transaction.atomic():  # all or nothing, so that a failed seed can be run again
            state = _seed_tenant(clock)
    call_command("import_cards", SCHEMA, str(REPO / "docs/examples/jlis-cards.csv"))
    state.update(_upload_files(state_dir, clock.today))
    (state_dir / "state.json").write_text(json.dumps(state, ensure_ascii=False, indent=2))
    print(f"seeded; the walk's facts are in {state_dir / 'state.json'}")


def _seed_tenant(clock: Clock) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from booking.access import accounts
    from booking.audit import oplog
    from booking.cards.moves import do_move_cards
    from booking.engine import services
    from booking.engine.queries import booking_rules, free_slots
    from booking.lifecycle import counter, notices
    from booking.lifecycle import intake as card_import
    from booking.lifecycle.transfer_services import do_confirm_transfer
    from booking.lifecycle.transfers import cutoff_at
    from booking.models import Booking, Card, Place, Service
    from booking.rules.card_states import CardState
    from integrations import jlis

    admin = oplog.Actor(None, "admin", "127.0.0.1")
    clerk = oplog.Actor(None, "center01", "127.0.0.1")
    for username, role in (("center01", "counter"), ("cc01", "operator")):
        if get_user_model().objects.filter(username=username).exists():
            continue
        accounts.do_create_staff(admin, username, role, "Aa1!" + os.urandom(9).hex(), must_change=False)
    issuance = Service.objects.get(code="card_issuance")

    def slots(place: Place, first: dt.date, last: dt.date, booked_at: dt.datetime) -> list[dt.datetime]:
        return [free.starts_at for free in free_slots(place, issuance, first, last, now=booked_at)]

    def open_counter(day: dt.date, booked_at: dt.datetime, skip: tuple[str, ...] = ()) -> Place | None:
        for code in COUNTERS:
            place = Place.objects.get(code=code)
            if code not in skip and slots(place, day, day, booked_at):
                return place
        return None

    def near(place: Place, day: dt.date, booked_at: dt.datetime, hour: int, minute: int) -> dt.datetime:
        wanted = clock.at(day, hour, minute)
        return min(slots(place, day, day, booked_at), key=lambda start: abs(start - wanted))

    # 30 applications from J-LIS, 40 days ago; set up, letters printed in two runs, files deleted after.
    data = jlis.fixed_width_file([person(1, n) for n in range(30)], created_on=clock.today - dt.timedelta(41))
    parsed = card_import.parse_card_file(data, today=clock.today)
    card_import.do_import_cards(
        parsed.rows, actor="import_cards", note="J-LIS取込（import_cards）", now=clock.days_ago(40, 9, 12)
    )
    cards = list(Card.objects.order_by("application_id"))
    ids = [card.pk for card in cards]
    do_move_cards(ids[:26], CardState.SET_UP, actor="center01", note="", now=clock.days_ago(38, 15, 40))
    first = notices.do_print_notices(ids[:18] + [ids[21]], actor=admin, now=clock.days_ago(35, 10, 5))
    notices.do_delete_notice_files(first.run, actor=admin)
    second = notices.do_print_notices(ids[18:21] + ids[22:26], actor=admin, now=clock.days_ago(16, 10, 20))
    notices.do_delete_notice_files(second.run, actor=admin)
    do_move_cards(
        [ids[21]], CardState.RETURNED, actor="center01", note="宛所不明", now=clock.days_ago(31, 14)
    )
    do_move_cards([ids[26], ids[27]], CardState.SET_UP, actor="center01", note="", now=clock.days_ago(12, 11))
    do_move_cards([ids[29]], CardState.CANCELLED, actor="admin", note="申請取下げ", now=clock.days_ago(5, 16))
    cards = list(Card.objects.order_by("application_id"))  # booking reads the card's state from the object

    def book(
        i: int, place: Place, starts: dt.datetime, booked_at: dt.datetime, phone: bool = False
    ) -> Booking:
        return services.do_book(
            cards[i],
            place,
            issuance,
            starts,
            channel=Booking.Channel.PHONE if phone else Booking.Channel.WEB,
            actor="cc01" if phone else "",
            contact_phone=f"090-0000-{1000 + i}",
            contact_email="" if phone else f"demo{i}@example.jp",
            now=booked_at,
        )

    today, rules = clock.today, booking_rules()
    # Today's counter (cards 0-5) and a phone-only visit.
    booked_at = clock.days_ago(9, 19, 30)
    here = open_counter(today, booked_at)
    if here is None:
        raise SystemExit("no counter is open today: run the seed on a weekday")
    times = [(9, 30), (10, 0), (10, 30), (13, 30), (15, 0), (11, 0)]
    todays = [
        book(
            i, here, near(here, today, booked_at, *hm), booked_at + dt.timedelta(minutes=7 * i), phone=i == 4
        )
        for i, hm in enumerate(times)
    ]
    visit = services.do_book_visit(
        here,
        Service.objects.get(code="ecert_renewal"),
        near(here, today, booked_at, 11, 30),
        caller_name_kana="オオタ ミツル",
        contact_phone="090-0000-2001",
        actor="cc01",
        now=clock.days_ago(6, 14, 10),
    )
    # Tomorrow's list at another counter (cards 6-10), cut at noon today; else today's at another counter.
    day_after = today + dt.timedelta(days=1)
    booked_at = clock.days_ago(8, 20, 15)
    cut_passed = clock.now >= cutoff_at(day_after, rules)
    there = open_counter(day_after, booked_at, skip=(here.code,)) if cut_passed else None
    list_day = day_after
    if there is None:
        list_day, there = today, open_counter(today, booked_at, skip=(here.code,))
    assert there is not None, "no second counter is open"
    tomorrows = [
        book(
            i, there, near(there, list_day, booked_at, 2 * i - 3, 15), booked_at + dt.timedelta(minutes=5 * i)
        )
        for i in range(6, 11)
    ]
    # An earlier day: one card handed over, one never collected (overdue).
    earlier = None
    for back in range(1, 8):
        candidate = today - dt.timedelta(days=back)
        if slots(here, candidate, candidate, clock.at(candidate - dt.timedelta(days=9), 12)):
            earlier = candidate
            break
    if earlier is not None:
        booked_at = clock.at(earlier - dt.timedelta(days=9), 12)
        old = [
            book(i, here, near(here, earlier, booked_at, h, 0), booked_at) for i, h in ((11, 10), (12, 14))
        ]
        do_confirm_transfer(here, earlier, actor=clerk, now=clock.at(earlier, 8, 40))
        counter.do_hand_over(old[0], actor=clerk, now=old[0].slot.starts_at + dt.timedelta(minutes=6))
    # The coming weeks.
    booked_at = clock.days_ago(3, 21)
    for i, code in ((13, "center-3f"), (14, "kita"), (15, "fushimi")):
        place = Place.objects.get(code=code)
        starts = slots(place, today + dt.timedelta(days=6), today + dt.timedelta(days=20), booked_at)[3]
        book(i, place, starts, booked_at + dt.timedelta(hours=i - 12), phone=i == 14)
    # Today's list confirmed this morning; then the call center cancels card 5 (moved already: to bring back).
    do_confirm_transfer(here, today, actor=clerk, now=clock.at(today, 8, 30))
    services.do_cancel_booking(
        todays[5], channel=Booking.Channel.PHONE, actor="cc01", now=clock.at(today, 8, 50)
    )
    # After the other list is cut: one cancelled, one moved to a later day (both still in the back office).
    cut = cutoff_at(list_day, rules)
    gap = (clock.now - cut) / 3
    services.do_cancel_booking(tomorrows[3], channel=Booking.Channel.PHONE, actor="cc01", now=cut + gap)
    later = slots(there, today + dt.timedelta(days=7), today + dt.timedelta(days=21), cut + 2 * gap)[0]
    services.do_move_booking(
        tomorrows[4],
        there,
        later,
        service=issuance,
        channel=Booking.Channel.PHONE,
        actor="cc01",
        now=cut + 2 * gap,
    )
    # The counter this morning: two hand-overs, a no-show, the phone-only visit served.
    for booking in todays[:2]:
        start = booking.slot.starts_at
        counter.do_check_in(booking, actor=clerk, now=start - dt.timedelta(minutes=4))
        counter.do_hand_over(booking, actor=clerk, now=start + dt.timedelta(minutes=9))
    counter.do_mark_no_show(todays[2], actor=clerk, now=todays[2].slot.starts_at + dt.timedelta(minutes=40))
    counter.do_hand_over(visit, actor=clerk, now=visit.slot.starts_at + dt.timedelta(minutes=12))
    return {
        "counter_place": here.pk,
        "counter_day": today.isoformat(),
        "transfer_place": there.pk,
        "transfer_day": list_day.isoformat(),
        "detail_card": cards[0].application_id,
        "check_in": cards[3].reservation_number,
    }


def _upload_files(state_dir: Path, today: dt.date) -> dict[str, Any]:
    """Today's J-LIS file (fixed width, Shift_JIS) and an earlier draft of it with three mistakes (CSV)."""
    from integrations import jlis

    batch = [person(2, n) for n in range(24)]
    good = state_dir / f"JLIS_CARD_{today:%Y%m%d}.txt"
    good.write_bytes(jlis.fixed_width_file(batch, created_on=today))
    draft = [dict(row) for row in batch]
    draft[4]["birth_date"] = "19801301"
    draft[9]["postal_code"] = "60480"
    draft[15]["name_kana"] = "もり たかし"
    bad = state_dir / f"JLIS_CARD_{today:%Y%m%d}.csv"
    bad.write_bytes(jlis.csv_file(draft))
    return {
        "upload_good": str(good),
        "upload_bad": str(bad),
        "new_ids": [row["application_id"] for row in batch],
    }


# --- the walk ------------------------------------------------------------------------------------------

shot = saver("staff")
citizen_shot = saver("citizen")


def shot_1280(page: Page, name: str) -> None:
    """A full-page shot cut at the viewport's width: the page is wider when something overflows it (here the
    screen-reader text of the buttons in a scrolled table), which would otherwise widen the shot."""
    height = page.evaluate("document.documentElement.scrollHeight")
    clip: Any = {"x": 0, "y": 0, "width": 1280, "height": height}  # playwright's FloatRect, when installed
    page.screenshot(path=str(OUT / f"staff-{name}.png"), full_page=True, clip=clip)
    print(f"saved staff-{name}.png ({page.url})")


def wait_for(page: Page, url: str, finished: str, seconds: int = 90) -> None:
    """Reload a job's page until it says it is finished (the page also reloads itself)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page.goto(url)
        if page.get_by_text(finished).count():
            return
        page.wait_for_timeout(1000)
    raise SystemExit(f"{url} did not finish: is the Celery worker running?")


def walk(base: str, username: str, password: str, state: dict[str, Any]) -> None:
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page.goto(base + "/staff/login/")
        page.get_by_label("ユーザーID").fill(username)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="ログイン").click()
        _import(page, base, state)
        _bulk(page, base, state)
        password_of = _notices(page, base)
        _citizen(browser.new_page(viewport={"width": 360, "height": 740}, locale="ja-JP"), base, password_of)
        page.goto(base + "/staff/cards/")
        shot(page, "17-cards")
        page.goto(base + "/staff/cards/list/?q=" + "山")  # the list's search: part of a name in kanji
        shot(page, "30-card-list")
        page.get_by_label("カードを探す（バーコード読取または申請書ID・予約番号を入力）").fill(
            state["detail_card"]
        )
        page.get_by_role("button", name="表示", exact=True).first.click()
        shot(page, "18-card")
        counter_list = f"place={state['counter_place']}&day={state['counter_day']}"
        page.goto(f"{base}/staff/transfers/?place={state['transfer_place']}&day={state['transfer_day']}")
        shot(page, "24-transfers")
        page.goto(f"{base}/staff/transfers/?place=all&day={state['transfer_day']}")  # every counter at once
        shot(page, "29-transfers-all")
        page.goto(f"{base}/staff/transfers/?{counter_list}")
        # The last table's action column is off to the right at 1280 px: scroll it into view, as staff would.
        page.locator(".table-scroll").last.evaluate("table => { table.scrollLeft = table.scrollWidth; }")
        shot_1280(page, "28-transfers-return")
        page.goto(f"{base}/staff/counter/?{counter_list}")
        page.get_by_label("受付: QRコードを読み取るか、予約番号（12桁）を入力").fill(state["check_in"])
        page.get_by_role("button", name="受付する").click()
        shot(page, "25-counter")
        page.goto(base + "/staff/settings/cards/")
        shot(page, "26-settings-cards")
        browser.close()


def _import(page: Page, base: str, state: dict[str, Any]) -> None:
    for path, finished, name in (
        (state["upload_bad"], "取込できませんでした", "27-card-import-errors"),
        (state["upload_good"], "取込が完了しました", "21-card-import-job"),
    ):
        page.goto(base + "/staff/cards/import/")
        page.get_by_label("取込ファイル").set_input_files(path)
        page.get_by_role("button", name="取り込む").click()
        wait_for(page, page.url, finished)
        shot(page, name)
    page.goto(base + "/staff/cards/import/")
    shot(page, "20-card-import")


def _bulk(page: Page, base: str, state: dict[str, Any]) -> None:
    numbers = state["new_ids"][:20]
    page.goto(base + "/staff/cards/move/")
    page.get_by_label("変更後の状態").select_option("set_up")
    # As scanned from the card envelopes, one of them twice.
    page.get_by_label(re.compile("申請書IDまたは予約番号")).fill("\n".join([*numbers, numbers[6]]))
    page.get_by_role("button", name="確認する").click()
    shot(page, "19-cards-bulk")  # the double scan is shown with its line; nothing can be moved yet
    page.get_by_label(re.compile("申請書IDまたは予約番号")).fill("\n".join(numbers))
    page.get_by_role("button", name="確認する").click()
    page.get_by_role("button", name=re.compile("枚を「交付前設定済み」にする")).click()


def _notices(page: Page, base: str) -> dict[str, dict[str, str]]:
    """Print every set-up card's letter; the vendor CSV's passwords by application ID."""
    page.goto(base + "/staff/notices/")
    shot(page, "22-notices")
    page.get_by_label(re.compile("交付前設定済みで、まだ印刷していないカードすべて")).check()
    page.get_by_role("button", name="印刷する枚数を確認する").click()
    page.get_by_role("button", name=re.compile("通を印刷する")).click()
    wait_for(page, page.url, "印刷用のファイルができました")
    shot(page, "23-notice-run")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("印刷業者用CSV")).click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return {row["application_id"]: row for row in csv.DictReader(io.StringIO(text))}


def _citizen(page: Page, base: str, letters: dict[str, dict[str, str]]) -> None:
    """A resident books with a new letter and sees the check-in QR code on the page that confirms it."""
    letter = next(iter(letters.values()))
    page.goto(base + "/")
    page.get_by_role("link", name="予約する・予約を確認／変更／取消する").click()
    page.get_by_label("予約番号（12桁）").fill(letter["reservation_number"])
    page.get_by_label("パスワード").fill(letter["password"])
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("link", name="予約する").click()
    page.get_by_role("link", name="マイナンバーカードの交付").click()
    page.get_by_role("link", name="マイナンバーカードセンター（下京）3階").click()
    if page.locator("td.free a").count() == 0:
        page.get_by_role("link", name="次の月").click()
    page.locator("td.free a").first.click()
    page.locator(".time-list button").nth(3).click()
    page.get_by_label("電話番号").fill("090-0000-3001")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    page.get_by_role("button", name="確認へ進む").click()
    page.get_by_role("button", name="この内容で予約を確定する").click()
    citizen_shot(page, "13-checkin-qr")
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--state", type=Path, default=STATE_DIR, help="where the seed leaves its files")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="the demo data, in a tenant without cards")
    shoot = commands.add_parser("shoot", help="walk the screens and save the screenshots")
    shoot.add_argument("username")
    shoot.add_argument("password")
    shoot.add_argument("--base", default="http://kyoto.localhost:8022")
    args = parser.parse_args()
    if args.command == "seed":
        seed(args.state)
    else:
        walk(args.base, args.username, args.password, json.loads((args.state / "state.json").read_text()))


if __name__ == "__main__":
    main()
